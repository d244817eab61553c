"""The nodes' decision logs (``preferences.decisions``) collected into Redis: counts per hour,
recent decisions, rotation; and what the wall, the home page and an object's history read of them.

Lines come from the real notify-filter (a separate process, as Naemon runs it) or from its
own writer (``notify_filter.write_log``) where a test needs many or dated ones. The
collector runs as the node's worker runs it (the Celery task, eagerly here) against the
test Redis; the wall and the home page then read only Redis.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import DjangoAssertNumQueries, Settings

from livestatus import home, overview_store, tops
from livestatus.tasks import KEY_COLLECT_SENT, enqueue_notification_logs, refresh_status_snapshot
from monitoring_portal.celery import app as celery_app
from preferences import decisions, notify_filter, snapshot
from preferences.decisions import Collector
from preferences.tasks import collect_notification_log
from registry.models import Contact, NaemonNode
from tests.factories import NaemonNodeFactory
from tests.services.icinga import free_tcp_port

pytestmark = [pytest.mark.django_db, pytest.mark.services]

REPO = Path(__file__).resolve().parents[2]
RULES: dict[str, dict[str, object]] = {
    "alice": {"rules": [{"id": 7, "action": "suppress", "states": ["WARNING"]}]},
}


def stamp(when: float) -> str:
    """A time as the filter writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"


def write_decision(log: Path, contact: str, when: float | None = None, **fields: Any) -> None:
    """One line through the filter's own writer, with the fields the filter writes."""
    record: dict[str, Any] = {
        "time": stamp(time.time() if when is None else when),
        "contact": contact,
        "channel": "email",
        "type": "PROBLEM",
        "host": "web-01",
        "service": "http",
        "state": "CRITICAL",
        "id": "42",
        "decision": "notify",
        "rule": None,
        "reason": "no rule matched: default notify",
        "duration_ms": 0.4,
    }
    notify_filter.write_log(str(log), record | fields)


class FilterNode:
    """A node's notify directory, written by the real notify-filter."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "decisions.log"
        (root / "state").mkdir(parents=True)
        # As the portal publishes it for a node alone: it notifies everything it holds.
        alone = snapshot.cluster_part("master", ["master"], {}, {"": "master"})
        snapshot.write_snapshot(root / "snapshot", RULES, cluster=alone)

    def notify(
        self, contact: str, *, host: str = "web-01", service: str = "http", state: str = "CRITICAL"
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "preferences.notify_filter",
            *("--contact", contact, "--channel", "email", "--type", "PROBLEM"),
            *("--host", host, "--hostgroups", "web", "--service", service, "--servicegroups", ""),
            *("--state", state, "--id", "42"),
            *("--snapshot-dir", str(self.root / "snapshot"), "--state-dir", str(self.root / "state")),
            *("--log", str(self.log)),
        ]
        # Gate form: exit 0 = notify, 86 = suppress.
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode in (0, 86), done.stderr


@pytest.fixture
def store(redis_url: str, settings: Settings) -> Iterator[redis.Redis]:
    """The real Redis, with no collected notifications before or after the test."""
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)

    def clean() -> None:
        keys: list[Any] = list(client.scan_iter(f"{decisions.KEY_PREFIX}:*"))
        keys += [overview_store.KEY_SNAPSHOT, overview_store.KEY_PAYLOAD, overview_store.KEY_LOCK]
        client.delete(*keys)

    clean()
    yield client
    clean()
    client.close()


@pytest.fixture
def node(tmp_path: Path) -> NaemonNode:
    """A node whose worker shares this machine (the test): its notify_dir is a temporary directory."""
    (tmp_path / "notify").mkdir()
    dead = f"tcp:127.0.0.1:{free_tcp_port()}"  # nothing listens: the status part is not the point
    return NaemonNodeFactory.create(name="master", notify_dir=str(tmp_path / "notify"), livestatus=dead)


def log_of(node: NaemonNode) -> Path:
    return Path(node.notify_dir) / "decisions.log"


def collect(node: NaemonNode) -> dict[str, Any]:
    """Run the node's task as its worker would (in this process)."""
    result: dict[str, Any] | None = collect_notification_log.apply(args=(node.pk,)).get()
    assert result is not None
    return result


