"""The status snapshot: merging nodes' rows, stale carry-over, the tops, storage in Redis.

Merging across nodes is tested with per-node rows fed to ``build_snapshot``; collecting
runs against a real Icinga 2 (a private one, with its own hosts) plus a node address
where nothing listens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client
from pytest_django.fixtures import Settings

from livestatus import nodes, overview, overview_store, tops, wall_kiosk
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from livestatus.nodes import client_for, forget_clients, merge_objects
from livestatus.tasks import refresh_status_snapshot
from preferences import decisions
from registry.choices import DeploymentState, NodeRole
from registry.models import NaemonNode
from tests.factories import DeploymentFactory, HostGroupFactory, NaemonNodeFactory, PollerFactory
from tests.services.icinga import Host, IcingaServer, Service, free_tcp_port, wait_until
from tests.services.replay import ReplayServer, fixed16, header_value, json_body

NOW = 1_800_000_000.0

WALL_HOSTS = (
    Host("app-01", services=(Service("http"), Service("disk")), groups=("web", "linux")),
    Host("app-02", services=(Service("http"),), groups=("web", "linux")),
    Host("db-01", services=(Service("postgres"),), groups=("db",)),
)


# -- merging per-node rows ---------------------------------------------------------


def svc(host: str, service: str, state: int, since: int, **extra: Any) -> dict[str, Any]:
    row = {
        "host_name": host,
        "description": service,
        "state": state,
        "state_type": 1,
        "last_state_change": since,
        "plugin_output": f"{service} is {state}",
        "acknowledged": False,
        "scheduled_downtime_depth": 0,
        "host_scheduled_downtime_depth": 0,
        "host_groups": ["web"] if host.startswith("web") else ["db"],
    }
    return row | extra


def host_row(name: str, state: int, since: int, **extra: Any) -> dict[str, Any]:
    row = {
        "name": name,
        "state": state,
        "state_type": 1,
        "last_state_change": since,
        "plugin_output": "PING CRITICAL",
        "acknowledged": False,
        "scheduled_downtime_depth": 0,
        "groups": ["db"],
    }
    return row | extra


def stats(**counts: int) -> dict[str, int]:
    return counts


def node(name: str, role: str = NodeRole.MASTER, reachable: bool = True, error: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "role": role,
        "address": f"tcp:{name}:6557",
        "reachable": reachable,
        "error": error,
        "program_start": 1_799_990_000 if reachable else None,
        "version": "1.4.1" if reachable else "",
        "deployment": None,
    }


def two_nodes() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """master (everything but the web group, which its poller owns) and poller-web."""
    return {
        "master": {
            "hosts": [stats(up=5, down=1, unreachable=0, pending=1)],
            "services": [stats(ok=20, warning=1, critical=0, unknown=1, pending=0)],
            "group_hosts": [{"hostgroup_name": "db", **stats(up=2, down=1, unreachable=0, pending=0)}],
            "group_services": [
                {"hostgroup_name": "db", **stats(ok=8, warning=1, critical=0, unknown=1, pending=0)}
            ],
            "host_problems": [host_row("db-02", 1, 1000)],
            "service_problems": [
                svc("db-01", "postgres", 1, 3000),
                svc("db-01", "backup", 3, 2000),
                svc("db-03", "disk", 1, 4000, acknowledged=True),
                # The master's stale copy of a poller's service: the poller's row wins.
                svc("web-01", "http", 1, 500),
            ],
        },
        "poller-web": {
            "hosts": [stats(up=3, down=0, unreachable=0, pending=0)],
            "services": [stats(ok=10, warning=0, critical=2, unknown=0, pending=2)],
            "group_hosts": [{"hostgroup_name": "web", **stats(up=3, down=0, unreachable=0, pending=0)}],
            "group_services": [
                {"hostgroup_name": "web", **stats(ok=10, warning=0, critical=2, unknown=0, pending=2)}
            ],
            "host_problems": [],
            "service_problems": [
                svc("web-01", "http", 2, 5000),
                svc("web-03", "disk", 2, 5500),
                svc("web-02", "http", 2, 6000, scheduled_downtime_depth=1),
                svc("web-02", "disk", 2, 7000, host_scheduled_downtime_depth=1),
            ],
        },
    }


def test_merge_two_nodes_adds_counts_and_dedupes_problems() -> None:
    snapshot = overview.build_snapshot(
        now=NOW,
        nodes=[node("master"), node("poller-web", NodeRole.POLLER)],
        rows=two_nodes(),
        queries=14,
    )
    assert snapshot["hosts"] == {
        "up": 8,
        "down": 1,
        "unreachable": 0,
        "pending": 1,
        "total": 10,
        "unhandled": 1,
    }
    assert snapshot["services"] == {
        "ok": 30,
        "warning": 1,
        "critical": 2,
        "unknown": 1,
        "pending": 2,
        "total": 36,
        "unhandled": 4,
    }
    groups = {g["name"]: g for g in snapshot["hostgroups"]}
    assert groups["web"]["severity"] == "critical" and groups["web"]["nodes"] == ["poller-web"]
    assert groups["db"]["severity"] == "down" and groups["db"]["unhandled"] == 3
    # Worst first.
    assert [g["name"] for g in snapshot["hostgroups"]] == ["db", "web"]

    problems = [(p["kind"], p["host"], p["service"], p["label"], p["node"]) for p in snapshot["problems"]]
    # Acknowledged and (host) downtime are handled; the master's copy of web-01/http is gone.
    # Severity first (host down, critical, unknown, warning), then the newest first.
    assert problems == [
        ("host", "db-02", "", "DOWN", "master"),
        ("service", "web-03", "disk", "CRITICAL", "poller-web"),
        ("service", "web-01", "http", "CRITICAL", "poller-web"),
        ("service", "db-01", "backup", "UNKNOWN", "master"),
        ("service", "db-01", "postgres", "WARNING", "master"),
    ]
    assert snapshot["problems_total"] == 5
    assert snapshot["unreachable"] == []
    assert snapshot["taken_at"] == NOW and snapshot["queries"] == 14
    assert all(n["last_ok"] == NOW for n in snapshot["nodes"])
    # Open problems per host count handled ones too.
    assert snapshot["tops"]["problem_hosts"][:2] == [
        {"host": "db-01", "problems": 2, "node": "master"},
        {"host": "web-02", "problems": 2, "node": "poller-web"},
    ]
    assert snapshot["tops"]["noisiest"] == {"available": False, "rows": []}

    payload = overview.wall_payload(snapshot)
    assert "groups" not in payload["problems"][0]
    assert "address" not in payload["nodes"][0] and "address" in snapshot["nodes"][0]  # kiosks see less
    json.dumps(payload)  # plain JSON all the way down


def test_two_masters_reporting_one_problem_show_it_from_the_node_the_status_pages_name() -> None:
    """Without a poller, the first master by name wins, on the wall as on the status pages."""
    rows = {
        name: {"service_problems": [svc("db-01", "postgres", 2, 3000, plugin_output=f"seen by {name}")]}
        for name in ("master-b", "master-a")
    }
    snapshot = overview.build_snapshot(now=NOW, nodes=[node("master-a"), node("master-b")], rows=rows)
    (problem,) = snapshot["problems"]
    assert (problem["node"], problem["output"]) == ("master-a", "seen by master-a")
    (row,) = merge_objects(
        [
            {"kind": "service", "host": "db-01", "service": "postgres", "node": n}
            for n in ("master-b", "master-a")
        ],
        {"master-a": NodeRole.MASTER, "master-b": NodeRole.MASTER},
    )
    assert row["node"] == problem["node"]


def test_wall_payload_hides_node_addresses_even_inside_error_texts() -> None:
    """Kiosk links are anonymous: no node address or socket path in what they are sent."""
    poller = node("poller-web", NodeRole.POLLER, reachable=False, error="cannot connect: refused")
    poller["address"] = "tcp:10.0.0.5:6557"
    master = node("master") | {"address": "unix:/var/cache/naemon/live"}
    snapshot = overview.build_snapshot(
        now=NOW,
        nodes=[master, poller],
        rows={"master": two_nodes()["master"]},
        deployments=[
            {
                "node": "poller-web",
                "state": "failed",
                "at": NOW,
                "reason": "registry change",
                # A deploy error quoting the client's str(error), and the raw path.
                "error": "livestatus tcp:10.0.0.5:6557: timed out; core at 10.0.0.5, "
                "socket /var/cache/naemon/live",
                "triggered_by": "alice",
            }
        ],
    )
    text = json.dumps(overview.wall_payload(snapshot))
    for secret in ("10.0.0.5", "6557", "/var/cache/naemon/live", "unix:", "tcp:", "alice"):
        assert secret not in text, secret
    nodes = {n["name"]: n for n in overview.wall_payload(snapshot)["nodes"]}
    assert nodes["poller-web"]["error"] == "cannot connect: refused"
    assert "timed out" in text and "(address hidden)" in text  # the reason is still said


def test_an_unreachable_node_keeps_its_last_known_state_greyed() -> None:
    first = overview.build_snapshot(
        now=NOW, nodes=[node("master"), node("poller-web", NodeRole.POLLER)], rows=two_nodes()
    )
    rows = two_nodes()
    del rows["poller-web"]
    second = overview.build_snapshot(
        now=NOW + 5,
        nodes=[
            node("master"),
            node("poller-web", NodeRole.POLLER, reachable=False, error="connection refused"),
        ],
        rows=rows,
        previous=first,
        placement={"web": "poller-web", "edge": "poller-web", "db": "master"},
    )
    assert second["unreachable"] == ["poller-web"]
    dead = next(n for n in second["nodes"] if n["name"] == "poller-web")
    assert dead["last_ok"] == NOW and dead["error"] == "connection refused" and dead["version"] == "1.4.1"
    groups = {g["name"]: g for g in second["hostgroups"]}
    assert groups["web"]["stale"] is True and groups["web"]["severity"] == "critical"  # last known
    assert groups["edge"]["stale"] is True and groups["edge"]["severity"] == "pending"  # never seen
    assert groups["db"]["stale"] is False
    problems = {(p["host"], p["service"]): p for p in second["problems"]}
    # Only the poller knew web-03: its last known problem stays, flagged.
    assert problems["web-03", "disk"]["stale"] is True and problems["web-03", "disk"]["node"] == "poller-web"
    # The master answers for web-01 now that its poller does not: fresh, the master's state.
    assert problems["web-01", "http"]["label"] == "WARNING" and "stale" not in problems["web-01", "http"]
    # Counts are what answered now; stale problems are not counted as fresh ones.
    assert second["services"]["critical"] == 0 and second["services"]["unhandled"] == 3


def test_nothing_answered_yet() -> None:
    snapshot = overview.build_snapshot(now=NOW, nodes=[], rows={})
    assert snapshot["hosts"]["total"] == 0 and snapshot["hostgroups"] == [] and snapshot["problems"] == []
    assert overview_store.freshness(snapshot, NOW + 1)["stale"] is False
    assert overview_store.freshness(snapshot, NOW + 3600)["stale"] is True
    assert overview_store.freshness(None)["missing"] is True


def test_masters_leave_out_the_groups_of_reachable_pollers() -> None:
    query = overview.without_groups(overview.SERVICE_STATS, "host_groups", {"web", "db"})
    lines = query.header_lines()
    assert "Filter: host_groups < db" in lines and "Filter: host_groups < web" in lines
    assert overview.QUERIES_PER_REFRESH == 7


def test_noisiest_counts_a_service_seen_by_two_cores_once() -> None:
    log = {
        "available": True,
        "per_node": {
            "master": [{"host_name": "web-01", "service_description": "http", "changes": 7}],
            "poller": [
                {"host_name": "web-01", "service_description": "http", "changes": 9},
                {"host_name": "web-02", "service_description": "disk", "changes": 2},
            ],
        },
    }
    assert tops.noisiest(log)["rows"] == [
        {"host": "web-01", "service": "http", "changes": 9},
        {"host": "web-02", "service": "disk", "changes": 2},
    ]
    assert tops.noisiest({"available": False, "per_node": {}})["available"] is False


def decision(contact: str, when: float, decision: str = "notify", **extra: Any) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + ".000Z"
    record = {
        "time": stamp,
        "contact": contact,
        "channel": "email",
        "type": "PROBLEM",
        "host": "web-01",
        "service": "http",
        "state": "CRITICAL",
        "decision": decision,
        "reason": "default",
    }
    return json.dumps(record | extra)


def test_without_redis_most_notified_reads_the_decision_logs(tmp_path: Path) -> None:
    """The fallback where the portal and the filter share a machine (tests/livestatus/test_notification_log.py: Redis)."""
    now = time.time()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "decisions.log").write_text(
        "\n".join(
            [
                decision("alice", now - 60),
                decision("alice", now - 120),
                decision("bob", now - 60, "suppress"),
                decision("carol", now - 2 * 86400),  # older than a day
                "not json",
                decision("bob", now - 30),
            ]
        )
        + "\n"
    )
    (tmp_path / "b" / "decisions.log").write_text(decision("alice", now - 10) + "\n")
    paths = [tmp_path / "a" / "decisions.log", tmp_path / "b" / "decisions.log"]
    assert decisions.most_notified(paths, now) == {
        "available": True,
        "rows": [{"contact": "alice", "count": 3}, {"contact": "bob", "count": 1}],
    }
    assert decisions.most_notified([], now)["available"] is False
    # Only the end of a long log is read; a cut first line is dropped, not misparsed.
    tail = list(decisions.read_decisions(paths[:1], max_bytes=300))
    assert tail and all(r["contact"] in ("bob", "carol", "alice") for r in tail)


# -- collecting from real cores ------------------------------------------------------


@pytest.fixture(scope="module")
def wall_icinga(icinga_binary: str) -> Iterator[IcingaServer]:
    """An Icinga 2 of our own: tests here change states that others must not see."""
    server = IcingaServer(binary=icinga_binary, name="dashboard", hosts=WALL_HOSTS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_clients() -> Iterator[None]:
    forget_clients()
    nodes.forget_clusters()
    overview_store.forget_local()
    yield
    forget_clients()
    nodes.forget_clusters()
    overview_store.forget_local()


def set_service(client: LivestatusClient, host: str, service: str, state: int, output: str) -> None:
    """A passive check result, then wait until the core shows it."""
    client.command(commands.process_service_check_result(host, service, state, output))
    query = (
        LivestatusQuery("services")
        .select("state")
        .where(Filter("host_name", "=", host), Filter("description", "=", service))
    )
    wait_until(lambda: client.query(query)[0]["state"] == state, timeout=15, what=f"{host}/{service}={state}")


def set_host(client: LivestatusClient, host: str, state: int) -> None:
    client.command(commands.process_host_check_result(host, state, "ping"))
    query = LivestatusQuery("hosts").select("state").where(Filter("name", "=", host))
    wait_until(lambda: client.query(query)[0]["state"] == state, timeout=15, what=f"{host}={state}")


@pytest.mark.services
@pytest.mark.django_db
def test_refresh_against_icinga_and_a_dead_node(
    wall_icinga: IcingaServer, fresh_clients: None, settings: Settings
) -> None:
    settings.REDIS_URL = ""
    master = NaemonNodeFactory.create(name="master", livestatus=wall_icinga.unix_address)
    dead = PollerFactory.create(name="dead", livestatus=f"tcp:127.0.0.1:{free_tcp_port()}")
    HostGroupFactory.create(name="edge", node=dead)
    DeploymentFactory.create(node=master, state=DeploymentState.CONFIRMED, reason="first")
    client = client_for(NaemonNode.objects.get(name="master"))
    for host in ("app-01", "app-02", "db-01"):
        set_host(client, host, 0)
    set_service(client, "app-01", "http", 2, "HTTP CRITICAL - 503")
    set_service(client, "app-02", "http", 0, "HTTP OK")
    set_service(client, "db-01", "postgres", 1, "slow queries")
    client.command(
        commands.acknowledge_service("db-01", "postgres", "looking", author="tester", notify=False)
    )
    wait_until(
        lambda: client.query(
            LivestatusQuery("services")
            .select("acknowledged")
            .where(Filter("host_name", "=", "db-01"), Filter("description", "=", "postgres"))
        )[0]["acknowledged"],
        what="acknowledged",
    )

    summary = refresh_status_snapshot.apply().get()  # as the beat would, in this process
    snapshot = overview_store.get_snapshot()
    assert snapshot is not None and summary["taken_at"] == snapshot["taken_at"]
    # Two nodes asked for status, the one that answered six more questions, and the log once.
    assert snapshot["queries"] == 2 + (overview.QUERIES_PER_REFRESH - 1) + tops.LOG_QUERIES
    nodes = {n["name"]: n for n in snapshot["nodes"]}
    assert nodes["master"]["reachable"] is True and "icinga2" in nodes["master"]["version"]
    assert nodes["master"]["deployment"]["state"] == "confirmed"
    assert nodes["dead"]["reachable"] is False and "cannot connect" in nodes["dead"]["error"]
    assert snapshot["unreachable"] == ["dead"]
    # What an anonymous kiosk link is sent: the reason, never the node's address or socket path.
    kiosk_body = Client().get("/wall/data/", {"kiosk": wall_kiosk.make_token("screen")})
    assert kiosk_body.status_code == 200
    text = kiosk_body.content.decode()
    assert "cannot connect" in text
    for secret in (dead.livestatus, dead.livestatus.removeprefix("tcp:"), str(wall_icinga.socket_path)):
        assert secret not in text, secret

    assert snapshot["hosts"]["up"] == 3 and snapshot["hosts"]["down"] == 0
    assert snapshot["services"]["critical"] == 1 and snapshot["services"]["warning"] == 1
    assert snapshot["services"]["pending"] == 1  # app-01/disk never got a result
    problems = [(p["host"], p["service"], p["label"]) for p in snapshot["problems"]]
    assert problems == [("app-01", "http", "CRITICAL")]  # the acknowledged warning is handled
    assert snapshot["problems"][0]["node"] == "master" and snapshot["problems"][0]["since"]
    groups = {g["name"]: g for g in snapshot["hostgroups"]}
    assert groups["web"]["severity"] == "critical" and groups["web"]["hosts"]["up"] == 2
    assert groups["db"]["severity"] == "warning" and groups["db"]["unhandled"] == 0
    assert groups["edge"]["stale"] is True  # placed on the dead node
    # Icinga 2 here writes a compat log, so its log table answers: app-01/http changed state.
    noisiest = snapshot["tops"]["noisiest"]
    assert noisiest["available"] is True
    changes = {(r["host"], r["service"]): r["changes"] for r in noisiest["rows"]}
    assert changes.get(("app-01", "http"), 0) >= 1, noisiest
    assert snapshot["tops"]["problem_hosts"][0]["host"] in ("app-01", "db-01")


@pytest.mark.services
@pytest.mark.django_db
def test_without_redis_the_snapshot_is_computed_on_request_and_kept_briefly(
    wall_icinga: IcingaServer, fresh_clients: None, settings: Settings
) -> None:
    settings.REDIS_URL = ""
    settings.WALL_REFRESH_SECONDS = 60
    NaemonNodeFactory.create(name="master", livestatus=wall_icinga.unix_address)
    client = client_for(NaemonNode.objects.get(name="master"))
    assert client.dialect == "icinga2"  # detected once per client, not per refresh
    before = client.requests_sent
    first = overview_store.get_snapshot()
    second = overview_store.get_snapshot()
    body = json.loads(overview_store.data_response_body())
    assert first is not None and second is not None and first["taken_at"] == second["taken_at"]
    assert body["snapshot"]["taken_at"] == first["taken_at"]
    # One refresh (with the tops' log queries) for three reads.
    assert client.requests_sent - before == overview.QUERIES_PER_REFRESH + tops.LOG_QUERIES


@pytest.fixture
def wall_redis(redis_url: str, settings: Settings) -> Iterator[redis.Redis]:
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    keys = (overview_store.KEY_SNAPSHOT, overview_store.KEY_PAYLOAD, overview_store.KEY_LOCK)
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()


@pytest.mark.services
@pytest.mark.django_db
def test_redis_holds_the_snapshot_and_pages_only_read_it(
    wall_icinga: IcingaServer, fresh_clients: None, wall_redis: redis.Redis
) -> None:
    assert overview_store.get_snapshot() is None  # pages never compute when Redis is configured
    assert json.loads(overview_store.data_response_body())["snapshot"] is None
    NaemonNodeFactory.create(name="master", livestatus=wall_icinga.unix_address)
    client = client_for(NaemonNode.objects.get(name="master"))

    first = overview_store.refresh()
    assert first["unreachable"] == []
    before = client.requests_sent
    for _ in range(20):
        body = json.loads(overview_store.data_response_body(now=first["taken_at"] + 1))
        snapshot = overview_store.get_snapshot()
    assert client.requests_sent == before  # reading costs the core nothing
    assert snapshot is not None and snapshot["taken_at"] == first["taken_at"]
    assert body["now"] == first["taken_at"] + 1 and body["stale_after"] == overview_store.stale_seconds()
    assert body["snapshot"]["taken_at"] == first["taken_at"]

    # The tops are not due again: the next refresh asks exactly QUERIES_PER_REFRESH.
    second = overview_store.refresh()
    assert second["queries"] == overview.QUERIES_PER_REFRESH
    assert client.requests_sent - before == overview.QUERIES_PER_REFRESH

    # Another refresh holding the lock: this one skips instead of piling up.
    wall_redis.set(overview_store.KEY_LOCK, "someone else", ex=30)
    assert overview_store.refresh() == {"skipped": "another refresh is running"}
    assert wall_redis.get(overview_store.KEY_LOCK) == b"someone else"


class NaemonLike:
    """Answers the snapshot's queries the way Naemon would (0/1 flags, a ``log`` table)."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def __call__(self, request: bytes) -> bytes:
        text = request.decode()
        self.requests.append(text)
        table = text.split("\n", 1)[0].removeprefix("GET ")
        columns = (header_value(request, "Columns") or "").split()
        stats_count = sum(1 for line in text.split("\n") if line.startswith("Stats:"))
        rows: list[list[Any]]
        if table == "status":
            rows = [["program_start", "program_version"], [1_799_990_000, "1.4.1"]]
        elif table == "log":
            rows = [["web-01", "http", 12], ["web-01", "disk", 3]]
        elif table == "hosts" and stats_count:
            rows = [[4, 0, 0, 0]]
        elif table == "services" and stats_count:
            rows = [[7, 0, 1, 0, 0]]
        elif table == "hostsbygroup":
            rows = [["web", 4, 0, 0, 0]]
        elif table == "servicesbyhostgroup":
            rows = [["web", 7, 0, 1, 0, 0]]
        elif table == "services":
            values = {
                "host_name": "web-01",
                "description": "http",
                "state": 2,
                "state_type": 1,
                "last_state_change": 1_799_999_000,
                "plugin_output": "CRITICAL",
                "acknowledged": 0,
                "scheduled_downtime_depth": 0,
                "host_scheduled_downtime_depth": 0,
                "host_groups": ["web"],
                "active_checks_enabled": 1,
                "last_check": 1_799_999_990,
            }
            rows = [[values[column] for column in columns]]
        else:
            rows = []
        return fixed16(200, json_body(rows))


