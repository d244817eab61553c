"""Login, profile page and personal API tokens (hashed, shown once, revocable)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from monitoring_portal.models import APIToken

pytestmark = pytest.mark.django_db


def test_login_page_and_login(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/login/", {"username": "owner", "password": "owner-pass-1234", "csrfmiddlewaretoken": csrf}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_login_without_csrf_is_refused(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "owner", "password": "owner-pass-1234"})
    assert response.status_code == 403


def test_wrong_password_stays_on_login(owner: User) -> None:
    response = Client().post("/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


@pytest.mark.parametrize("url", ["/", "/profile/", "/registry/", "/status/", "/notifications/"])
def test_pages_need_login(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_logout_is_post_only(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def _create_token_via_page(client: Client, name: str = "ansible") -> str:
    response = client.post("/profile/", {"name": name}, follow=True)  # post/redirect/get
    assert response.redirect_chain == [("/profile/", 302)]
    match = re.search(rb'id="new-token-secret">([^<]+)<', response.content)
    assert match, "the new token is shown once on the page"
    assert response["Cache-Control"] == "no-store"
    return match.group(1).decode()


def test_token_created_on_profile_is_shown_once_and_stored_hashed(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    secret = _create_token_via_page(client)
    token = APIToken.objects.get(user=owner)
    assert secret not in {token.digest, token.prefix}
    assert token.digest == APIToken.hash(secret)
    assert not APIToken.objects.filter(digest=secret).exists()
    listing = client.get("/profile/")
    assert secret.encode() not in listing.content
    assert token.prefix.encode() in listing.content


def test_bearer_token_authenticates_api_and_revocation_stops_it(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    secret = _create_token_via_page(client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    me = api.get("/api/v1/accounts/tokens/")
    assert me.status_code == 200
    assert me.json()["results"][0]["name"] == "ansible"
    assert APIToken.objects.get(user=owner).last_used_at is not None

    token = APIToken.objects.get(user=owner)
    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/accounts/tokens/").status_code == 401


def test_cannot_revoke_someone_elses_token(owner: User, outsider: User) -> None:
    token, _ = APIToken.issue(owner, "mine")
    client = Client()
    client.force_login(outsider)
    assert client.post(f"/profile/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.is_active


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-token", "Bearer a b", "Bearer mpt_\xe9"])
def test_bad_bearer_headers_get_401(header: str) -> None:
    response = APIClient().get("/api/v1/accounts/tokens/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_expired_token_is_refused(owner: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _, secret = APIToken.issue(owner, "old", expires_at=timezone.now() - timedelta(seconds=1))
    response = APIClient().get("/api/v1/accounts/tokens/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401


def test_api_token_lifecycle_only_touches_own_tokens(api_client_for, owner: User, outsider: User) -> None:
    api = api_client_for(owner)
    created = api.post("/api/v1/accounts/tokens/", {"name": "ci"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith("mpt_")
    assert api.get(f"/api/v1/accounts/tokens/{body['id']}/").json().get("token") is None

    other = api_client_for(outsider)
    assert other.get(f"/api/v1/accounts/tokens/{body['id']}/").status_code == 404
    assert other.delete(f"/api/v1/accounts/tokens/{body['id']}/").status_code == 404
    assert APIToken.objects.get(pk=body["id"]).is_active

    assert api.delete(f"/api/v1/accounts/tokens/{body['id']}/").status_code == 204
    assert not APIToken.objects.get(pk=body["id"]).is_active
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert fresh.get("/api/v1/accounts/tokens/").status_code == 401


def test_session_api_write_needs_csrf(owner: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/api/v1/accounts/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    ("persona", "status"),
    [("anonymous", 401), ("outsider", 200), ("owner", 200), ("staff", 200)],
)
def test_teams_are_readable_by_authenticated_users(
    api_client_for, request, persona: str, status: int
) -> None:
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    request.getfixturevalue("owner")
    response = api_client_for(user).get("/api/v1/accounts/teams/")
    assert response.status_code == status
    if status == 200:
        names = {t["name"]: t for t in response.json()["results"]}
        assert names["web"]["members"] == ["owner"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_teams_api_is_read_only(api_client_for, staff: User, team, method: str) -> None:
    response = getattr(api_client_for(staff), method)(
        "/api/v1/accounts/teams/web/", {"name": "x"}, format="json"
    )
    assert response.status_code == 405


def test_admin_is_for_staff_only(owner: User, staff: User) -> None:
    client = Client()
    client.force_login(owner)
    assert client.get("/admin/").status_code == 302
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


# Each would forge or hide a log line: the token's name is written into deployments'
# triggered_by, the action log and the log lines about them.
FORGING_NAMES = [
    "ci\n2026-01-01 00:00:00 INFO deploy confirmed by admin",
    "ci\rX",
    "ci\x00",
    "ci\x1b[31m",
    "ci\x7f",
    "ci\x85next",  # NEXT LINE (C1)
    "ci\u2028next",
    "ci\u2029next",
    "ci\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE
    "c\u200bi",  # zero-width space
    "\ufeffci",
    "ci\tnightly",
]


@pytest.mark.parametrize("name", FORGING_NAMES)
def test_token_names_that_would_forge_log_lines_are_refused_by_the_api(
    owner: User, api_client_for: Any, name: str
) -> None:
    api = api_client_for(owner)
    before = APIToken.objects.count()
    response = api.post("/api/v1/accounts/tokens/", {"name": name}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()) == ["name"]
    assert "character" in response.json()["name"][0]  # ours, or DRF's own for NUL
    assert APIToken.objects.count() == before


@pytest.mark.parametrize("name", FORGING_NAMES)
def test_token_names_that_would_forge_log_lines_are_refused_on_the_profile_page(
    owner: User, name: str
) -> None:
    client = Client()
    client.force_login(owner)
    response = client.post("/profile/", {"name": name})
    assert response.status_code == 400
    page = response.content.decode()
    assert "without such characters" in page or "Null characters are not allowed" in page  # Django's, for NUL
    assert not APIToken.objects.filter(user=owner).exists()


def test_plain_token_names_are_kept(owner: User, api_client_for: Any) -> None:
    response = api_client_for(owner).post(
        "/api/v1/accounts/tokens/", {"name": "ansible on bastion1 (prod) für Jörg"}
    )
    assert response.status_code == 201
    assert response.json()["name"] == "ansible on bastion1 (prod) für Jörg"
    assert APIToken.objects.filter(user=owner, name="ansible on bastion1 (prod) für Jörg").exists()


@pytest.mark.parametrize("name", [0, True, ["ci"], {"n": "ci"}])
def test_a_token_name_must_be_a_string(owner: User, api_client_for: Any, name: Any) -> None:
    response = api_client_for(owner).post("/api/v1/accounts/tokens/", {"name": name}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["name"]
    assert APIToken.objects.filter(user=owner).count() == 1  # only the client's own token