def counts(client: redis.Redis, *nodes: NaemonNode) -> dict[str, int]:
    top = decisions.most_notified_collected(client, [n.pk for n in nodes], time.time(), rows=100)
    return {row["contact"]: row["count"] for row in top["rows"]}


def recent(client: redis.Redis, contact: str, *nodes: NaemonNode, limit: int = 50) -> list[dict[str, Any]]:
    found = decisions.recent_collected(client, [n.pk for n in nodes], contact, limit)
    assert found is not None
    return found


def test_the_real_filters_lines_are_counted_once_and_kept_per_contact(
    store: redis.Redis, node: NaemonNode
) -> None:
    filter_node = FilterNode(Path(node.notify_dir))
    filter_node.notify("alice", state="CRITICAL")
    filter_node.notify("alice", service="disk", state="WARNING")  # rule 7: suppressed
    filter_node.notify("bob")  # not in the snapshot: sent (fail open)
    filter_node.notify("alice", service="disk", state="CRITICAL")

    assert decisions.recent_collected(store, [node.pk], "alice", 15) is None  # nothing read yet
    first = collect(node)
    assert first["lines"] == 4 and first["notified"] == 3 and first["node"] == "master"
    assert counts(store, node) == {"alice": 2, "bob": 1}  # a suppressed one is no notification
    mine = recent(store, "alice", node)
    assert [(r["service"], r["state"], r["decision"]) for r in mine] == [
        ("disk", "CRITICAL", "notify"),
        ("disk", "WARNING", "suppress"),
        ("http", "CRITICAL", "notify"),
    ]
    assert mine[1]["rule"] == 7 and mine[1]["channel"] == "email" and mine[1]["type"] == "PROBLEM"
    assert set(mine[0]) == {*decisions.RECENT_FIELDS, "_ts"}
    assert recent(store, "bob", node)[0]["reason"] == "unknown contact"

    # Nothing new: nothing added. Then only the new lines are.
    assert collect(node)["lines"] == 0
    assert counts(store, node) == {"alice": 2, "bob": 1} and len(recent(store, "alice", node)) == 3
    filter_node.notify("alice", host="db-01", service="postgres")
    assert collect(node)["lines"] == 1
    assert counts(store, node) == {"alice": 3, "bob": 1}
    assert recent(store, "alice", node)[0]["host"] == "db-01" and len(recent(store, "alice", node)) == 4


def test_rotation_by_rename_reads_the_rest_of_the_old_file_then_the_new_one(
    store: redis.Redis, node: NaemonNode
) -> None:
    log = log_of(node)
    for _ in range(3):
        write_decision(log, "alice")
    collect(node)
    write_decision(log, "alice", host="late-1")  # written after the last run, before rotation
    log.rename(log.with_name("decisions.log.1"))
    assert collect(node)["lines"] == 1  # rotated, no new file yet: the rest of the old one
    write_decision(log, "alice", host="new-1")
    write_decision(log, "bob")
    assert collect(node)["lines"] == 2
    assert collect(node)["lines"] == 0
    assert counts(store, node) == {"alice": 5, "bob": 1}
    hosts = [r["host"] for r in recent(store, "alice", node)]
    assert hosts == ["new-1", "late-1", "web-01", "web-01", "web-01"]  # each line once

    # Rotated again while the new file had unread lines, and the new-new file already written.
    write_decision(log, "alice", host="late-2")
    log.rename(log.with_name("decisions.log.2"))
    write_decision(log, "alice", host="new-2")
    assert collect(node)["lines"] == 2
    assert counts(store, node) == {"alice": 7, "bob": 1}