@pytest.mark.django_db
def test_noisiest_services_from_a_core_with_a_log_table(fresh_clients: None, settings: Settings) -> None:
    """Icinga 2 here has no log table; Naemon has: the query and its merge, against a stand-in."""
    settings.REDIS_URL = ""
    core = NaemonLike()
    with ReplayServer(core) as server:
        NaemonNodeFactory.create(name="naemon", livestatus=server.address)
        snapshot = overview.compute()
    assert snapshot["unreachable"] == []
    assert snapshot["tops"]["noisiest"] == {
        "available": True,
        "rows": [
            {"host": "web-01", "service": "http", "changes": 12},
            {"host": "web-01", "service": "disk", "changes": 3},
        ],
    }
    log_request = next(text for text in core.requests if text.startswith("GET log"))
    assert (
        "Filter: type = SERVICE ALERT" in log_request
        and "Columns: host_name service_description" in log_request
    )
    assert [(p["host"], p["service"], p["unhandled"]) for p in snapshot["problems"]] == [
        ("web-01", "http", True)
    ]
    assert snapshot["hostgroups"][0]["severity"] == "critical"
    # The refresh, the tops' log queries and, once per client, GET status for the dialect
    # (GET columns, also once, is answered by the stand-in server itself).
    assert len(core.requests) == overview.QUERIES_PER_REFRESH + tops.LOG_QUERIES + 1


def test_nodes_without_livestatus_are_listed_as_not_watched(
    db: None, wall_icinga: IcingaServer, fresh_clients: None, settings: Settings
) -> None:
    settings.REDIS_URL = ""
    NaemonNodeFactory.create(name="master", livestatus=wall_icinga.unix_address)
    NaemonNodeFactory.create(name="silent-poller", role=NodeRole.POLLER, livestatus="")
    NaemonNodeFactory.create(name="retired", livestatus="", enabled=False)
    snapshot = overview.compute()
    assert snapshot["unwatched"] == ["silent-poller"]
    assert [n["name"] for n in snapshot["nodes"]] == ["master"]
    assert overview.wall_payload(snapshot)["unwatched"] == ["silent-poller"]  # kiosk screens see it
