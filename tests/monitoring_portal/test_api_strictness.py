"""The API refuses what its OpenAPI schema calls invalid, instead of quietly making sense of it.

Each class of request schemathesis's negative-data check found accepted: a JSON value of another
type than documented (DRF coerces ``0`` to ``"0"`` and ``"yes"`` to ``True``), a write without a
body (read as ``{}``), a query parameter given twice or a boolean that is not ``true``/``false``
(django-filter ignores it), and form bodies where the schema documents JSON only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from monitoring_portal.models import Team
from preferences.models import NotificationRule
from registry.models import ContactGroup, Host, NaemonNode
from tests.monitoring_portal.test_api_contract import openapi_document
from tests.scenarios import Site

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User | None], APIClient]


@pytest.fixture
def site(team: Team, other_team: Team) -> Site:
    return Site(team, other_team)


@pytest.fixture
def api(api_client_for: ClientFor, staff: User) -> APIClient:
    return api_client_for(staff)


# --- JSON types: what the schema documents, not what DRF can coerce into it ---


def test_a_number_is_not_a_name(api: APIClient, site: Site) -> None:
    response = api.post("/api/v1/registry/contactgroups/", {"name": 0, "alias": "Zero"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["name"] == ["Expected a string, not a number."]
    assert not ContactGroup.objects.filter(name="0").exists()


def test_a_string_is_not_a_number(api: APIClient, site: Site) -> None:
    response = api.patch("/api/v1/registry/hosts/web01/", {"max_check_attempts": "7"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["max_check_attempts"] == ["Expected an integer, not a string."]
    assert Host.objects.get(name="web01").max_check_attempts != 7


@pytest.mark.parametrize("value", ["yes", 0, "false"])
def test_a_boolean_is_true_or_false(api: APIClient, site: Site, value: Any) -> None:
    response = api.patch("/api/v1/registry/nodes/poller1/", {"enabled": value}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["enabled"][0].startswith("Expected a boolean (true or false)")
    assert NaemonNode.objects.get(name="poller1").enabled is True


def test_list_items_are_checked_too(api_client_for: ClientFor, owner: User) -> None:
    response = api_client_for(owner).post(
        "/api/v1/preferences/rules/", {"action": "suppress", "hosts": ["web01", 7]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["hosts"] == {"1": ["Expected a string, not a number."]}
    assert not NotificationRule.objects.exists()


def test_acknowledge_options_are_booleans(api: APIClient, site: Site) -> None:
    """A livestatus action's flags: ``"no"`` must not become ``True`` (it would notify everyone)."""
    response = api.post(
        "/api/v1/livestatus/actions/acknowledge/",
        {"host": "web01", "comment": "on it", "notify": "no"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["notify"][0].startswith("Expected a boolean")


# --- a write needs a body; {} is a body ---


def test_put_without_a_body_creates_nothing(api: APIClient, site: Site) -> None:
    response = api.generic("PUT", "/api/v1/registry/contactgroups/newgroup/")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "A JSON body is required."}
    assert not ContactGroup.objects.filter(name="newgroup").exists()
    # {} is a body: a PATCH changing nothing is fine.
    assert api.patch("/api/v1/registry/contactgroups/admins/", {}, format="json").status_code == 200
    # A method the path does not take stays a 405, with or without a body.
    assert api.generic("PUT", "/api/v1/registry/deployments/").status_code == 405


def test_post_without_a_body_is_refused(api_client_for: ClientFor, owner: User) -> None:
    response = api_client_for(owner).generic("POST", "/api/v1/preferences/rules/")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": "A JSON body is required."}
    assert not NotificationRule.objects.exists()


# --- query parameters: each once, booleans as the schema writes them ---


def test_a_filter_given_twice_is_refused(api_client_for: ClientFor, owner: User) -> None:
    NotificationRule.objects.create(user=owner, action="suppress", enabled=False)
    client = api_client_for(owner)
    response = client.get("/api/v1/preferences/rules/?enabled=true&enabled=false")
    assert response.status_code == 400, response.content
    assert response.json() == {"enabled": ["Given more than once; this parameter takes one value."]}
    # An array parameter (the schema says so) may repeat.
    assert client.get("/api/v1/registry/deployments/?state=pending&state=failed").status_code == 200


@pytest.mark.parametrize("value", ["null", "yes", "1"])
def test_a_boolean_filter_is_true_or_false(api: APIClient, site: Site, value: str) -> None:
    response = api.get(f"/api/v1/registry/nodes/?enabled={value}")
    assert response.status_code == 400, response.content
    assert response.json() == {"enabled": ["Expected true or false."]}
    assert [n["name"] for n in api.get("/api/v1/registry/nodes/?enabled=false").json()["results"]] == []


def test_paging_given_twice_is_refused(api: APIClient, site: Site) -> None:
    response = api.get("/api/v1/registry/hosts/?limit=1&limit=1000")
    assert response.status_code == 400, response.content
    assert "limit" in response.json()


def test_unknown_parameters_are_refused_on_every_list(api: APIClient, team: Team) -> None:
    """Teams and tokens use the default filter backend: it is the strict one too."""
    response = api.get("/api/v1/accounts/teams/?nmae=web")
    assert response.status_code == 400, response.content
    assert "nmae" in response.json()


def test_a_query_given_twice_is_refused_outside_filters(api_client_for: ClientFor, owner: User) -> None:
    response = api_client_for(owner).get("/api/v1/preferences/who/?host=web01&host=db01&state=DOWN")
    assert response.status_code == 400, response.content
    assert "host" in response.json()


def test_the_status_api_takes_each_parameter_once_too(api_client_for: ClientFor, owner: User) -> None:
    """Live lists and the object detail check their parameters with the same helper as the rest."""
    client = api_client_for(owner)
    response = client.get("/api/v1/livestatus/services/?host=web01&host=db01")
    assert response.status_code == 400, response.content
    assert response.json() == {"host": ["Given more than once; this parameter takes one value."]}
    # state is an array in the schema: it may repeat.
    assert client.get("/api/v1/livestatus/problems/?state=down&state=critical").status_code == 200
    response = client.get("/api/v1/livestatus/hosts/web01/?history_limit=1&history_limit=2")
    assert response.status_code == 400, response.content
    assert response.json() == {"history_limit": ["Given more than once; this parameter takes one value."]}


# --- JSON only ---


@pytest.mark.parametrize("form", ["multipart", "urlencoded"])
def test_form_bodies_are_unsupported(api_client_for: ClientFor, owner: User, form: str) -> None:
    client = api_client_for(owner)
    if form == "multipart":
        response = client.post("/api/v1/preferences/rules/", {"action": "suppress"}, format="multipart")
    else:
        response = client.generic(
            "POST", "/api/v1/preferences/rules/", "action=suppress", "application/x-www-form-urlencoded"
        )
    assert response.status_code == 415, response.content
    assert not NotificationRule.objects.exists()


#: Writes that also take YAML: preferences as code (a person's profile as a YAML document).
YAML_TOO = {("put", "/api/v1/preferences/export/")}
YAML_TYPES = ["application/json", "application/yaml", "application/x-yaml", "text/yaml"]


def test_schema_says_what_the_code_does() -> None:
    """Every write's body is required, JSON only (YAML too where said), and may be answered 415."""
    bodies = [
        (path, method, operation)
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert bodies
    wrong = [
        (method, path)
        for path, method, operation in bodies
        if not operation["requestBody"].get("required")
        or list(operation["requestBody"]["content"])
        != (YAML_TYPES if (method, path) in YAML_TOO else ["application/json"])
        or "415" not in operation["responses"]
    ]
    assert wrong == []