def test_copy_and_truncate_is_read_once(store: redis.Redis, node: NaemonNode) -> None:
    log = log_of(node)
    for _ in range(3):
        write_decision(log, "alice")
    collect(node)
    write_decision(log, "alice", host="late")
    shutil.copyfile(log, log.with_name("decisions.log.1"))  # logrotate's copytruncate
    with open(log, "r+b") as handle:
        handle.truncate(0)
    # The same inode, written again past the old offset before the next run: the first
    # bytes tell that it is another file.
    for n in range(5):
        write_decision(log, "bob", host=f"after-{n}", reason="x" * 50)
    assert log.stat().st_size > int(store.hget(decisions.state_key(node.pk), "offset") or 0)
    assert collect(node)["lines"] == 6
    assert collect(node)["lines"] == 0
    assert counts(store, node) == {"alice": 4, "bob": 5}

    # Emptied in place without a copy: the new lines from the start, the lost ones are gone.
    log.write_bytes(b"")
    write_decision(log, "carol")
    assert collect(node)["lines"] == 1
    assert counts(store, node) == {"alice": 4, "bob": 5, "carol": 1}


def test_only_the_last_day_is_counted_and_buckets_expire(store: redis.Redis, node: NaemonNode) -> None:
    now = time.time()
    log = log_of(node)
    write_decision(log, "alice", now - 2 * 86400, host="old")
    write_decision(log, "alice", now - 3 * 3600)
    write_decision(log, "alice", now - 60)
    write_decision(log, "alice", now - 30, decision="error", reason="cannot run 'mail'")
    log.write_bytes(log.read_bytes() + b"not json\n[1, 2]\n")
    assert collect(node)["lines"] == 4  # lines that are no decision are skipped
    assert counts(store, node) == {"alice": 2}
    assert [r["host"] for r in recent(store, "alice", node)][-1] == "old"  # listed, not counted
    buckets = list(store.scan_iter(f"{decisions.KEY_PREFIX}:{node.pk}:sent:*"))
    assert len(buckets) == 2
    for bucket in buckets:
        assert 0 < store.ttl(bucket) <= decisions.BUCKET_SECONDS
    assert 0 < store.ttl(decisions.recent_key(node.pk, "alice")) <= decisions.KEPT_SECONDS


