"""Replay a draft over my last 7 days of decisions; the rule list's warnings (``preferences.lint``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from preferences import lint, replay
from preferences.models import NotificationDecision, NotificationProfile, NotificationRule
from tests.preferences.conftest import Registry, make_rule

pytestmark = pytest.mark.django_db

REPLAY = "/api/v1/preferences/replay/"
RULES = "/api/v1/preferences/rules/"
ClientFor = Callable[[User | None], APIClient]
_serial = itertools.count()

SUPPRESS_CRITICAL_ON_WEB = {"action": "suppress", "hostgroups": ["web"], "states": ["CRITICAL"]}


def decided(
    user: User | None,
    host: str,
    service: str,
    state: str,
    *,
    type: str = "PROBLEM",
    ago: timedelta = timedelta(hours=1),
    decision: str = "notify",
    reason: str = "no rule matched; default notify",
    channel: str = "email",
) -> NotificationDecision:
    """A decision as the collector stores it."""
    return NotificationDecision.objects.create(
        time=timezone.now() - ago,
        contact=user.get_username() if user else "nobody",
        user=user,
        host=host,
        service=service,
        state=state,
        type=type,
        channel=channel,
        decision=decision,
        reason=reason,
        digest=f"test-{next(_serial)}",
    )


@pytest.fixture
def week(owner: User, teammate: User, registry: Registry) -> dict[str, NotificationDecision]:
    """The owner's week: CRITICALs and a WARNING on web1/HTTP, a CRITICAL on db1; old and foreign rows."""
    return {
        "critical": decided(owner, "web1", "HTTP", "CRITICAL", ago=timedelta(days=2)),
        "recovery": decided(
            owner, "web1", "HTTP", "OK", type="RECOVERY", ago=timedelta(days=2) - timedelta(minutes=5)
        ),
        "critical2": decided(owner, "web1", "HTTP", "CRITICAL", ago=timedelta(hours=3)),
        "warning": decided(owner, "web1", "HTTP", "WARNING", ago=timedelta(hours=2)),
        "db": decided(owner, "db1", "Postgres", "CRITICAL", ago=timedelta(hours=1)),
        # Not replayed: older than 7 days, someone else's, a fail-open, an acknowledgement.
        "old": decided(owner, "web1", "HTTP", "CRITICAL", ago=timedelta(days=8)),
        "teammate": decided(teammate, "web1", "HTTP", "CRITICAL"),
        "fail_open": decided(owner, "web1", "HTTP", "CRITICAL", reason="fail open: no snapshot"),
        "ack": decided(owner, "web1", "HTTP", "CRITICAL", type="ACKNOWLEDGEMENT"),
    }


def test_a_draft_suppressing_critical_on_web_shows_those_criticals_as_fewer(
    owner: User, api_client_for: ClientFor, week: dict[str, NotificationDecision]
) -> None:
    answer = api_client_for(owner).post(REPLAY, {"rule": SUPPRESS_CRITICAL_ON_WEB}, format="json")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    # Two CRITICAL problems on web1 and the RECOVERY of the first (its problem no longer sent).
    assert (data["fewer"], data["more"], data["replayed"]) == (3, 0, 5)
    assert "you would have received 3 fewer and 0 more notifications" in data["summary"]
    listed = [(d["decision"], d["type"], d["state"], d["before"], d["after"]) for d in data["differences"]]
    assert listed == [
        (week["critical"].pk, "PROBLEM", "CRITICAL", "notify", "suppress"),
        (week["recovery"].pk, "RECOVERY", "OK", "notify", "suppress"),
        (week["critical2"].pk, "PROBLEM", "CRITICAL", "notify", "suppress"),
    ]
    assert data["differences"][0]["rule"] == "rule #1 matched"
    assert data["differences"][0]["host"] == "web1" and data["differences"][0]["service"] == "HTTP"
    # Nothing was saved: a replay is a question.
    assert not NotificationRule.objects.filter(user=owner).exists()


def test_replaying_an_edit_of_an_existing_rule_and_a_whole_list(
    owner: User, api_client_for: ClientFor, week: dict[str, NotificationDecision]
) -> None:
    rule = make_rule(owner, action="suppress", hostgroups=["web"], comment="quiet web")
    NotificationProfile.objects.create(user=owner, default="notify", timezone="Europe/Paris")
    client = api_client_for(owner)
    # Today the rule drops every web notification; the edit lets the WARNING through again.
    edit = client.post(
        REPLAY,
        {"rule": {**SUPPRESS_CRITICAL_ON_WEB, "comment": "quiet web"}, "replaces": rule.pk},
        format="json",
    ).json()
    assert (edit["fewer"], edit["more"]) == (0, 1)
    assert edit["differences"][0]["decision"] == week["warning"].pk
    assert edit["timezone"] == "Europe/Paris"
    # The whole list: only web WARNINGs, default suppress: the WARNING comes, db1's CRITICAL goes.
    whole = client.post(
        REPLAY,
        {
            "rules": [{"action": "notify", "hostgroups": ["web"], "states": ["WARNING"]}],
            "default": "suppress",
        },
        format="json",
    ).json()
    assert (whole["fewer"], whole["more"]) == (1, 1)
    changes = {d["decision"]: (d["before"], d["after"]) for d in whole["differences"]}
    assert changes == {week["warning"].pk: ("suppress", "notify"), week["db"].pk: ("notify", "suppress")}


