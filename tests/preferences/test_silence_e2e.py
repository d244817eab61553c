"""A silence with a real core (Nagios 4): it mutes until its end on the node, with the portal stopped.

Nothing recompiles or republishes the snapshot after the silence is created: the node's
snapshot carries the end time and the notify-filter stops applying the silence by itself.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from preferences import tasks
from preferences.models import Silence
from tests.preferences.conftest import NotifyingCore
from tests.preferences.test_e2e_core import CRITICAL, OK, WEB, run_round, site, wait_sent  # noqa: F401
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SILENCE_SECONDS = 20


def test_a_silence_suppresses_until_its_end_with_the_portal_stopped(
    site: dict[str, Any],  # noqa: F811
    api_client_for: Callable[[User | None], APIClient],
    redis_url: str,
    settings: SettingsWrapper,
) -> None:
    settings.REDIS_URL = redis_url
    core: NotifyingCore = site["core"]
    ends_at = timezone.now() + dt.timedelta(seconds=SILENCE_SECONDS)
    response = api_client_for(site["bob"]).post(
        "/api/v1/preferences/silences/",
        {"hosts": ["web1"], "services": ["HTTP"], "comment": "deploy", "ends_at": ends_at.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    silence = Silence.objects.get(pk=response.json()["id"])
    # Published on commit; from here on the portal does nothing: the generation must not change.
    current = os.readlink(core.notify_dir / "snapshot" / "current")

    # Before the end: bob's PROBLEM is held back, naming the silence; alice (not silenced) gets hers.
    run_round(core, CRITICAL, [WEB], decisions=3)
    bob = [d for d in core.decisions() if d["contact"] == "bob"]
    assert time.time() < silence.ends_at.timestamp(), (
        "the round outlasted the silence: lengthen SILENCE_SECONDS"
    )
    assert [(d["type"], d["decision"]) for d in bob] == [("PROBLEM", "suppress")]
    assert bob[0]["reason"] == (
        f"silenced until {silence.ends_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC (silence #{silence.pk}: deploy)"
    )
    # Its recovery follows it: not sent either.
    run_round(core, OK, [WEB], decisions=3)
    assert [d["reason"] for d in core.decisions() if d["contact"] == "bob"][-1] == (
        "its problem was not sent to this contact"
    )
    wait_sent(
        core,
        [
            "alice PROBLEM web1/HTTP CRITICAL",
            "alice:sms PROBLEM web1/HTTP CRITICAL",
            "alice RECOVERY web1/HTTP OK",
            "alice:sms RECOVERY web1/HTTP OK",
        ],
    )

    # After the end, with nothing republished: the next problem reaches bob, and its recovery.
    wait_for(
        "the silence to end", lambda: time.time() >= silence.ends_at.timestamp(), timeout=SILENCE_SECONDS + 5
    )
    core.sent_log.unlink()
    run_round(core, CRITICAL, [WEB], decisions=3)
    run_round(core, OK, [WEB], decisions=3)
    wait_sent(
        core,
        [
            "alice PROBLEM web1/HTTP CRITICAL",
            "alice:sms PROBLEM web1/HTTP CRITICAL",
            "alice RECOVERY web1/HTTP OK",
            "alice:sms RECOVERY web1/HTTP OK",
            "bob PROBLEM web1/HTTP CRITICAL",
            "bob RECOVERY web1/HTTP OK",
        ],
    )
    assert os.readlink(core.notify_dir / "snapshot" / "current") == current, "the snapshot was republished"

    # The history (collected from the node's log) shows the suppression and names the silence.
    tasks.collect_notification_log(site["node"].pk)
    rows = api_client_for(site["bob"]).get("/api/v1/preferences/history/", {"decision": "suppress"}).json()
    reasons = [row["reason"] for row in rows["results"] if row["type"] == "PROBLEM"]
    assert reasons == [bob[0]["reason"]]
