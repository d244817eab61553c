"""The notification history: decisions collected into the database, explained, searchable per role."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from monitoring_portal.models import APIToken
from preferences import decisions, engine, explain, history, rulebook, snapshot, tasks
from preferences.compiled import snapshot_contacts
from preferences.filtersets import NotificationDecisionFilterSet
from preferences.models import NotificationDecision, NotificationProfile
from registry.models import NaemonNode
from tests.preferences.conftest import Registry, make_contact, make_rule
from tests.preferences.test_engine import notifications, rule_lists

API = "/api/v1/preferences/history/"


# --- the engine's explanation ---------------------------------------------------------


@given(rule_lists, notifications(), st.sampled_from(["notify", "suppress"]))
def test_the_explanation_names_the_rule_evaluate_chose_and_why_each_earlier_one_did_not_match(
    rules: list[dict[str, object]], n: engine.Notification, default: str
) -> None:
    contact = rulebook.compile_contact(rules, default=default, timezone="Europe/Paris")
    decision = engine.evaluate(contact, n)
    steps = explain.explain(contact, n)
    *earlier, last = steps
    assert last[0] == decision.rule_id
    assert last[1] is True
    assert last[2] == ("default" if decision.rule_id is None else "matched")
    assert last[3].endswith("notify" if decision.notify else "suppress")
    enabled = [rule["id"] for rule in contact["rules"]]
    assert [step[0] for step in earlier] == enabled[: len(earlier)]
    for rule_id, matched, code, text in earlier:
        assert not matched and text, (rule_id, code)
        assert code in {
            "channel",
            "type",
            "state",
            "host",
            "hostgroup",
            "service_only",
            "service",
            "servicegroup",
            "window",
        }


def test_a_reason_reads_like_the_rule() -> None:
    contact = rulebook.compile_contact(
        [
            {"id": 7, "action": "notify", "hostgroups": ["web"]},
            {"id": 8, "action": "notify", "days": ["mon", "tue"], "start": "08:00", "end": "18:00"},
            {"id": 9, "action": "notify", "states": ["CRITICAL"]},
            {"id": 10, "action": "suppress", "comment": "the rest"},
        ],
        timezone="Europe/Paris",
    )
    saturday_noon = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)  # 12:00 in Paris
    n = engine.Notification(
        contact="alice", channel="email", type="PROBLEM", host="db1", hostgroups=["db"],
        service="Disk", state="WARNING", time=saturday_noon,
    )  # fmt: skip
    assert explain.explain(contact, n) == [
        (7, False, "hostgroup", "host group not matched: web"),
        (8, False, "window", "outside mon tue 08:00-18:00 Europe/Paris (it was sat 12:00)"),
        (9, False, "state", "state WARNING not in CRITICAL"),
        (10, True, "matched", "rule 10 matched: suppress"),
    ]


# --- collection into the database ------------------------------------------------------


@pytest.fixture
def store(redis_url: str, settings: SettingsWrapper) -> Iterator[redis.Redis]:
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)

    def clean() -> None:
        keys = list(client.scan_iter(f"{decisions.KEY_PREFIX}:*"))
        if keys:
            client.delete(*keys)

    clean()
    yield client
    clean()


@pytest.fixture
def node(tmp_path: Path, registry: Registry) -> NaemonNode:
    return NaemonNode.objects.create(
        name="n1", config_dir=str(tmp_path / "portal.d"), notify_dir=str(tmp_path / "notify")
    )


def line(when: datetime, contact: str, **fields: Any) -> str:
    record = {
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "contact": contact,
        "channel": "email",
        "type": "PROBLEM",
        "host": "web1",
        "service": "HTTP",
        "state": "CRITICAL",
        "id": "",
        "decision": "notify",
        "rule": None,
        "reason": "no rule matched; default notify",
        "duration_ms": 0.1,
    } | fields
    return json.dumps(record) + "\n"


def decide_line(node: NaemonNode, contact: str, when: datetime, **fields: Any) -> str:
    """A line as the filter writes it: decided by the engine on the node's current snapshot."""
    compiled = snapshot.read_contact(node.notify_paths().snapshot_dir, contact)
    assert compiled is not None
    groups = {"web1": ["web"], "db1": ["db"]}
    host = fields.get("host", "web1")
    n = engine.Notification(
        contact=contact, channel=fields.get("channel", "email"), type=fields.get("type", "PROBLEM"),
        host=host, hostgroups=groups[host], service=fields.get("service", "HTTP"),
        servicegroups=["frontend"] if host == "web1" else [], state=fields.get("state", "CRITICAL"), time=when,
    )  # fmt: skip
    decision = engine.evaluate(compiled, n)
    return line(
        when,
        contact,
        **fields,
        decision="notify" if decision.notify else "suppress",
        rule=decision.rule_id,
        reason=decision.reason,
    )


