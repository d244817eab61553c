"""Read-only API tokens: every write endpoint of /api/v1/ refuses them, reads still work.

The endpoints come from the URL resolver, not from a list in this file, so a new endpoint
(or a new method on an old one) is covered the day it is added.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from monitoring_portal.authentication import BearerTokenAuthentication
from monitoring_portal.models import APIToken, Team

pytestmark = pytest.mark.django_db

UNSAFE = ("post", "put", "patch", "delete")
API_PREFIX = "api/v1/"


@dataclass(frozen=True)
class Endpoint:
    url: str
    methods: frozenset[str]
    view: Any
    has_kwargs: bool


def _methods(callback: Any) -> frozenset[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset route: exactly the methods it maps
        return frozenset(actions)
    cls = callback.cls
    return frozenset(m for m in cls.http_method_names if hasattr(cls, m) and m not in ("options", "head"))


def _walk(resolver: URLResolver, prefix: str) -> Iterator[tuple[URLResolver, str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        else:
            yield resolver, prefix, entry


def api_endpoints() -> list[Endpoint]:
    """Every URL pattern under /api/v1/, made concrete with placeholder values ("1")."""
    found: dict[str, Endpoint] = {}
    for resolver, prefix, pattern in _walk(get_resolver(), ""):
        full = prefix + str(pattern.pattern).lstrip("^")
        if not full.startswith(API_PREFIX):
            continue
        names = list(pattern.pattern.regex.groupindex)
        if "format" in names:  # the ".json" twin of another route, same view
            continue
        kwargs = dict.fromkeys(names, "1")
        # Reverse inside the including resolver by callback: names are not unique across
        # routers (Django accepts a view here; the stubs say str).
        url = "/" + prefix + resolver.reverse(pattern.callback, **kwargs)  # type: ignore[arg-type]
        found[url] = Endpoint(url, _methods(pattern.callback), pattern.callback, bool(names))
    return sorted(found.values(), key=lambda e: e.url)


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.fixture
def read_only_staff_client(staff: User) -> APIClient:
    _, secret = APIToken.issue(staff, "inventory", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def read_write_staff_client(staff: User) -> APIClient:
    _, secret = APIToken.issue(staff, "ansible")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_the_walk_finds_the_api() -> None:
    """If the resolver walk broke, the test below would pass on nothing."""
    unsafe = {e.url for e in api_endpoints() if e.methods & set(UNSAFE)}
    for expected in (
        "/api/v1/accounts/tokens/",
        "/api/v1/accounts/tokens/1/",
        "/api/v1/registry/hosts/1/",
        "/api/v1/registry/bulk/hosts/",
        "/api/v1/livestatus/actions/acknowledge/",
        "/api/v1/preferences/rules/",
    ):
        assert expected in unsafe, f"{expected} not found among {sorted(unsafe)}"


def test_every_api_view_authenticates_with_bearer_tokens() -> None:
    """The read-only check lives in the authentication class: no API view may do without it."""
    for endpoint in api_endpoints():
        cls = getattr(endpoint.view, "cls", None)
        assert cls is not None and issubclass(cls, APIView), f"{endpoint.url} is not a DRF view"
        assert BearerTokenAuthentication in cls.authentication_classes, endpoint.url


def test_read_only_token_cannot_write_anywhere(
    read_only_staff_client: APIClient,
    staff: User,
    team: Team,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    staff.is_superuser = True  # the strongest user there is: nothing else may stop the writes
    staff.save()
    token = APIToken.objects.get(user=staff)
    tried = []
    before = row_counts()
    with django_capture_on_commit_callbacks() as callbacks:
        for endpoint in api_endpoints():
            for method in sorted(endpoint.methods & set(UNSAFE)):
                response = getattr(read_only_staff_client, method)(
                    endpoint.url, {"name": "x", "hosts": [], "team": team.name}, format="json"
                )
                where = f"{method.upper()} {endpoint.url}"
                assert response.status_code == 403, (
                    f"{where}: {response.status_code} {response.content[:200]!r}"
                )
                assert "read-only" in response.json()["detail"], where
                tried.append(where)
    assert callbacks == [], "nothing may be enqueued"
    assert row_counts() == before
    token.refresh_from_db()
    assert token.is_active  # DELETE /tokens/<its pk>/ did not revoke it
    assert len(tried) > 20


def test_read_only_token_still_reads(read_only_staff_client: APIClient, staff: User) -> None:
    listing = read_only_staff_client.get("/api/v1/accounts/tokens/")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["read_only"] is True
    assert read_only_staff_client.get("/api/v1/registry/hosts/").status_code == 200
    assert read_only_staff_client.options("/api/v1/registry/hosts/").status_code == 200
    for endpoint in api_endpoints():
        if "get" in endpoint.methods and not endpoint.has_kwargs:
            response = read_only_staff_client.get(endpoint.url)
            # Some reads need query parameters (400) or a Livestatus node (5xx is not ours to judge
            # here); what matters is that the token is accepted.
            assert response.status_code not in (401, 403), f"GET {endpoint.url}: {response.status_code}"


def test_read_only_token_cannot_create_tokens(read_only_staff_client: APIClient, staff: User) -> None:
    response = read_only_staff_client.post("/api/v1/accounts/tokens/", {"name": "escalate"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "This token is read-only: POST is not allowed with it."
    assert APIToken.objects.filter(user=staff).count() == 1


def test_normal_token_of_the_same_user_still_writes(
    read_write_staff_client: APIClient,
    staff: User,
    team: Team,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    created = read_write_staff_client.post(
        "/api/v1/accounts/tokens/", {"name": "dashboards", "read_only": True}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["read_only"] is True
    new = APIToken.objects.get(user=staff, name="dashboards")
    assert new.read_only
    assert new.digest == APIToken.hash(created.json()["token"])

    with django_capture_on_commit_callbacks():  # the deploy is not the point here
        response = read_write_staff_client.put(
            "/api/v1/registry/hostgroups/web/", {"team": "web"}, format="json"
        )
    assert response.status_code in (200, 201, 202), response.content

    # The token it just made is read-only.
    limited = APIClient()
    limited.credentials(HTTP_AUTHORIZATION=f"Bearer {created.json()['token']}")
    assert limited.get("/api/v1/registry/hostgroups/web/").status_code == 200
    assert limited.delete("/api/v1/registry/hostgroups/web/").status_code == 403


def test_tokens_default_to_read_write(read_write_staff_client: APIClient) -> None:
    created = read_write_staff_client.post("/api/v1/accounts/tokens/", {"name": "ci"}, format="json")
    assert created.status_code == 201
    assert created.json()["read_only"] is False


def test_profile_page_creates_a_read_only_token(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get("/profile/")
    assert b'name="read_only"' in page.content
    csrf = client.cookies["csrftoken"].value
    assert client.post("/profile/", {"name": "inventory", "read_only": "on"}).status_code == 403  # no CSRF
    assert not APIToken.objects.filter(user=owner).exists()

    response = client.post(
        "/profile/", {"name": "inventory", "read_only": "on", "csrfmiddlewaretoken": csrf}, follow=True
    )
    assert response.status_code == 200
    match = re.search(rb'id="new-token-secret">([^<]+)<', response.content)
    assert match
    token = APIToken.objects.get(user=owner)
    assert token.read_only
    assert b"token-read-only" in response.content  # shown as read-only in the list

    client.post("/profile/", {"name": "ansible", "csrfmiddlewaretoken": csrf})
    assert not APIToken.objects.get(user=owner, name="ansible").read_only

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {match.group(1).decode()}")
    assert api.get("/api/v1/accounts/tokens/").status_code == 200
    assert api.delete(f"/api/v1/accounts/tokens/{token.pk}/").status_code == 403