def test_recent_decisions_are_capped_and_a_new_log_is_read_from_its_end(
    store: redis.Redis, node: NaemonNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = log_of(node)
    for n in range(decisions.RECENT_KEPT + 20):
        write_decision(log, "alice", host=f"h-{n}")
    collect(node)
    hosts = [r["host"] for r in recent(store, "alice", node, limit=100)]
    assert len(hosts) == decisions.RECENT_KEPT and hosts[0] == f"h-{decisions.RECENT_KEPT + 19}"

    # A log first seen: only its end, from a line start (the cut line is not misread).
    other = NaemonNodeFactory.create(name="other", notify_dir=node.notify_dir)
    line_length = len(log.read_bytes().splitlines()[-1]) + 1
    monkeypatch.setattr(decisions, "FIRST_READ_BYTES", line_length * 3 + 5)
    assert collect(other)["lines"] == 3
    assert counts(store, other) == {"alice": 3}


def test_overlapping_runs_count_each_line_once(store: redis.Redis, node: NaemonNode) -> None:
    log = log_of(node)
    for _ in range(4):
        write_decision(log, "alice")
    now = time.time()
    first = Collector(store, node.pk, log, now=now)
    second = Collector(store, node.pk, log, now=now)  # started before the first one committed
    assert first.run()["lines"] == 4
    assert second.run() == {
        "node": node.pk,
        "path": str(log),
        "skipped": "another run moved the offset",
        "lines": 0,
        "notified": 0,
        "offset": 0,
    }
    assert counts(store, node) == {"alice": 4}


def test_two_nodes_are_summed_and_a_node_without_a_log_is_no_error(
    store: redis.Redis, node: NaemonNode, tmp_path: Path
) -> None:
    (tmp_path / "poller").mkdir()
    poller = NaemonNodeFactory.create(name="poller", role="poller", notify_dir=str(tmp_path / "poller"))
    empty = NaemonNodeFactory.create(name="empty", notify_dir=str(tmp_path / "nowhere"))
    write_decision(log_of(node), "alice", time.time() - 20, host="on-master")
    write_decision(log_of(poller), "alice", time.time() - 10, host="on-poller")
    write_decision(log_of(poller), "bob")
    for each in (node, poller, empty):
        collect(each)
    assert counts(store, node, poller, empty) == {"alice": 2, "bob": 1}
    assert [r["host"] for r in recent(store, "alice", node, poller)] == ["on-poller", "on-master"]
    assert decisions.recent_collected(store, [empty.pk], "alice", 15) is None  # never seen a log
    off = NaemonNodeFactory.create(name="off", enabled=False)
    assert collect_notification_log.apply(args=(off.pk,)).get() is None


def test_the_refresh_sends_one_collection_per_node_queue_per_interval(
    store: redis.Redis, node: NaemonNode, redis_url: str, settings: Settings
) -> None:
    """Routed through the real broker (Redis): one message on ``naemon.<node>``, expiring."""
    NaemonNodeFactory.create(name="disabled", enabled=False)
    queue = node.queue
    store.delete(queue)
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.broker_url)
    conf.update(task_always_eager=False, broker_url=redis_url)
    # An earlier eager task may have built the app's producer pool for the default broker;
    # Celery's close() drops that pool only when a connection pool exists too.
    celery_app.close()
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]  # private, see above
    try:
        assert enqueue_notification_logs() == ["master"]
        assert enqueue_notification_logs() == []  # the same interval: coalesced
        messages = [json.loads(raw) for raw in store.lrange(queue, 0, -1)]
    finally:
        conf.update(task_always_eager=saved[0], broker_url=saved[1])
        store.delete(queue)
        celery_app.close()  # the broker connections made for this test
    assert len(messages) == 1
    headers = messages[0]["headers"]
    assert headers["task"] == "livestatus.tasks.collect_notification_log"
    args, kwargs, _ = json.loads(base64.b64decode(messages[0]["body"]))
    assert headers["expires"] and args == [node.pk] and kwargs == {}
    assert store.ttl(KEY_COLLECT_SENT) > 0