@pytest.fixture
def people(registry: Registry, node: NaemonNode) -> dict[str, User]:
    """alice (rules: notify CRITICAL on web, else suppress) and bob (default), contacts of their own."""
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    make_contact("alice", alice, registry.email)
    make_contact("bob", bob, registry.email)
    make_contact("nobody", None, registry.email)
    NotificationProfile.objects.create(user=alice, default="suppress", timezone="Europe/Paris")
    make_rule(alice, action="notify", hostgroups=["web"], states=["CRITICAL"], comment="web criticals")
    snapshot.write_snapshot(node.notify_paths().snapshot_dir, snapshot_contacts())
    return {"alice": alice, "bob": bob}


def test_collection_stores_each_decision_once_across_runs_and_a_rotation(
    store: redis.Redis, node: NaemonNode, people: dict[str, User]
) -> None:
    log = Path(node.notify_paths().decision_log)
    # Decided after the snapshot was written (as the filter does: it reads the current one).
    now = datetime.now(UTC) + timedelta(seconds=1)
    log.write_text(
        decide_line(node, "alice", now)
        + decide_line(node, "alice", now + timedelta(milliseconds=1), host="db1", service="Postgres")
        + line(now - timedelta(minutes=3), "bob")
    )
    first = tasks.collect_notification_log(node.pk)
    assert first is not None and first["lines"] == 3
    assert NotificationDecision.objects.count() == 3
    tasks.collect_notification_log(node.pk)  # nothing new: nothing stored twice
    assert NotificationDecision.objects.count() == 3

    # The filter appends, then the log is rotated by rename and a new one started.
    with log.open("a") as handle:
        handle.write(line(now - timedelta(minutes=2), "nobody"))
    os.rename(log, f"{log}.1")
    log.write_text(line(now - timedelta(minutes=1), "bob", type="RECOVERY", state="OK"))
    tasks.collect_notification_log(node.pk)
    # A run whose Redis offset was lost (a flushed Redis) reads the same lines again: still once each.
    store.delete(decisions.state_key(node.pk))
    tasks.collect_notification_log(node.pk)
    assert NotificationDecision.objects.count() == 5
    # Redis still serves the home page's recent decisions.
    assert store.llen(decisions.recent_key(node.pk, "bob")) >= 2

    suppressed = NotificationDecision.objects.get(contact="alice", host="db1")
    assert suppressed.user == people["alice"] and suppressed.decision == "suppress"
    assert suppressed.rule_id is None and suppressed.node_name == "n1"
    assert suppressed.explanation["source"] == "snapshot"
    assert [step["text"] for step in suppressed.explanation["steps"]] == [
        "host group not matched: web",
        "no rule matched; default suppress",
    ]
    sent = NotificationDecision.objects.get(contact="alice", host="web1")
    [rule] = people["alice"].notification_rules.all()
    assert (sent.rule_id, sent.rule_comment, sent.decision) == (rule.pk, "web criticals", "notify")
    assert sent.explanation["steps"] == [
        {"rule": rule.pk, "matched": True, "code": "matched", "text": f"rule {rule.pk} matched: notify"}
    ]
    assert NotificationDecision.objects.get(contact="nobody").user is None


