"""A hand-over with a real core (Nagios 4): the colleague's stand-in contact gets what alice would,
the RECOVERY included, alice gets nothing new during it, and it starts and ends on the node.

alice (rules: CRITICAL on host group web) hands over to bob through the API; the deploy adds
``bob--for--alice`` (bob's channel) beside alice on web1/HTTP, verified by ``nagios4 -v``
without a warning. Nothing is republished after that: the snapshot's windows decide in time.
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
from rest_framework.test import APIClient

from registry.models import Contact, Deployment, Host
from tests.preferences.conftest import NotifyingCore
from tests.preferences.test_e2e_core import CRITICAL, OK, WEB, run_round, site, wait_sent  # noqa: F401
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

LEAD, LENGTH = 25, 30  # seconds until the hand-over starts, and how long it lasts


def _decided(core: NotifyingCore, contact: str) -> list[tuple[str, str, str]]:
    return [(d["type"], d["decision"], d["reason"]) for d in core.decisions() if d["contact"] == contact]


def test_a_hand_over_delivers_to_the_colleague_recovery_included(
    site: dict[str, Any],  # noqa: F811
    api_client_for: Callable[[User | None], APIClient],
) -> None:
    core: NotifyingCore = site["core"]
    # The hosts get contacts too (the shared site has them on the services only, which nagios4 -v
    # warns about): the deploy below must verify without a single warning.
    for host in Host.objects.all():
        host.contacts.add(*Contact.objects.all())
    starts = timezone.now() + dt.timedelta(seconds=LEAD)
    ends = starts + dt.timedelta(seconds=LENGTH)
    response = api_client_for(site["alice"]).post(
        "/api/v1/preferences/handovers/",
        {
            "colleague": "bob",
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "comment": "holiday",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    deployment = Deployment.objects.filter(node=site["node"]).latest("pk")
    assert deployment.state == "confirmed", (deployment.error, deployment.verify_output)
    assert (
        "Total Warnings: 0" in deployment.verify_output and "Total Errors:   0" in deployment.verify_output
    ), [line for line in deployment.verify_output.splitlines() if "Warning" in line]
    assert "bob--for--alice" in (core.config_dir / "contacts.cfg").read_text()
    current = os.readlink(core.notify_dir / "snapshot" / "current")

    # Before it starts: alice gets her CRITICAL (both channels); the stand-in nothing.
    run_round(core, CRITICAL, [WEB], decisions=4)
    assert time.time() < starts.timestamp(), "the round outlasted the lead: lengthen LEAD"
    assert _decided(core, "bob--for--alice") == [("PROBLEM", "suppress", "hand-over from alice not active")]

    # It starts: the RECOVERY of alice's problem is still hers; the stand-in gets none.
    wait_for("the hand-over to start", lambda: time.time() >= starts.timestamp(), timeout=LEAD + 5)
    run_round(core, OK, [WEB], decisions=4)
    wait_sent(
        core,
        [
            "alice PROBLEM web1/HTTP CRITICAL",
            "alice:sms PROBLEM web1/HTTP CRITICAL",
            "bob PROBLEM web1/HTTP CRITICAL",
            "alice RECOVERY web1/HTTP OK",
            "alice:sms RECOVERY web1/HTTP OK",
            "bob RECOVERY web1/HTTP OK",
        ],
    )
    core.sent_log.unlink()

    # During it: alice's next problem goes to bob's stand-in, on bob's channel; alice gets nothing.
    run_round(core, CRITICAL, [WEB], decisions=4)
    assert time.time() < ends.timestamp(), "the round outlasted the hand-over: lengthen LENGTH"
    alice = _decided(core, "alice")[-2:]
    until = f"{ends.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"
    pk = response.json()["id"]
    assert (
        alice
        == [("PROBLEM", "suppress", f"handed over to bob until {until} UTC (hand-over #{pk}: holiday)")] * 2
    )

    # It ends (nothing republished): the RECOVERY follows the problem to bob; alice gets none.
    wait_for("the hand-over to end", lambda: time.time() >= ends.timestamp(), timeout=LENGTH + 5)
    run_round(core, OK, [WEB], decisions=4)
    wait_sent(
        core,
        [
            "bob--for--alice PROBLEM web1/HTTP CRITICAL",
            "bob PROBLEM web1/HTTP CRITICAL",
            "bob--for--alice RECOVERY web1/HTTP OK",
            "bob RECOVERY web1/HTTP OK",
        ],
    )
    assert _decided(core, "alice")[-1][2] == "its problem was not sent to this contact"
    assert os.readlink(core.notify_dir / "snapshot" / "current") == current, "the snapshot was republished"