def test_the_wall_and_the_home_page_show_what_was_collected(
    store: redis.Redis,
    node: NaemonNode,
    owner: User,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    filter_node = FilterNode(Path(node.notify_dir))
    filter_node.notify("owner-contact", host="web-1", service="http")
    filter_node.notify("owner-contact", host="web-1", service="http")
    filter_node.notify("someone-else")
    write_decision(
        log_of(node), "owner-contact", decision="suppress", service="disk", rule=3, reason="rule 3"
    )

    refresh_status_snapshot.apply().get()  # enqueues the collection (run inline here), then refreshes
    wall = json.loads(overview_store.data_response_body())["snapshot"]
    assert wall["tops"]["notified"] == {
        "available": True,
        "rows": [{"contact": "owner-contact", "count": 2}, {"contact": "someone-else", "count": 1}],
    }

    # The portal's disk has no log now (a remote node): the page reads only Redis.
    log_of(node).unlink()
    Contact.objects.create(name="owner-contact", user=owner)
    web = Client()
    web.force_login(owner)
    with django_assert_max_num_queries(12):
        html = web.get("/").content.decode()
    section = html[html.index('id="my-notifications"') :]
    shown = [chunk.split('"', 1)[0] for chunk in section.split('<tr data-decision="')[1:]]
    assert shown == ["suppress", "notify", "notify"]
    assert "web-1 / http" in section and "rule 3" in section and "someone-else" not in section

    # Another contact, nothing collected for it: the section says so; no node read: hidden.
    Contact.objects.filter(name="owner-contact").update(name="nobody")
    assert "No notifications for nobody" in web.get("/").content.decode()
    store.delete(decisions.state_key(node.pk))
    assert 'id="my-notifications"' not in web.get("/").content.decode()


def test_redis_not_answering_hides_the_notifications_but_not_the_page(
    owner: User, node: NaemonNode, settings: Settings
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_tcp_port()}/0"
    write_decision(log_of(node), "owner-contact")
    Contact.objects.create(name="owner-contact", user=owner)
    assert home.recent_notifications("owner-contact") is None
    assert tops.most_notified([node], time.time()) == {"available": False, "rows": []}
    assert home.has_decision_logs() is False
    web = Client()
    web.force_login(owner)
    response = web.get("/")
    assert response.status_code == 200 and b'id="my-notifications"' not in response.content


# -- an object's decisions, for its history -------------------------------------------------


def test_an_objects_decisions_are_collected_for_its_history(store: redis.Redis, node: NaemonNode) -> None:
    """The real filter's lines about web-01/http, read back per object; other objects apart."""
    filter_node = FilterNode(Path(node.notify_dir))
    since = time.time() - 1
    assert decisions.object_decisions_collected(store, node.pk, "web-01", "http", since) is None
    filter_node.notify("alice", state="WARNING")  # rule 7: suppressed
    filter_node.notify("bob")
    filter_node.notify("alice", service="disk")
    collect(node)
    found = decisions.object_decisions_collected(store, node.pk, "web-01", "http", since)
    assert found is not None
    assert [(d["contact"], d["decision"], d["rule"]) for d in found] == [
        ("alice", "suppress", 7),
        ("bob", "notify", None),
    ]
    assert found[0]["channel"] == "email" and found[0]["type"] == "PROBLEM" and found[0]["_ts"] >= since
    disk = decisions.object_decisions_collected(store, node.pk, "web-01", "disk", since)
    assert [d["contact"] for d in disk or []] == ["alice"]
    # Older than asked: left out.
    assert decisions.object_decisions_collected(store, node.pk, "web-01", "http", time.time() + 5) == []


def _line(
    contact: str, ts: float, type: str | None = "PROBLEM", channel: str | None = "email"
) -> dict[str, Any]:
    return {"contact": contact, "ts": ts, "type": type, "channel": channel}


def _decision(contact: str, ts: float, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time": stamp(ts),
        "contact": contact,
        "channel": "email",
        "type": "PROBLEM",
        "id": "1",
    }
    record |= {"decision": "notify", "rule": None, "reason": "", **fields}
    return record | {"_ts": decisions.decision_time(record["time"])}


def test_each_notification_line_gets_the_nearest_decision_of_its_contact_type_and_channel() -> None:
    t = 1_800_000_000.0
    lines = [
        _line("alice", t),
        _line("alice", t + 300),  # a re-notification five minutes later
        _line("bob", t),
        _line("carol", t),  # the filter recorded nothing for carol
        _line("dave", t, type="RECOVERY"),  # dave's decision is about a PROBLEM
        _line("erin", t, channel="sms"),  # erin's decision is about email
        _line("frank", t),  # frank's decision is too far away
        _line("gina", t, type=None, channel=None),  # a line that says neither: any
    ]
    recorded = [
        _decision("alice", t + 301.2, decision="suppress", rule=4),
        _decision("alice", t + 0.4, decision="suppress", rule=3),
        # bob: decided to send, then could not run the command (the filter's second line).
        _decision("bob", t - 0.5, id="9"),
        _decision("bob", t - 0.5, id="9", decision="error", reason="cannot run"),
        _decision("dave", t),
        _decision("erin", t),
        _decision("frank", t + decisions.MATCH_SECONDS + 1),
        _decision("gina", t + 2, type="CUSTOM", channel="pager"),
    ]
    found = decisions.match_notifications(lines, recorded)
    assert [None if d is None else (d["contact"], d["decision"], d["rule"]) for d in found] == [
        ("alice", "suppress", 3),
        ("alice", "suppress", 4),
        ("bob", "error", None),
        None,
        None,
        None,
        None,
        ("gina", "notify", None),
    ]
    # One decision explains one line: two lines of the same second share none.
    twice = decisions.match_notifications([_line("alice", t), _line("alice", t)], [_decision("alice", t)])
    assert sum(d is not None for d in twice) == 1
