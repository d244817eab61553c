"""An object's history from the ``log`` table, at the protocol level (Naemon's behaviour).

Naemon answers the log table in log-file order, oldest first, and applies ``Limit:`` in that
order: a limit would keep the oldest lines of the window. The detail page must show the newest.
(The real-server test of the same is test_pages.py::test_history_shows_state_changes_newest_first.)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from livestatus import detail, nodes
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from livestatus.nodes import forget_clients
from preferences import decisions, snapshot
from preferences.models import NotificationRule
from preferences.tasks import collect_notification_log
from registry.models import Command, NaemonNode
from tests.services.icinga import Host as IcingaHost
from tests.services.icinga import IcingaServer, icinga_string, wait_until
from tests.services.icinga import Service as IcingaService
from tests.services.replay import ReplayServer, fixed16, header_value, json_body

T0 = 1_800_000_000


class NaemonLog:
    """A log table of ``count`` SERVICE ALERT lines, one a minute, oldest first (as Naemon answers)."""

    def __init__(self, count: int) -> None:
        self.requests: list[bytes] = []
        self.lines = [
            [
                T0 + 60 * i,
                1,
                "SERVICE ALERT",
                i % 4,
                1,
                f"line {i}",
                f"[{T0 + 60 * i}] SERVICE ALERT: line {i}",
                "",
            ]
            for i in range(count)
        ]
        # Two lines in the same second at the end: the later line is the newer.
        last = T0 + 60 * count
        self.lines.append([last, 1, "SERVICE ALERT", 2, 1, "same second, first", "", ""])
        self.lines.append([last, 1, "SERVICE ALERT", 0, 1, "same second, second", "", ""])

    def __call__(self, request: bytes) -> bytes:
        self.requests.append(request)
        if request.startswith(b"GET status"):
            return fixed16(200, json_body([["program_version"], ["1.4.1"]]))
        limit = header_value(request, "Limit")
        rows = self.lines[: int(limit)] if limit else self.lines  # Naemon: the first N in file order
        return fixed16(200, json_body(rows))


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget_clients()
    yield
    forget_clients()


def test_history_keeps_the_newest_rows_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert detail.HISTORY_ROWS == 500  # the figures below
    core = NaemonLog(700)
    with ReplayServer(core, directory=tmp_path) as server:
        node = NaemonNode(name="master", livestatus=server.address)
        before = int(time.time())
        rows, error = detail.history(node, "web-01", "http")
    assert error == "" and rows is not None
    assert len(rows) == detail.HISTORY_ROWS
    assert [r["output"] for r in rows[:3]] == ["same second, second", "same second, first", "line 699"]
    # 2 + 498 lines kept: line 699 down to line 202; lines 0-201, the oldest, are left out.
    assert rows[-1]["output"] == "line 202"
    times = [r["time"] for r in rows]
    assert times == sorted(times, reverse=True)

    request = next(r for r in core.requests if r.startswith(b"GET log"))
    assert header_value(request, "Limit") is None  # a limit would keep the oldest lines
    since = int(
        next(line for line in request.decode().split("\n") if line.startswith("Filter: time >= ")).split()[-1]
    )
    assert before - detail.HISTORY_SECONDS <= since <= int(time.time()) - detail.HISTORY_SECONDS
    assert b"Filter: host_name = web-01\n" in request and b"Filter: service_description = http\n" in request


def test_a_core_without_a_log_table_gives_no_history_and_says_why(tmp_path: Path) -> None:
    def no_log(request: bytes) -> bytes:
        if request.startswith(b"GET status"):
            return fixed16(200, json_body([["program_version"], ["1.4.1"]]))
        return fixed16(404, b"Invalid GET request, no such table 'log'\n")

    with ReplayServer(no_log, directory=tmp_path) as server:
        rows, error = detail.history(NaemonNode(name="master", livestatus=server.address), "web-01")
    assert rows is None
    assert error == "server answered 404: Invalid GET request, no such table 'log'"
    assert server.path not in error  # shown on the page: the message, not the address


# -- what became of each notification: the real core's log joined with the real filter's -----

NOTIFIED_HOSTS = (IcingaHost("db1", services=(IcingaService("Postgres"),)),)


def _notification_config(notify_dir: Path) -> str:
    """Icinga 2 notifies alice and bob through the real notify-filter, dave around it.

    alice and bob's command is wrapped as the portal wraps it (``notify-filter ... -- real
    command``); dave's runs the real command directly, so the filter never hears of it.
    """
    filter_path = Path(sys.executable).parent / "notify-filter"
    wrapped = [
        str(filter_path),
        *("--contact", "$user.name$", "--channel", "email", "--type", "$notification.type$"),
        *("--host", "$host.name$", "--hostgroups=", "--service", "$service.name$", "--servicegroups="),
        *("--state", "$service.state$", "--id", "$service.check_attempt$"),
        *("--snapshot-dir", str(notify_dir / "snapshot"), "--state-dir", str(notify_dir / "state")),
        *("--log", str(notify_dir / "decisions.log"), "--", "/bin/true"),
    ]
    return "\n".join(
        [
            'object NotificationComponent "notification" { }',
            *(f'object User "{name}" {{ }}' for name in ("alice", "bob", "dave")),
            'object NotificationCommand "notify-service-by-email" {',
            "  command = [ " + ", ".join(icinga_string(arg) for arg in wrapped) + " ]",
            "}",
            'object NotificationCommand "notify-service-by-pager" { command = [ "/bin/true" ] }',
            'apply Notification "mail" to Service {',
            '  command = "notify-service-by-email"',
            '  users = [ "alice", "bob" ]',
            "  interval = 0",
            "  assign where true",
            "}",
            'apply Notification "pager" to Service {',
            '  command = "notify-service-by-pager"',
            '  users = [ "dave" ]',
            "  interval = 0",
            "  assign where true",
            "}",
        ]
    )


@pytest.fixture(scope="module")
def notifying_icinga(icinga_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IcingaServer]:
    """An Icinga 2 with a compat log (its ``log`` table) whose notifications go through the filter."""
    notify_dir = tmp_path_factory.mktemp("notify")
    (notify_dir / "state").mkdir()
    server = IcingaServer(binary=icinga_binary, name="notified", hosts=NOTIFIED_HOSTS)
    server.notify_dir = notify_dir  # type: ignore[attr-defined]
    server.start()
    try:
        # The shared helper renders no notifications: added to its config, then reloaded.
        started = server.status()["nagios_pid"]
        with open(server.config_path, "a", encoding="utf-8") as config:
            config.write(_notification_config(notify_dir) + "\n")
        server.reload()

        def reloaded() -> bool:
            try:
                return bool(server.status()["nagios_pid"] != started)  # a new instance took over
            except (OSError, RuntimeError):
                return False

        wait_until(reloaded, timeout=30, interval=0.2, what="icinga2 reloaded with notifications")
        yield server
    finally:
        server.stop()


def _delivery(rows: list[dict[str, Any]], contact: str, kind: str = "SERVICE NOTIFICATION") -> list[Any]:
    return [row["delivery"] for row in rows if row["type"] == kind and row["contact"] == contact]


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize("source", ["redis", "files"])
def test_history_says_which_notifications_the_filter_sent_and_which_it_suppressed(
    notifying_icinga: IcingaServer, source: str, settings: Any, request: pytest.FixtureRequest
) -> None:
    """The core logs a notification for alice, bob and dave; only bob's went out.

    alice's rule "quiet nights" suppressed hers; dave's command does not go through the
    filter. The decisions reach the page as they do in production: collected by the
    node's worker into Redis, or (no Redis) read from the decision log on this machine.
    """
    if source == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_url")
        with redis.Redis.from_url(settings.REDIS_URL) as client:
            collected = list(client.scan_iter(f"{decisions.KEY_PREFIX}:*"))
            if collected:
                client.delete(*collected)
    else:
        settings.REDIS_URL = ""
    nodes.forget_clusters()
    notify_dir: Path = notifying_icinga.notify_dir  # type: ignore[attr-defined]
    log = notify_dir / "decisions.log"
    log.unlink(missing_ok=True)
    alice = User.objects.create_user("alice")
    viewer = User.objects.create_user("viewer", password="viewer-pass-1234")
    other = NotificationRule.objects.create(user=alice, position=0, action="suppress", comment="other")
    quiet = NotificationRule.objects.create(user=alice, position=1, action="suppress", comment="quiet nights")
    Command.objects.create(name="notify-service-by-email", channel="email", command_line="/bin/true")
    # alice's first rule is for another service: the second decides (its position is 2, its id stays).
    snapshot.write_snapshot(
        notify_dir / "snapshot",
        {
            "alice": {
                "rules": [
                    {"id": other.pk, "action": "suppress", "services": ["other"]},
                    {"id": quiet.pk, "action": "suppress", "comment": "quiet nights"},
                ]
            },
            "bob": {"rules": []},
        },
    )
    node = NaemonNode.objects.create(
        name="master", livestatus=notifying_icinga.unix_address, notify_dir=str(notify_dir)
    )

    with LivestatusClient(notifying_icinga.unix_address, timeout=10, retry_window=5) as live:
        state = 2 if source == "redis" else 1  # each run a new state: a new notification
        live.command(commands.process_service_check_result("db1", "Postgres", state, f"{source} down"))

        def logged() -> bool:
            rows = live.query(
                LivestatusQuery("log", columns=("contact_name", "plugin_output", "message")).where(
                    Filter("time", ">=", int(time.time()) - 60), Filter("class", "=", 3)
                )
            )
            mine = [row for row in rows if f"{source} down" in str(row["message"])]
            return len(mine) == 3 and log.exists() and len(log.read_text().splitlines()) == 2

        wait_until(logged, timeout=30, interval=0.2, what="three notification lines and two decisions")
    if source == "redis":
        result = collect_notification_log.apply(args=(node.pk,)).get()
        assert result is not None and result["lines"] == 2

    browser = Client()
    browser.force_login(viewer)
    response = browser.get("/api/v1/livestatus/services/db1/Postgres/")
    assert response.status_code == 200, response.content
    history = [row for row in response.json()["history"] if f"{source} down" in row["message"]]
    assert _delivery(history, "alice") == ["suppressed by alice's rule 'quiet nights'"]
    assert _delivery(history, "bob") == ["sent (email)"]
    assert _delivery(history, "dave") == ["no decision recorded"]
    alices = next(row for row in history if row["contact"] == "alice")
    assert alices["decision"]["rule_id"] == quiet.pk and alices["decision"]["decision"] == "suppress"
    assert all(row["delivery"] is None for row in history if row["type"] == "SERVICE ALERT")

    html = unescape(browser.get("/status/service/db1/Postgres/").content.decode())
    table = html[html.index('id="history"') :].split("</table>")[0]
    assert "suppressed by alice's rule 'quiet nights'" in table
    assert "sent (email)" in table and "no decision recorded" in table