def test_an_explanation_that_no_longer_agrees_with_the_filter_is_not_given(
    node: NaemonNode, people: dict[str, User]
) -> None:
    """Rules changed before collection (and the old snapshot is gone): the filter's reason stands alone."""
    now = datetime.now(UTC)
    # The filter said rule 999 suppressed it; no snapshot or rule today says so.
    stale = line(now, "alice", decision="suppress", rule=999, reason="rule 999 matched")
    history.store_lines(node, [stale.encode()], history.Generations(None))
    decision = NotificationDecision.objects.get()
    assert decision.explanation["steps"] == []
    assert "rules changed" in decision.explanation["note"]


def test_decisions_older_than_the_retention_are_purged(
    node: NaemonNode, people: dict[str, User], settings: SettingsWrapper
) -> None:
    settings.NOTIFICATION_HISTORY_DAYS = 10
    now = datetime.now(UTC)
    lines = [line(now - timedelta(days=11), "bob").encode(), line(now - timedelta(days=9), "bob").encode()]
    history.store_lines(node, lines)
    assert tasks.purge_notification_history() == 1
    assert [d.time.date() for d in NotificationDecision.objects.all()] == [(now - timedelta(days=9)).date()]


# --- reading: API and page, per role ---------------------------------------------------


@pytest.fixture
def stored(node: NaemonNode, people: dict[str, User]) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    lines = [
        decide_line(node, "alice", now - timedelta(hours=3)),
        decide_line(node, "alice", now - timedelta(hours=2), host="db1", service="Postgres"),
        line(now - timedelta(hours=1), "bob", type="RECOVERY", state="OK", reason="its problem was sent"),
        line(now, "bob", host="db1", service="Postgres"),
    ]
    history.store_lines(
        node, [text.encode() for text in lines], history.Generations(node.notify_paths().snapshot_dir)
    )
    return {"now": now, **people}


def _hosts(response: Any) -> list[tuple[str, str]]:
    return [(row["contact"], row["host"]) for row in response.json()["results"]]


def test_each_role_sees_what_it_should(
    stored: dict[str, Any], staff: User, api_client_for: Callable[[User | None], APIClient]
) -> None:
    assert api_client_for(None).get(API).status_code == 401
    assert _hosts(api_client_for(stored["alice"]).get(API)) == [("alice", "db1"), ("alice", "web1")]
    assert _hosts(api_client_for(stored["bob"]).get(API)) == [("bob", "db1"), ("bob", "web1")]
    everyone = api_client_for(staff).get(API)
    assert everyone.json()["count"] == 4
    # Another engineer's decision is a 404, not a leak.
    alices = NotificationDecision.objects.filter(contact="alice").first()
    assert alices is not None
    assert api_client_for(stored["bob"]).get(f"{API}{alices.pk}/").status_code == 404
    # A read-only token reads (and is refused writes, like every read-only view).
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {APIToken.issue(stored['alice'], 'ro', read_only=True)[1]}"
    )
    assert client.get(API).json()["count"] == 2
    assert client.post(API, {}, format="json").status_code in (403, 405)


def test_an_explained_decision_through_the_api(
    stored: dict[str, Any], api_client_for: Callable[[User | None], APIClient]
) -> None:
    response = api_client_for(stored["alice"]).get(API, {"decision": "suppress"})
    [row] = response.json()["results"]
    assert (row["host"], row["service"], row["rule"], row["user"]) == ("db1", "Postgres", None, "alice")
    assert [step["code"] for step in row["explanation"]["steps"]] == ["hostgroup", "default"]
    assert row["reason"] == "no rule matched; default suppress"


