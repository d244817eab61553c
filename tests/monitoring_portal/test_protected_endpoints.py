"""/metrics, /api/schema/ and the Swagger UI: who may read them, per setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

TOKEN = "prometheus-scrape-secret-0123456789"
SCHEMA = "/api/schema/"
SWAGGER = "/api/schema/swagger-ui/"


def metrics(client: Client, **headers: str) -> Any:
    return client.get("/metrics", headers=headers)


@pytest.mark.django_db
def test_metrics_need_the_token_by_default(settings: Settings, owner: User, staff: User) -> None:
    settings.METRICS_TOKEN = TOKEN
    anonymous = metrics(Client())
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert "METRICS_TOKEN" in anonymous.content.decode()
    assert b"django_http" not in anonymous.content
    assert metrics(Client(), Authorization="Bearer wrong-token").status_code == 401
    assert metrics(Client(), Authorization=f"Basic {TOKEN}").status_code == 401
    scraped = metrics(Client(), Authorization=f"Bearer {TOKEN}")
    assert scraped.status_code == 200 and b"# TYPE" in scraped.content
    user = Client()
    user.force_login(owner)
    assert metrics(user).status_code == 401  # an ordinary login is not enough
    admin = Client()
    admin.force_login(staff)
    assert metrics(admin).status_code == 200


@pytest.mark.django_db
def test_without_a_token_configured_no_bearer_opens_metrics(settings: Settings) -> None:
    settings.METRICS_TOKEN = ""
    assert metrics(Client(), Authorization="Bearer ").status_code == 401
    assert metrics(Client(), Authorization="Bearer anything").status_code == 401


@pytest.mark.django_db
def test_metrics_public_opens_them_to_anyone(settings: Settings) -> None:
    settings.METRICS_PUBLIC = True
    assert metrics(Client()).status_code == 200


@pytest.mark.django_db
def test_schema_and_swagger_need_a_login_by_default(
    settings: Settings, owner: User, api_client_for: Callable[[User | None], Any]
) -> None:
    assert settings.API_DOCS_PUBLIC is False
    assert Client().get(SCHEMA).status_code == 401
    page = Client().get(SWAGGER)
    assert page.status_code == 302 and page["Location"].startswith("/login/?next=/api/schema/swagger-ui/")
    assert api_client_for(owner).get(SCHEMA).status_code == 200  # automation: a token
    browser = Client()
    browser.force_login(owner)
    assert browser.get(SCHEMA).status_code == 200
    assert browser.get(SWAGGER).status_code == 200


@pytest.mark.django_db
def test_api_docs_public_opens_schema_and_swagger(settings: Settings) -> None:
    settings.API_DOCS_PUBLIC = True
    assert Client().get(SCHEMA).status_code == 200
    assert Client().get(SWAGGER).status_code == 200
