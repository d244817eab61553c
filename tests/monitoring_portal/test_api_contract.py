"""The API contract: every operation of the OpenAPI schema, fuzzed against the portal itself.

schemathesis generates requests from /api/schema/ (valid ones and deliberately invalid ones)
and sends them in-process to the portal's WSGI app as staff through a bearer token. Each
response must be no server error and have a documented status code, content type and body
shape, and a request the schema calls invalid must be refused (4xx), not accepted; any
violation fails the run. Methods the schema does not list get one TRACE per path.

Each operation is one test with its own database transaction (rolled back after it), over a
small registry whose nodes point at a throw-away directory under var/test. Deploys are
requested (rows are written) but never run: their Celery task is enqueued on commit, and the
test's transaction never commits, so a fuzzed node cannot make the portal write files or run
commands anywhere.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from pytest_django.fixtures import Settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from monitoring_portal.models import APIToken, Team
from registry.models import NaemonNode
from tests.scenarios import Site

ROOT = Path(__file__).resolve().parents[2]

#: Examples per operation in the fuzzing phase: enough to reach every documented status code
#: of an operation, few enough that all of them fit in a few minutes on a 2-core machine.
MAX_EXAMPLES = 10

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # A request the schema says is invalid must be refused (4xx), not quietly accepted.
    negative_data_rejection,
]


@cache
def openapi_document() -> dict[str, Any]:
    """The schema /api/schema/ serves, as JSON (it depends on code only, not on the database)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return dict(json.loads(OpenApiJsonRenderer().render(document)))


CONFIG = schemathesis.Config.from_dict(
    {
        # Fixed seed + deterministic generation: CI sends the same requests on every run.
        "seed": 20260412,
        # Examples from the schema, then generated requests (valid and invalid ones). The
        # coverage phase (boundary values of every parameter) sends ~100 requests per
        # operation, which does not fit the time budget; methods the schema does not list are
        # checked below, one TRACE per path.
        "phases": {"coverage": {"enabled": False}},
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",
        },
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)
schema.app = get_wsgi_application()  # requests go to the portal in-process, through WSGI


@schema.hook("map_query")
def _no_long_waits(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """``?wait=N`` sleeps N seconds on deployments that never run here: keep valid waits at 0.

    Out-of-range and non-numeric waits stay as generated: they must still be a 400.
    """
    if query and isinstance(query.get("wait"), int) and 0 < query["wait"] <= 120:
        return {**query, "wait": 0}
    return query


#: Requests sent, for the figures printed at the end (operations, requests, failures).
SENT = {"requests": 0}


@schema.hook("after_call")
def _count(context: Any, case: schemathesis.Case, response: schemathesis.Response) -> None:
    SENT["requests"] += 1


@pytest.fixture(scope="module", autouse=True)
def _figures(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many requests the contract test sent (a CI log line, also when tests fail)."""
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and SENT["requests"]:
        with capture.global_and_fixture_disabled():
            print(f"\nAPI contract: {SENT['requests']} requests sent", flush=True)


@pytest.fixture
def contract_site(db: None, settings: Settings, team: Team, other_team: Team) -> Iterator[tuple[Site, str]]:
    """The test registry, its nodes' paths under a throw-away var/test directory, and a staff token."""
    scratch = ROOT / "var" / "test" / f"contract-{id(settings)}"
    scratch.mkdir(parents=True, exist_ok=True)
    settings.ALLOWED_HOSTS = ["*"]
    site = Site(team, other_team)
    for node in NaemonNode.objects.all():
        base = scratch / node.name
        node.config_dir = str(base / "portal.d")
        node.main_config = str(base / "naemon.cfg")
        node.notify_dir = str(base / "notify")
        node.livestatus = f"unix:{base / 'live.sock'}"  # nothing listens: nodes are unreachable
        node.save()
    staff = User.objects.create_user("contract-staff", "staff@example.org", "staff-pass-1234", is_staff=True)
    secret = APIToken.issue(staff, "contract")[1]
    # The WSGI handler closes the database connection after each request, which would end the
    # test's transaction; Django's own test client unhooks the same signal handlers.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield site, secret
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.services
@schema.parametrize()
@hypothesis.settings(deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_api_contract(case: schemathesis.Case, contract_site: tuple[Site, str]) -> None:
    _, secret = contract_site
    case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)


@pytest.mark.services
def test_undeclared_methods_are_405(contract_site: tuple[Site, str]) -> None:
    """A method no operation of a path declares (TRACE) is a 405 naming the allowed ones."""
    _, secret = contract_site
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    answers = {}
    for path in openapi_document()["paths"]:
        url = re.sub(r"\{[^}]*\}", "1", path)  # any value that routes: the method is checked first
        # A query string the path does not take must not turn the 405 into a 400.
        response = client.generic("TRACE", f"{url}?limit=1&offset=0")
        answers[url] = (response.status_code, "Allow" in response.headers)
    wrong = {url: answer for url, answer in answers.items() if answer != (405, True)}
    assert answers and not wrong, wrong


@pytest.mark.django_db
def test_unrouted_api_path_is_a_json_404(owner: User) -> None:
    """A path parameter that does not fit its route (an id that is not a number) is JSON, not a page."""
    client = Client()
    client.force_login(owner)
    response = client.get("/api/v1/preferences/rules/not-a-number/")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}
    assert "text/html" in client.get("/no-such-page/").headers["Content-Type"]
