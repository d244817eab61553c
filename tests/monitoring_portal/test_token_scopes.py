"""Roles and token scopes, end to end: the operator acts on every object and writes no registry;
a scoped token (actions only, registry writes in some host groups) does less than its user, never more.

The same against a real core: tests/livestatus/test_operator_role.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from livestatus.models import ActionLog
from monitoring_portal.models import APIToken, Team, TokenScope
from registry.models import Host, HostGroup
from tests.scenarios import Site


def bearer(user: User, **scope: Any) -> APIClient:
    """An API client with a new token of ``user`` (``scope``: APIToken.issue's keywords)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {APIToken.issue(user, 'scoped', **scope)[1]}")
    return client


# -- what a scope takes away -------------------------------------------------------------------


def test_a_scoped_token_never_exceeds_its_user(viewer: User, owner: User, site: Site, deploys: Any) -> None:
    # A viewer's actions token: the viewer may not act, so neither may the token.
    refused = bearer(viewer, scope=TokenScope.ACTIONS).post(
        "/api/v1/livestatus/actions/recheck/", {"host": "web01"}, format="json"
    )
    assert refused.status_code == 403
    assert not ActionLog.objects.exists()
    # A web member's token for the db group: the member does not own db01.
    api = bearer(owner, scope=TokenScope.HOSTGROUPS, hostgroups=["db"])
    assert (
        api.patch("/api/v1/registry/hosts/db01/", {"address": "192.0.2.7"}, format="json").status_code == 403
    )
    assert Host.objects.get(name="db01").address != "192.0.2.7"


# -- the host-groups token --------------------------------------------------------------------------


def test_hostgroups_token_writes_only_in_its_groups(
    staff: User, site: Site, deploys: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Even staff's token: it writes web's hosts and services, nothing else."""
    api = bearer(staff, scope=TokenScope.HOSTGROUPS, hostgroups=["web"])
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.patch("/api/v1/registry/hosts/web01/", {"address": "192.0.2.10"}, format="json")
    assert ok.status_code in (200, 202), ok.content
    assert Host.objects.get(name="web01").address == "192.0.2.10"

    db_address = Host.objects.get(name="db01").address
    refused = api.patch("/api/v1/registry/hosts/db01/", {"address": "192.0.2.11"}, format="json")
    assert refused.status_code == 403
    assert "registry writes in web" in refused.json()["detail"]
    assert Host.objects.get(name="db01").address == db_address

    created = api.put(
        "/api/v1/registry/hosts/db02/",
        {"address": "192.0.2.12", "hostgroups": ["db"], "templates": ["generic-host"]},
        format="json",
    )
    assert created.status_code == 403
    assert not Host.objects.filter(name="db02").exists()

    joined = api.patch("/api/v1/registry/hosts/web01/", {"hostgroups": ["web", "shared"]}, format="json")
    assert joined.status_code == 403
    assert "may add only to host groups web, not shared" in joined.json()["detail"]
    assert set(Host.objects.get(name="web01").hostgroups.values_list("name", flat=True)) == {"web"}

    for url in ("/api/v1/registry/commands/check-unused/", "/api/v1/registry/hostgroups/db/"):
        assert api.delete(url).status_code == 403, url
    assert HostGroup.objects.filter(name="db").exists()
    assert (
        api.post("/api/v1/livestatus/actions/recheck/", {"host": "web01"}, format="json").status_code == 403
    )
    assert not ActionLog.objects.exists()


# -- creating scoped tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"read_only": True, "scope": "actions"}, "scope"),
        ({"scope": "hostgroups"}, "hostgroups"),
        ({"scope": "actions", "hostgroups": ["web"]}, "hostgroups"),
        ({"scope": "everything"}, "scope"),
        ({"scope": "hostgroups", "hostgroups": ["web\nforged"]}, "hostgroups"),
    ],
)
def test_bad_scopes_are_a_400_naming_the_field(
    owner: User, api_client_for: Callable[[User | None], APIClient], body: dict[str, Any], field: str
) -> None:
    api = api_client_for(owner)
    response = api.post("/api/v1/accounts/tokens/", {"name": "bad", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not APIToken.objects.filter(name="bad").exists()


def test_api_creates_a_scoped_token(owner: User, api_client_for: Callable[[User | None], APIClient]) -> None:
    response = api_client_for(owner).post(
        "/api/v1/accounts/tokens/",
        {"name": "ansible", "scope": "hostgroups", "hostgroups": ["web"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["scope"], response.json()["hostgroups"]) == ("hostgroups", ["web"])
    token = APIToken.objects.get(name="ansible")
    assert (token.scope, token.hostgroups) == (TokenScope.HOSTGROUPS, ["web"])


def test_profile_page_creates_and_lists_scoped_tokens(owner: User, team: Team) -> None:
    page = Client()
    page.force_login(owner)
    form = page.get("/profile/").content.decode()
    assert 'name="scope"' in form and 'value="actions"' in form and 'name="hostgroups"' in form

    response = page.post(
        "/profile/", {"name": "puppet", "scope": "hostgroups", "hostgroups": "web, web-extra"}
    )
    assert response.status_code == 302  # post/redirect/get
    token = APIToken.objects.get(name="puppet")
    assert (token.scope, token.hostgroups) == ("hostgroups", ["web", "web-extra"])
    page.post("/profile/", {"name": "night shift", "scope": "actions"})
    listing = page.get("/profile/").content.decode()
    assert re.search(r'token-scope">registry writes in web, web-extra<', listing)
    assert re.search(r'token-scope">actions only<', listing)

    refused = page.post("/profile/", {"name": "odd", "scope": "hostgroups", "hostgroups": ""})
    assert refused.status_code == 400
    assert "needs at least one host group" in refused.content.decode()
    assert not APIToken.objects.filter(name="odd").exists()