def test_filters_and_pagination(
    stored: dict[str, Any], staff: User, api_client_for: Callable[[User | None], APIClient]
) -> None:
    client = api_client_for(staff)
    now: datetime = stored["now"]
    assert _hosts(client.get(API, {"host": "db1"})) == [("bob", "db1"), ("alice", "db1")]
    assert _hosts(client.get(API, {"contact": "bob", "type": "RECOVERY"})) == [("bob", "web1")]
    assert _hosts(client.get(API, {"service": "Postgres", "decision": "notify"})) == [("bob", "db1")]
    window = {
        "from": (now - timedelta(hours=2, minutes=30)).isoformat(),
        "to": (now - timedelta(minutes=30)).isoformat(),
    }
    assert _hosts(client.get(API, window)) == [("bob", "web1"), ("alice", "db1")]
    assert _hosts(client.get(API, {"q": "db"})) == [("bob", "db1"), ("alice", "db1")]
    page = client.get(API, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 4 and [r["contact"] for r in page["results"]] == ["bob"]
    for bad, field in (
        ({"hots": "db1"}, "hots"),
        ({"from": "yesterday"}, "from"),
        ({"type": "PANIC"}, "type"),
    ):
        response = client.get(API, bad)
        assert response.status_code == 400 and field in response.json(), (bad, response.content)


def test_the_history_page_explains_and_filters(stored: dict[str, Any], client: Client) -> None:
    assert client.get("/notifications/history/").status_code == 302  # to the login page
    client.force_login(stored["alice"])
    page = client.get("/notifications/history/", {"decision": "suppress"}).content.decode()
    assert "db1 / Postgres" in page and "web1 / HTTP" not in page
    assert "host group not matched: web" in page and "no rule matched; default suppress" in page
    rule = stored["alice"].notification_rules.get()
    page = client.get("/notifications/history/", {"host": "web1"}).content.decode()
    assert f"rule {rule.pk} “web criticals”" in page
    assert not re.search(r"\bbob\b", page)  # another engineer's decisions are not shown


# --- what the core did before asking ---------------------------------------------------

NAGIOS_LOG = """\
[1000] SERVICE ALERT: web1;HTTP;CRITICAL;HARD;1;down
[1000] SERVICE NOTIFICATION: alice;web1;HTTP;CRITICAL;notify-file;down
[1100] SERVICE ALERT: web1;HTTP;OK;HARD;1;up
[1100] SERVICE NOTIFICATION: alice;web1;HTTP;RECOVERY;notify-file;up
[1200] SERVICE DOWNTIME ALERT: web1;HTTP;STARTED; Service has entered a period of scheduled downtime
[1300] SERVICE ALERT: web1;HTTP;CRITICAL;HARD;1;down again
[1400] SERVICE DOWNTIME ALERT: web1;HTTP;STOPPED; Service has exited from a period of scheduled downtime
[1500] EXTERNAL COMMAND: DISABLE_SVC_NOTIFICATIONS;web1;HTTP
[1600] SERVICE ALERT: web1;HTTP;WARNING;HARD;1;slow
[1700] SERVICE ALERT: web1;HTTP;CRITICAL;SOFT;1;soft
[1800] SERVICE NOTIFICATION SUPPRESSED: web1;HTTP;Notification blocked by timeperiod; notifications should not be sent out at this time.
"""


def test_what_the_core_did_not_attempt_is_read_from_its_log() -> None:
    rows = [row for text in NAGIOS_LOG.splitlines() if (row := history.parse_log_line(text))]
    found = history.not_attempted(rows, "web1", "HTTP")
    assert [(r["time"], r["state"], r["code"]) for r in found] == [
        (1300, "CRITICAL", "downtime"),
        (1600, "WARNING", "disabled"),
        (1800, "", "period"),
    ]
    assert found[0]["reason"] == "nothing was attempted: the object in downtime since 1970-01-01 00:20:00 UTC"
    # Another object's log says nothing about this one.
    assert history.not_attempted(rows, "web1", "SSH") == []


@pytest.mark.django_db
def test_the_free_text_search_can_use_its_trigram_indexes() -> None:
    """``q`` is "contains": a plain index cannot serve it; at a million decisions a scan took 830 ms.

    The trigram indexes (migration 0005) must match the SQL Django writes for ``icontains``, or
    PostgreSQL never uses them. On a near-empty table the planner prefers other plans, so they
    are switched off (sequential and plain index scans: GIN is bitmap-only): the plan must then
    name all three.
    """
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's; SQLite (the embedded default) scans")
    found = NotificationDecisionFilterSet({"q": "web"}, queryset=NotificationDecision.objects.all()).qs
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for column in ("host", "service", "contact"):
        assert f"prefs_decision_{column}_trgm" in plan, plan
