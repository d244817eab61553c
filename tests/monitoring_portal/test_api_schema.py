"""OpenAPI schema is valid (warnings are errors) and the docs are served locally."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_schema_validates_with_warnings_as_errors() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            "/dev/null",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_schema_documents_bearer_auth_and_token_endpoints(owner) -> None:
    client = Client()
    client.force_login(owner)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "/api/v1/accounts/tokens/" in schema["paths"]


@pytest.mark.django_db
def test_swagger_ui_uses_local_assets_only(owner) -> None:
    client = Client()
    client.force_login(owner)
    page = client.get("/api/schema/swagger-ui/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui-dist" in html
    # Every asset the page names is the portal's own (same origin): datacentres have no
    # outbound internet, so any absolute or protocol-relative URL would be a broken page.
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|["']([^"'\s]+\.(?:js|css))["']""", html)
    urls = [u for pair in assets for u in pair if u]
    assert any("swagger-ui-dist" in u for u in urls), urls
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "://" not in html.replace("http://testserver", ""), "an absolute URL in the page"


@pytest.mark.django_db
def test_api_root_lists_the_areas(owner) -> None:
    client = Client()
    client.force_login(owner)
    body = client.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert set(body) >= {"accounts", "registry", "livestatus", "preferences", "schema"}
    assert Client().get("/api/v1/", HTTP_ACCEPT="application/json").status_code in (401, 403)


@pytest.mark.django_db
def test_every_operation_documents_its_error_answers(owner) -> None:
    """Scripts can rely on the schema for errors too: every operation lists the standard ones."""
    client = Client()
    client.force_login(owner)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [
        op
        for item in schema["paths"].values()
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]
    assert len(operations) > 100
    for operation in operations:
        assert {"400", "401", "403", "404", "405", "429"} <= set(operation["responses"]), operation[
            "operationId"
        ]
    hosts = schema["paths"]["/api/v1/registry/hosts/{name}/"]
    assert {"409", "412"} <= set(hosts["put"]["responses"]) and "412" in hosts["delete"]["responses"]
    # The plain error is allowed where an operation has its own body for the code.
    assert {"$ref": "#/components/schemas/Error"} in hosts["delete"]["responses"]["409"]["content"][
        "application/json"
    ]["schema"]["anyOf"]
    components = schema["components"]["schemas"]
    assert components["Deployment"]["properties"]["covered_by"]["nullable"] is True
    assert components["NotificationProfile"]["properties"]["updated_at"]["nullable"] is True
