"""The operator role (the control room) against a real core: acts on every team's objects,
changes no registry; an actions-only token does the same and nothing else; the pages show
operators the action buttons and viewers none.

Actions go to the status tests' Icinga 2 (``tests.livestatus.fixtures``); what the core got is
read back from it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from livestatus.client import LivestatusClient
from livestatus.models import ActionLog
from monitoring_portal.models import APIToken, TokenScope
from preferences.models import NotificationRule
from registry.models import Host, NaemonNode
from tests.livestatus.fixtures import service_state, wait_for
from tests.monitoring_portal.test_token_scopes import bearer

pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services


# -- the operator and the actions-only token, against a real core ---------------------------------


def test_operator_acknowledges_another_teams_object_and_cannot_change_the_registry(
    operator: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    api = bearer(operator)
    target = {"host": "web-01", "service": "crit-me"}
    response = api.post(
        "/api/v1/livestatus/actions/acknowledge/", {**target, "comment": "on it"}, format="json"
    )
    assert response.status_code == 201, response.content
    try:
        wait_for(lambda: service_state(live, "web-01", "crit-me", "acknowledged")["acknowledged"], "the ack")
        assert ActionLog.objects.get().user == operator
    finally:
        # The server is shared (see tests.livestatus.fixtures): crit-me goes back to unacknowledged,
        # by the operator's own right to remove an acknowledgement.
        removed = api.post("/api/v1/livestatus/actions/remove-acknowledgement/", target, format="json")
        assert removed.status_code == 201, removed.content
        wait_for(
            lambda: not service_state(live, "web-01", "crit-me", "acknowledged")["acknowledged"], "no ack"
        )

    before = Host.objects.get(name="web-01").address
    edit = api.patch("/api/v1/registry/hosts/web-01/", {"address": "192.0.2.9"}, format="json")
    assert edit.status_code == 403
    assert Host.objects.get(name="web-01").address == before


def test_actions_only_token_acts_and_changes_nothing_else(
    operator: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    api = bearer(operator, scope=TokenScope.ACTIONS)
    response = api.post(
        "/api/v1/livestatus/actions/comment/",
        # Not in the registry at all: only staff and operators may act on it.
        {"host": "unowned-01", "service": "disk", "comment": "seen by the night shift"},
        format="json",
    )
    assert response.status_code == 201, response.content
    wait_for(
        lambda: (
            "seen by the night shift" in str(service_state(live, "unowned-01", "disk", "comments_with_info"))
        ),
        "the comment",
    )
    for method, url, body in (
        ("patch", "/api/v1/registry/hosts/web-01/", {"address": "192.0.2.9"}),
        ("post", "/api/v1/preferences/rules/", {"action": "suppress"}),
        ("post", "/api/v1/accounts/tokens/", {"name": "stronger"}),
    ):
        refused = getattr(api, method)(url, body, format="json")
        assert refused.status_code == 403, url
        assert "limited to actions only" in refused.json()["detail"], url
    assert not NotificationRule.objects.exists()
    assert APIToken.objects.filter(user=operator).count() == 1


# -- pages ------------------------------------------------------------------------------------------


def test_operator_sees_action_buttons_viewer_does_not(
    operator: User, viewer: User, master: NaemonNode, owned: dict[str, Host]
) -> None:
    for user, shown in ((operator, True), (viewer, False)):
        page = Client()
        page.force_login(user)
        for url in ("/status/service/web-01/crit-me/", "/status/problems/"):
            html = page.get(url).content.decode()
            assert ('href="/status/acknowledge/web-01/crit-me/' in html) == shown, (user.username, url)
