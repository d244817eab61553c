"""Notifications and active checks switched off and on, per object and on a selection (issue 18).

Against the status tests' Icinga 2 (``tests.livestatus.fixtures``): what the core applied is read
back from its Livestatus, then switched back, on the ``toggle-*`` services no other test uses
(passive services: notifications on, active checks off when the server starts); and against a
real Nagios 4 core (its status file read through the tests' Livestatus front, which writes the
commands to the core's command file), that Naemon's command names and arguments are what the
core applies. Which nodes of a cluster get each toggle: tests/livestatus/test_cluster_actions.py. The bulk bar in Chromium
saves a screenshot (status-toggle.png) to var/test/artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer
from rest_framework.test import APIClient

from livestatus.actions import Target, build_command
from livestatus.client import Filter, LivestatusClient, LivestatusQuery
from livestatus.models import ActionKind, ActionLog
from registry.choices import NodeRole
from registry.models import Host, NaemonNode
from tests.livestatus.fixtures import service_state, wait_for
from tests.services.browser import logged_in_page
from tests.services.nagios import NagiosCore, nagios_available
from tests.services.nagios_livestatus import NagiosLivestatus
from tests.services.required import require_service

pytest_plugins = ["tests.livestatus.fixtures"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"
BULK = "/api/v1/livestatus/actions/bulk/"
Browser = Callable[[Any], Client]
Api = Callable[[User | None], APIClient]


def _flag(live: LivestatusClient, service: str, column: str, wanted: int) -> Callable[[], bool]:
    def probe() -> bool:
        return int(service_state(live, "web-01", service, column)[column]) == wanted

    return probe


@pytest.mark.parametrize(
    ("kind", "target", "line"),
    [
        (ActionKind.ENABLE_NOTIFICATIONS, Target("h1"), "ENABLE_HOST_NOTIFICATIONS;h1"),
        (ActionKind.DISABLE_NOTIFICATIONS, Target("h1"), "DISABLE_HOST_NOTIFICATIONS;h1"),
        (ActionKind.ENABLE_NOTIFICATIONS, Target("h1", "s 1"), "ENABLE_SVC_NOTIFICATIONS;h1;s 1"),
        (ActionKind.DISABLE_NOTIFICATIONS, Target("h1", "s 1"), "DISABLE_SVC_NOTIFICATIONS;h1;s 1"),
        (ActionKind.ENABLE_CHECKS, Target("h1"), "ENABLE_HOST_CHECK;h1"),
        (ActionKind.DISABLE_CHECKS, Target("h1"), "DISABLE_HOST_CHECK;h1"),
        (ActionKind.ENABLE_CHECKS, Target("h1", "s 1"), "ENABLE_SVC_CHECK;h1;s 1"),
        (ActionKind.DISABLE_CHECKS, Target("h1", "s 1"), "DISABLE_SVC_CHECK;h1;s 1"),
    ],
)
def test_each_toggle_is_the_command_naemon_registers(kind: str, target: Target, line: str) -> None:
    # Names and argument shapes of naemon-core's commands.c (host=host_name / service=service).
    assert build_command(kind, target, {}, author="alice").line(7) == f"COMMAND [7] {line}"


@pytest.mark.services
def test_operator_disables_notifications_on_the_page_and_the_page_shows_it(
    browser_for: Browser, operator: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    browser = browser_for(operator)
    page = "/status/service/web-01/toggle-notify/"
    before = browser.get(page).content.decode()
    assert 'id="disable-notifications"' in before and 'id="enable-notifications"' not in before
    try:
        response = browser.post("/status/disable-notifications/web-01/toggle-notify/", {"node": "master"})
        assert response.status_code == 302 and response["Location"] == page
        wait_for(_flag(live, "toggle-notify", "notifications_enabled", 0), "notifications off in the core")

        # What the operator sees, read from the core: poll the page until it says so.
        def shows_it() -> str | None:
            text = browser.get(page).content.decode()
            return text if 'data-flag="notifications-disabled"' in text else None

        html = wait_for(shows_it, "the page showing notifications disabled")
        assert ">notifications disabled</span>" in html
        assert 'id="notifications-enabled">disabled</dd>' in html
        assert 'id="enable-notifications"' in html and 'id="disable-notifications"' not in html
        entry = ActionLog.objects.get()
        assert (entry.kind, entry.username, entry.host_name, entry.service_description, entry.outcome) == (
            "disable_notifications",
            operator.username,
            "web-01",
            "toggle-notify",
            "sent",
        )
        assert entry.command.endswith("] DISABLE_SVC_NOTIFICATIONS;web-01;toggle-notify")
    finally:
        browser.post("/status/enable-notifications/web-01/toggle-notify/", {"node": "master"})
        wait_for(_flag(live, "toggle-notify", "notifications_enabled", 1), "notifications on again")
    assert 'id="notifications-enabled">enabled</dd>' in browser.get(page).content.decode()


@pytest.mark.services
def test_team_member_switches_active_checks_through_the_api_and_the_detail_says_so(
    api_client_for: Api, owner: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    api = api_client_for(owner)
    target = {"host": "web-01", "service": "toggle-checks"}
    detail = "/api/v1/livestatus/services/web-01/toggle-checks/"
    assert api.get(detail).json()["can"]["enable_checks"] is True  # passive: active checks off
    try:
        response = api.post("/api/v1/livestatus/actions/enable-checks/", target, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["kind"] == "enable_checks"
        wait_for(_flag(live, "toggle-checks", "active_checks_enabled", 1), "active checks on in the core")

        def checking() -> dict[str, bool] | None:
            can: dict[str, bool] = api.get(detail).json()["can"]
            return can if can["disable_checks"] else None

        can = wait_for(checking, "the detail offering to disable active checks")
        assert can["enable_checks"] is False
    finally:
        response = api.post("/api/v1/livestatus/actions/disable-checks/", target, format="json")
        assert response.status_code == 201, response.content
        wait_for(_flag(live, "toggle-checks", "active_checks_enabled", 0), "active checks off again")
    assert list(ActionLog.objects.order_by("pk").values_list("kind", flat=True)) == [
        "enable_checks",
        "disable_checks",
    ]


@pytest.mark.services
def test_viewer_is_refused_on_page_and_api_and_nothing_is_sent(
    browser_for: Browser,
    api_client_for: Api,
    viewer: User,
    master: NaemonNode,
    owned: dict[str, Host],
    live: LivestatusClient,
    command_spy: list[str],
) -> None:
    browser = browser_for(viewer)
    page = browser.post("/status/disable-notifications/web-01/toggle-notify/", {"node": "master"})
    assert page.status_code == 403
    assert "not owned by one of your teams" in page.content.decode()
    body = {"host": "web-01", "service": "toggle-notify"}
    for path in ("disable-notifications", "enable-checks"):
        response = api_client_for(viewer).post(f"/api/v1/livestatus/actions/{path}/", body, format="json")
        assert response.status_code == 403
        assert "not owned by one of your teams" in response.json()["detail"]
    bulk = api_client_for(viewer).post(
        BULK, {"kind": "disable_notifications", "targets": [body]}, format="json"
    )
    assert bulk.status_code == 403 and bulk.json()["counts"]["refused"] == 1
    assert command_spy == [] and not ActionLog.objects.exists()
    assert (
        service_state(live, "web-01", "toggle-notify", "notifications_enabled")["notifications_enabled"] == 1
    )
    detail = browser.get("/status/service/web-01/toggle-notify/").content.decode()
    assert 'id="disable-notifications"' not in detail and 'id="notifications-enabled">enabled</dd>' in detail


@pytest.mark.services
def test_bulk_toggle_reports_each_objects_outcome(
    api_client_for: Api, owner: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    api = api_client_for(owner)
    mine = [{"host": "web-01", "service": "toggle-bulk-a"}, {"host": "web-01", "service": "toggle-bulk-b"}]
    # unowned-01 is not in the registry: only staff and operators may act on it.
    selection = [*mine, {"host": "unowned-01", "service": "disk"}]
    try:
        response = api.post(BULK, {"kind": "disable_notifications", "targets": selection}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert [(r["service"], r["result"]) for r in body["results"]] == [
            ("toggle-bulk-a", "sent"),
            ("toggle-bulk-b", "sent"),
            ("disk", "refused"),
        ]
        assert body["counts"] == {"sent": 2, "failed": 0, "refused": 1, "invalid": 0}
        assert body["results"][0]["action"]["kind"] == "disable_notifications"
        for service in ("toggle-bulk-a", "toggle-bulk-b"):
            wait_for(_flag(live, service, "notifications_enabled", 0), f"{service}: notifications off")
        unowned = service_state(live, "unowned-01", "disk", "notifications_enabled")
        assert unowned["notifications_enabled"] == 1
    finally:
        restored = api.post(BULK, {"kind": "enable_notifications", "targets": mine}, format="json")
        assert restored.status_code == 200, restored.content
        for service in ("toggle-bulk-a", "toggle-bulk-b"):
            wait_for(_flag(live, service, "notifications_enabled", 1), f"{service}: notifications on again")


@pytest.mark.services
@pytest.mark.browser
def test_bulk_bar_disables_notifications_of_a_selection(
    live_server: LiveServer,
    operator: User,
    master: NaemonNode,
    owned: dict[str, Host],
    live: LivestatusClient,
    settings: SettingsWrapper,
) -> None:
    selection = ("toggle-bulk-a", "toggle-bulk-b")
    try:
        with logged_in_page(live_server, operator, settings, viewport={"width": 1280, "height": 900}) as page:
            page.goto(f"{live_server.url}/status/services/?host=web-01")
            for service in selection:
                page.check(
                    f'#status-table tr[data-host="web-01"][data-service="{service}"] input[data-select]'
                )
            page.select_option("#bulk-kind", "disable_notifications")
            assert page.locator("#bulk-comment").is_hidden()  # nothing to say: no comment asked
            page.click("#bulk-send")
            outcomes = page.locator("#bulk-outcomes li")
            outcomes.nth(1).wait_for()
            assert sorted(outcomes.all_inner_texts()) == [
                "web-01 / toggle-bulk-a: sent",
                "web-01 / toggle-bulk-b: sent",
            ]
            assert page.locator("#bulk-result").inner_text().startswith("Disable notifications: 2 sent")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "status-toggle.png"), full_page=True)
            for service in selection:
                wait_for(_flag(live, service, "notifications_enabled", 0), f"{service}: notifications off")
            # The detail page of one of them says so, from the core.
            page.goto(f"{live_server.url}/status/service/web-01/toggle-bulk-a/")
            assert (
                page.locator('[data-flag="notifications-disabled"]').inner_text() == "notifications disabled"
            )
    finally:
        api = APIClient()
        api.force_authenticate(operator)
        targets = [{"host": "web-01", "service": service} for service in selection]
        restored = api.post(BULK, {"kind": "enable_notifications", "targets": targets}, format="json")
        assert restored.status_code == 200, restored.content
        for service in selection:
            wait_for(_flag(live, service, "notifications_enabled", 1), f"{service}: notifications on again")


# -- a real Nagios 4 core -------------------------------------------------------------------


@pytest.fixture
def nagios_node(db: None, fresh_clients: None) -> Iterator[tuple[NaemonNode, LivestatusClient]]:
    """A running nagios4 with seed-host/seed (notifications and active checks on), as a node."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    core = NagiosCore()
    core.prepare()
    front = NagiosLivestatus(core)
    try:
        core.start()
        front.start()
        node = NaemonNode.objects.create(
            name="nagios", role=NodeRole.MASTER, livestatus=front.address, config_dir=str(core.config_dir)
        )
        with LivestatusClient(front.address, timeout=10) as client:
            yield node, client
    finally:
        front.stop()
        core.stop()
        core.cleanup()


