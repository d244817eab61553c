"""The notification history with a real core (Nagios 4): a suppressed notification explained, and one
the core did not even attempt because its service was in downtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from preferences import tasks
from registry import runner
from tests.preferences.conftest import NotifyingCore
from tests.preferences.test_e2e_core import CRITICAL, DB, WEB, run_round, site  # noqa: F401 - the fixture
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_the_history_explains_a_suppression_and_shows_a_downtime_the_core_did_not_notify(
    site: dict[str, Any],  # noqa: F811
    redis_url: str,
    settings: SettingsWrapper,
    api_client_for: Callable[[User | None], APIClient],
    client: Client,
) -> None:
    settings.REDIS_URL = redis_url
    core: NotifyingCore = site["core"]
    started = int(time.time())
    # db1/Postgres goes CRITICAL: alice's rules (CRITICAL on web only, default suppress) hold it back.
    run_round(core, CRITICAL, [DB], decisions=3)
    # web1/HTTP in downtime, then CRITICAL: the core asks nobody.
    now = int(time.time())
    runner.send_external_command(
        str(core.command_file),
        f"[{now}] SCHEDULE_SVC_DOWNTIME;web1;HTTP;{now};{now + 3600};1;0;3600;e2e;maintenance",
    )
    wait_for(
        "the downtime to start",
        lambda: "SERVICE DOWNTIME ALERT: web1;HTTP;STARTED" in core.log_file.read_text(),
    )
    core.submit(*WEB, CRITICAL, "CRITICAL - e2e")
    wait_for("the hard alert", lambda: "SERVICE ALERT: web1;HTTP;CRITICAL;HARD" in core.log_file.read_text())
    assert not [d for d in core.decisions() if d["host"] == "web1"], "the core asked the filter nothing"

    tasks.collect_notification_log(site["node"].pk)
    response = api_client_for(site["alice"]).get("/api/v1/preferences/history/", {"host": "db1"})
    rows = response.json()["results"]
    assert {(r["channel"], r["decision"]) for r in rows} == {("file", "suppress"), ("sms", "suppress")}
    assert {r["reason"] for r in rows} == {"no rule matched; default suppress"}
    assert [s["text"] for s in rows[0]["explanation"]["steps"]] == [
        "host group not matched: web",
        "no rule matched; default suppress",
    ]

    client.force_login(site["alice"])
    page = client.get(
        "/notifications/history/",
        {
            "host": "web1",
            "service": "HTTP",
            "from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 5)),
        },
    ).content.decode()
    assert "nothing was attempted: the object in downtime since" in page, page