def test_replay_reads_only_my_decisions(
    owner: User, teammate: User, staff: User, api_client_for: ClientFor, week: dict[str, NotificationDecision]
) -> None:
    mine = api_client_for(teammate).post(REPLAY, {"rule": SUPPRESS_CRITICAL_ON_WEB}, format="json").json()
    assert (mine["replayed"], mine["fewer"]) == (1, 1)
    assert [d["decision"] for d in mine["differences"]] == [week["teammate"].pk]
    # Staff replay their own rules over their own decisions: none here.
    theirs = api_client_for(staff).post(REPLAY, {"rule": SUPPRESS_CRITICAL_ON_WEB}, format="json").json()
    assert (theirs["replayed"], theirs["differences"]) == (0, [])
    assert api_client_for(None).post(
        REPLAY, {"rule": SUPPRESS_CRITICAL_ON_WEB}, format="json"
    ).status_code in (
        401,
        403,
    )
    # Replacing someone else's rule is refused.
    other = make_rule(owner, action="notify", comment="owner's")
    refused = api_client_for(teammate).post(
        REPLAY, {"rule": SUPPRESS_CRITICAL_ON_WEB, "replaces": other.pk}, format="json"
    )
    assert refused.status_code == 400 and "replaces" in refused.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rule": {"action": "suppress", "states": ["SOMETIMES"]}}, "rule.states"),
        ({"rules": [{"action": "notify"}, {"action": "mute"}]}, "rules[1].action"),
        ({"rules": [], "rule": {"action": "notify"}}, "rules"),
        ({}, "rules"),
        ({"rule": {"action": "notify"}, "default": "maybe"}, "default"),
        ({"rule": {"action": "notify"}, "since": "forever"}, "since"),
    ],
)
def test_a_bad_draft_is_a_400_naming_the_field(
    owner: User, api_client_for: ClientFor, body: dict[str, Any], field: str
) -> None:
    answer = api_client_for(owner).post(REPLAY, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


def test_replay_evaluates_time_windows_in_the_profile_zone(owner: User, registry: Registry) -> None:
    """A decision at 23:30 UTC is 00:30 the next day in Paris: a "nights 00:00-06:00" draft catches it."""
    NotificationProfile.objects.create(user=owner, timezone="Europe/Paris")
    now = timezone.now()
    at = datetime(now.year, now.month, now.day, 23, 30, tzinfo=UTC) - timedelta(days=1)
    row = decided(owner, "web1", "HTTP", "CRITICAL", ago=now - at)
    result = replay.replay(owner, [{"action": "suppress", "start": "00:00", "end": "06:00"}], now=now)
    assert [d.decision_id for d in result.differences] == [row.pk]
    assert (
        replay.replay(owner, [{"action": "suppress", "start": "22:00", "end": "24:00"}], now=now).fewer == 0
    )


# -- warnings: a rule that cannot change any decision --------------------------------


def test_lint_flags_shadowed_rules_and_rules_equal_to_the_default() -> None:
    rules = [
        {"action": "suppress", "hostgroups": ["web"]},
        {"action": "notify", "hostgroups": ["web"], "states": ["CRITICAL"]},  # shadowed by 1
        {"action": "notify", "hosts": ["web-*"]},  # a glob 1 does not cover
        {"action": "suppress", "hosts": ["web-1"]},  # shadowed by 3's glob
        {"action": "suppress", "types": ["RECOVERY"], "hosts": ["db1"]},  # not covered: 1 is web only
    ]
    warnings = lint.rule_warnings(rules, "notify")
    assert [bool(w) for w in warnings] == [False, True, False, True, False]
    assert "rule 1 above" in warnings[1][0] and "rule 3 above" in warnings[3][0]
    # A notify rule without types leaves RECOVERY to rules naming it: not shadowed.
    assert lint.rule_warnings(
        [{"action": "notify"}, {"action": "suppress", "types": ["RECOVERY"]}], "notify"
    ) == [
        [],
        [],
    ]
    # Everything notifies: the rule changes nothing.
    only = lint.rule_warnings([{"action": "notify", "hostgroups": ["web"]}], "notify")
    assert "default is notify too" in only[0][0]
    assert lint.rule_warnings([{"action": "notify", "hostgroups": ["web"]}], "suppress") == [[]]


def test_the_rule_list_carries_the_warnings(owner: User, api_client_for: ClientFor) -> None:
    first = make_rule(owner, action="suppress", hostgroups=["web"], comment="quiet web")
    second = make_rule(
        owner, action="notify", hostgroups=["web"], states=["CRITICAL"], comment="web critical"
    )
    client = api_client_for(owner)
    listed = {r["id"]: r["warnings"] for r in client.get(RULES).json()["results"]}
    assert listed[first.pk] == []
    assert "rule 1 above" in listed[second.pk][0]
    assert "rule 1 above" in client.get(f"{RULES}{second.pk}/").json()["warnings"][0]
    # Moved above the rule that shadowed it, the warning goes.
    client.post(f"{RULES}reorder/", {"ids": [second.pk, first.pk]}, format="json")
    assert all(not r["warnings"] for r in client.get(RULES).json()["results"])


def test_only_notify_me_about_adds_the_rule_and_makes_the_default_suppress(
    owner: User, api_client_for: ClientFor, registry: Registry
) -> None:
    make_rule(owner, action="suppress", channels=["sms"], comment="no sms")
    answer = api_client_for(owner).post(
        f"{RULES}only/", {"hostgroups": ["db"], "comment": "db only"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["action"] == "notify"
    rules = list(NotificationRule.objects.filter(user=owner).in_order())
    assert [(r.comment, r.action) for r in rules] == [("no sms", "suppress"), ("db only", "notify")]
    assert NotificationProfile.objects.get(user=owner).default == "suppress"
    bad = api_client_for(owner).post(f"{RULES}only/", {"states": ["SOMETIMES"]}, format="json")
    assert bad.status_code == 400 and "states" in bad.json()
    assert NotificationRule.objects.filter(user=owner).count() == 2