def _nagios_flag(client: LivestatusClient, service: str, column: str, wanted: int) -> Callable[[], bool]:
    table, filters = ("services", [Filter("description", "=", service)]) if service else ("hosts", [])
    query = LivestatusQuery(table).select(column).where(Filter("host_name", "=", "seed-host"), *filters)

    def probe() -> bool:
        return [int(row[column]) for row in client.query(query)] == [wanted]

    return probe


@pytest.mark.services
def test_nagios_4_applies_every_toggle_and_the_page_shows_it(
    nagios_node: tuple[NaemonNode, LivestatusClient],
    api_client_for: Api,
    browser_for: Browser,
    operator: User,
) -> None:
    _, client = nagios_node
    api = api_client_for(operator)
    for service in ("seed", ""):
        body = {"host": "seed-host", "service": service}
        for path, column, wanted in (
            ("disable-notifications", "notifications_enabled", 0),
            ("enable-notifications", "notifications_enabled", 1),
            ("disable-checks", "active_checks_enabled", 0),
            ("enable-checks", "active_checks_enabled", 1),
        ):
            response = api.post(f"/api/v1/livestatus/actions/{path}/", body, format="json")
            assert response.status_code == 201, response.content
            wait_for(_nagios_flag(client, service, column, wanted), f"{path} on seed-host/{service}")
    assert (
        api.post(
            "/api/v1/livestatus/actions/disable-notifications/",
            {"host": "seed-host", "service": "seed"},
            format="json",
        ).status_code
        == 201
    )
    browser = browser_for(operator)

    def page_says_so() -> str | None:
        html = browser.get("/status/service/seed-host/seed/").content.decode()
        return html if 'id="notifications-enabled">disabled</dd>' in html else None

    html = wait_for(page_says_so, "the Nagios object's page showing notifications disabled")
    assert 'data-flag="notifications-disabled"' in html and 'id="checks-enabled">enabled</dd>' in html
