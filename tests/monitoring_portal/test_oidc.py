"""OpenID Connect sign-in against a real provider process, driven through headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from monitoring_portal import roles
from monitoring_portal.groupmap import parse
from monitoring_portal.models import Team
from tests.services.browser import CHROMIUM, CHROMIUM_ARGS
from tests.services.oidc_provider.run import Provider, run_provider
from tests.services.required import require_service

VAR_TEST = Path(__file__).resolve().parents[2] / "var" / "test"
PASSWORD = "idp-secret-123"
DORA = {
    "username": "dora",
    "password": PASSWORD,
    "email": "dora@example.org",
    "first_name": "Dora",
    "last_name": "Marquez",
    # Keycloak-style groups claim; "unrelated" is in no mapping and must grant nothing.
    "groups": ["portal-admins", "team-storage", "unrelated"],
}
GROUP_MAP = "portal-admins=role:admin,cc-ops=role:operator,team-storage=team:storage"


@pytest.fixture
def provider(live_server: LiveServer) -> Iterator[Provider]:
    yield from run_provider(VAR_TEST, live_server.url, DORA)


def use_provider(settings: Settings, provider: Provider) -> None:
    settings.OIDC_OP_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
    settings.OIDC_GROUP_MAP = parse(GROUP_MAP, roles=roles.ROLES)
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
        "monitoring_portal.oidc.PortalOIDCBackend",
    ]
    # The live server speaks plain HTTP.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.mark.django_db(transaction=True)
def test_sso_signs_in_with_team_and_role_and_logout_ends_the_idp_session(
    live_server: LiveServer, settings: Settings, provider: Provider
) -> None:
    require_service("Chromium", os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing")
    from playwright.sync_api import expect, sync_playwright

    storage = Team.objects.create(name="storage")
    use_provider(settings, provider)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{live_server.url}/login/")
            page.get_by_role("link", name="Sign in with SSO").click()
            # The provider's own login form: the portal never sees the password.
            page.fill("#idp-username", "dora")
            page.fill("#idp-password", PASSWORD)
            page.get_by_role("button", name="Sign in to the IdP").click()
            page.wait_for_url(f"{live_server.url}/")
            expect(page.get_by_role("button", name="Log out")).to_be_visible()

            dora = User.objects.get(username="dora")
            assert (dora.first_name, dora.last_name, dora.email) == ("Dora", "Marquez", "dora@example.org")
            assert list(storage.members.all()) == [dora]
            assert roles.roles_of(dora) == {roles.ADMIN}

            page.get_by_role("button", name="Log out").click()
            page.wait_for_url(f"{live_server.url}/login/**")
            # The IdP's session ended too: SSO asks for the password again instead of waving through.
            page.get_by_role("link", name="Sign in with SSO").click()
            expect(page.locator("#idp-username")).to_be_visible()
        finally:
            connections.close_all()
            browser.close()


@pytest.mark.django_db
def test_login_page_offers_sso_only_when_configured_and_local_login_can_be_switched_off(
    settings: Settings,
) -> None:
    settings.OIDC_OP_ISSUER = ""
    page = Client().get("/login/").content.decode()
    assert "Sign in with SSO" not in page and 'name="password"' in page

    settings.OIDC_OP_ISSUER = "https://idp.example.org/realms/ops"
    settings.LOCAL_LOGIN = False
    settings.LDAP_SERVER_URI = ""  # no directory either: no password is taken at all
    User.objects.create_user("local", password="local-secret-123")
    client = Client()
    page = client.get("/login/").content.decode()
    assert "Sign in with SSO" in page and 'name="password"' not in page
    assert client.post("/login/", {"username": "local", "password": "local-secret-123"}).status_code == 405
    assert client.get("/profile/").status_code == 302  # not signed in


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("portal-admins=role:root", "unknown role 'root'"),
        ("portal-admins=admin", "not GROUP=role:NAME"),
        ("cc-ops=group:ops", "must be 'role' or 'team'"),
    ],
)
def test_group_map_refuses_bad_entries_naming_the_variable(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"OIDC_GROUP_MAP: .*{message}"):
        parse(text, roles=roles.ROLES, name="OIDC_GROUP_MAP")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/oidc/authenticate/", "/oidc/callback/"])
def test_sso_urls_answer_404_while_sso_is_not_configured(settings: Settings, path: str) -> None:
    """Not a server error from the library (and an error page) for a portal without SSO."""
    settings.OIDC_OP_ISSUER = ""
    response = Client().get(path)
    assert response.status_code == 404
    assert "Single sign-on is not configured" in response.content.decode()
