"""Status in a cluster counts each object once (issue 14): two masters and a poller.

Every master holds every object and the poller its host groups', so each object lives on two
or three cores. The overview, the status lists and the problems must count it once, from
its checker's copy, and still be complete when the active master or the poller is down.

Each node is a ``FakeCore``: a Livestatus stand-in (``tests.services.replay.ReplayServer``)
answering from a status.dat and objects.cache that the test writes, through the same query
evaluator as the Nagios front (``tests.services.nagios_livestatus``: Filter, Stats, Columns as
naemon-livestatus does). It records every COMMAND and applies the few the action tests need.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from livestatus import overview, status
from livestatus.nodes import merge_objects
from livestatus.status import StatusFilter
from registry.choices import NodeRole
from registry.models import NaemonNode
from tests.factories import HostGroupFactory, NaemonNodeFactory, PollerFactory
from tests.services.icinga import free_tcp_port
from tests.services.nagios_livestatus import Objects, answer, build_snapshot
from tests.services.replay import ReplayServer

# The status tests' fixtures (``fresh_clients``); see that module.
pytest_plugins = ["tests.livestatus.fixtures"]

# -- the merge, on plain rows ------------------------------------------------------------------


def row(node: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "service", "host": "web-01", "service": "http", "node": node} | extra


ROLES = {"master-a": NodeRole.MASTER, "master-b": NodeRole.MASTER, "poller": NodeRole.POLLER}


def test_the_checkers_row_wins_over_fresher_passive_copies_and_over_a_poller() -> None:
    rows = [
        row("poller", active_checks_enabled=0, last_check=3000),
        row("master-a", active_checks_enabled=1, last_check=1000),
        row("master-b", active_checks_enabled=0, last_check=2000),
    ]
    assert [r["node"] for r in merge_objects(rows, ROLES)] == ["master-a"]
    # One row per object.
    rows.append(row("poller", service="disk"))
    assert sorted((r["service"], r["node"]) for r in merge_objects(rows, ROLES)) == [
        ("disk", "poller"),
        ("http", "master-a"),
    ]


def test_without_a_checker_the_freshest_copy_wins_then_a_poller_then_the_name() -> None:
    fresher = [row("poller", active_checks_enabled=0, last_check=10), row("master-b", last_check=20)]
    assert merge_objects(fresher, ROLES)[0]["node"] == "master-b"
    tied = [row("master-a", last_check=5), row("poller", last_check=5), row("master-b", last_check=5)]
    assert merge_objects(tied, ROLES)[0]["node"] == "poller"
    masters = [row("master-b"), row("master-a")]
    assert merge_objects(masters, ROLES)[0]["node"] == "master-a"
    # Naemon's 0/1 flags and the pages' datetimes rank alike.
    mixed = [
        row("master-b", active_checks_enabled="1", last_check=datetime(2030, 1, 1, tzinfo=UTC)),
        row("poller", active_checks_enabled=False, last_check=datetime(2031, 1, 1, tzinfo=UTC)),
    ]
    assert merge_objects(mixed, ROLES)[0]["node"] == "master-b"


# -- a stand-in core -----------------------------------------------------------------------------


@dataclass
class Copy:
    """One node's copy of a host (``service`` empty) or service."""

    host: str
    service: str = ""
    state: int = 0
    active: bool = False
    last_check: int = 1_800_000_000
    output: str = ""
    acknowledged: bool = False


@dataclass
class FakeCore:
    """A node's core: its copies, host groups, downtimes and comments; answers like Naemon."""

    name: str
    groups: Mapping[str, Sequence[str]]  # host group -> member hosts
    copies: list[Copy]
    downtimes: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1
    #: Shared by the cores of a cluster: (node, command line) in the order they arrived.
    journal: list[tuple[str, str]] = field(default_factory=list)

    def objects_text(self) -> str:
        parts = [f"define host {{\n\thost_name\t{c.host}\n}}\n" for c in self.copies if not c.service]
        parts += [
            f"define service {{\n\thost_name\t{c.host}\n\tservice_description\t{c.service}\n}}\n"
            for c in self.copies
            if c.service
        ]
        parts += [
            f"define hostgroup {{\n\thostgroup_name\t{g}\n\tmembers\t{','.join(m)}\n}}\n"
            for g, m in self.groups.items()
        ]
        return "".join(parts)

    def status_text(self) -> str:
        blocks = ["info {\n\tversion=4.4.6\n\t}\n", "programstatus {\n\tprogram_start=1799990000\n\t}\n"]
        for c in self.copies:
            kind = "servicestatus" if c.service else "hoststatus"
            fields = {
                "host_name": c.host,
                **({"service_description": c.service} if c.service else {}),
                "current_state": c.state,
                "state_type": 1,
                "has_been_checked": 1,
                "active_checks_enabled": int(c.active),
                "last_check": c.last_check,
                "last_state_change": c.last_check - 60,
                "plugin_output": c.output or f"{self.name} says {c.state}",
                "problem_has_been_acknowledged": int(c.acknowledged),
            }
            blocks.append(kind + " {\n" + "".join(f"\t{k}={v}\n" for k, v in fields.items()) + "\t}\n")
        for d in self.downtimes:
            kind = "servicedowntime" if d["service"] else "hostdowntime"
            fields = {
                "host_name": d["host"],
                **({"service_description": d["service"]} if d["service"] else {}),
                "downtime_id": d["id"],
                "entry_time": d["entry_time"],
                "start_time": d["start"],
                "end_time": d["end"],
                "fixed": 1,
                "duration": d["end"] - d["start"],
                "author": d["author"],
                "comment": d["comment"],
            }
            blocks.append(kind + " {\n" + "".join(f"\t{k}={v}\n" for k, v in fields.items()) + "\t}\n")
        for note in self.comments:
            kind = "servicecomment" if note["service"] else "hostcomment"
            fields = {
                "host_name": note["host"],
                **({"service_description": note["service"]} if note["service"] else {}),
                "comment_id": note["id"],
                "entry_time": note["entry_time"],
                "entry_type": 1,
                "author": note["author"],
                "comment_data": note["comment"],
            }
            blocks.append(kind + " {\n" + "".join(f"\t{k}={v}\n" for k, v in fields.items()) + "\t}\n")
        return "".join(blocks)

    def copy(self, host: str, service: str = "") -> Copy:
        return next(c for c in self.copies if (c.host, c.service) == (host, service))

    def apply(self, line: str) -> None:
        """The effect of the commands the action tests read back."""
        match = re.match(r"COMMAND \[(\d+)\] (\w+);?(.*)", line)
        assert match, line
        entry_time, name, rest = int(match.group(1)), match.group(2), match.group(3)
        args = rest.split(";")
        if name == "ACKNOWLEDGE_SVC_PROBLEM":
            self.copy(args[0], args[1]).acknowledged = True
        elif name == "SCHEDULE_SVC_DOWNTIME":
            host, service, start, end, _, _, _, author = args[:8]
            comment = ";".join(args[8:])
            self.downtimes.append(
                {
                    "id": self.next_id,
                    "host": host,
                    "service": service,
                    "start": int(start),
                    "end": int(end),
                    "author": author,
                    "comment": comment,
                    "entry_time": entry_time,
                }
            )
            self.next_id += 1
        elif name in ("ENABLE_SVC_CHECK", "DISABLE_SVC_CHECK"):
            self.copy(args[0], args[1]).active = name.startswith("ENABLE")
        elif name == "DEL_SVC_DOWNTIME":
            self.downtimes = [d for d in self.downtimes if d["id"] != int(args[0])]
        elif name == "ADD_SVC_COMMENT":
            host, service, _, author = args[:4]
            self.comments.append(
                {
                    "id": self.next_id,
                    "host": host,
                    "service": service,
                    "author": author,
                    "comment": ";".join(args[4:]),
                    "entry_time": entry_time,
                }
            )
            self.next_id += 1

    def __call__(self, request: bytes) -> bytes:
        if request.startswith(b"COMMAND"):
            line = request.decode().strip()
            self.journal.append((self.name, line))
            self.apply(line)
            return b""
        return answer(request, build_snapshot(self.status_text(), Objects.parse(self.objects_text())))


# -- the cluster: master-a (active), master-b (standby), poller-web (owns "web") -------------------

GROUPS = {"web": ["web-01", "web-02"], "db": ["db-01"]}
#: Every distinct object: 4 hosts, 5 services.
OBJECTS = [
    ("web-01", ""),
    ("web-02", ""),
    ("db-01", ""),
    ("app-01", ""),
    ("web-01", "http"),
    ("web-01", "disk"),
    ("web-02", "http"),
    ("db-01", "postgres"),
    ("app-01", "disk"),
]
#: The checker's states: web-01/http and db-01/postgres are CRITICAL, everything else OK/UP.
STATES = {("web-01", "http"): 2, ("db-01", "postgres"): 2}
#: What the passive copies show, stale: web-02/http CRITICAL (the poller says OK now), the rest OK.
STALE = {("web-02", "http"): 2}


def cores() -> dict[str, FakeCore]:
    """The three cores: each object's checker has its state, the copies what they last got."""
    web = {h for h, _ in OBJECTS if h in GROUPS["web"]}

    def copy(host: str, service: str, checker: bool) -> Copy:
        state = STATES.get((host, service), 0) if checker else STALE.get((host, service), 0)
        # Copies got their last result a while ago; the checker checked just now.
        return Copy(host, service, state, active=checker, last_check=1_800_000_000 - (0 if checker else 300))

    return {
        "master-a": FakeCore("master-a", GROUPS, [copy(h, s, h not in web) for h, s in OBJECTS]),
        "master-b": FakeCore("master-b", GROUPS, [copy(h, s, False) for h, s in OBJECTS]),
        "poller-web": FakeCore(
            "poller-web", {"web": GROUPS["web"]}, [copy(h, s, True) for h, s in OBJECTS if h in web]
        ),
    }


def start_cluster(stack: ExitStack) -> dict[str, Any]:
    """The three nodes on their stand-in servers, in the database; ``down(name)`` points a node at
    an address where nothing listens, ``up(name)`` back at its server. ``journal``: every command
    any of them got, in order, as (node, line)."""
    made = cores()
    journal: list[tuple[str, str]] = []
    for core in made.values():
        core.journal = journal
    servers = {name: stack.enter_context(ReplayServer(core)) for name, core in made.items()}
    nodes = {
        "master-a": NaemonNodeFactory.create(
            name="master-a", priority=10, livestatus=servers["master-a"].address
        ),
        "master-b": NaemonNodeFactory.create(
            name="master-b", priority=20, livestatus=servers["master-b"].address
        ),
        "poller-web": PollerFactory.create(name="poller-web", livestatus=servers["poller-web"].address),
    }
    HostGroupFactory.create(name="web", node=nodes["poller-web"])
    HostGroupFactory.create(name="db")

    def down(name: str) -> None:
        NaemonNode.objects.filter(name=name).update(livestatus=f"tcp:127.0.0.1:{free_tcp_port()}")

    def up(name: str) -> None:
        NaemonNode.objects.filter(name=name).update(livestatus=servers[name].address)

    return {"cores": made, "servers": servers, "nodes": nodes, "down": down, "up": up, "journal": journal}


@pytest.fixture
def cluster(db: None, fresh_clients: None) -> Iterator[dict[str, Any]]:
    """``start_cluster`` for one test."""
    with ExitStack() as stack:
        yield start_cluster(stack)


def refresh() -> dict[str, Any]:
    """One overview refresh (the tops, which read the log table, are not due)."""
    return overview.compute({"tops": {"taken_at": time.time()}})


def problems_of(snapshot: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((p["host"], p["service"], p["node"]) for p in snapshot["problems"])


def test_two_masters_and_a_poller_count_each_object_once(cluster: dict[str, Any]) -> None:
    snapshot = refresh()
    assert snapshot["unreachable"] == []
    assert snapshot["hosts"]["total"] == 4 and snapshot["hosts"]["up"] == 4
    assert snapshot["services"]["total"] == 5
    assert (snapshot["services"]["ok"], snapshot["services"]["critical"]) == (3, 2)
    # The checkers' problems only: web-02/http is CRITICAL only in the masters' stale copies.
    assert problems_of(snapshot) == [("db-01", "postgres", "master-a"), ("web-01", "http", "poller-web")]
    groups = {g["name"]: g for g in snapshot["hostgroups"]}
    assert groups["web"]["services"]["total"] == 3 and groups["web"]["hosts"]["total"] == 2
    assert groups["db"]["services"]["total"] == 1

    # The active master down: the standby answers for what no poller owns, once.
    cluster["down"]("master-a")
    snapshot = refresh()
    assert snapshot["unreachable"] == ["master-a"]
    assert (snapshot["hosts"]["total"], snapshot["services"]["total"]) == (4, 5)
    # master-b's copy of db-01/postgres is what is known now (OK in its copy).
    assert problems_of(snapshot) == [("web-01", "http", "poller-web")]
    assert snapshot["services"]["critical"] == 1


def test_the_masters_copies_count_when_the_poller_is_down(cluster: dict[str, Any]) -> None:
    cluster["down"]("poller-web")
    snapshot = refresh()
    assert snapshot["unreachable"] == ["poller-web"]
    assert (snapshot["hosts"]["total"], snapshot["services"]["total"]) == (4, 5)
    # The active master's copies of the web group, as stale as they are.
    assert problems_of(snapshot) == [("db-01", "postgres", "master-a"), ("web-02", "http", "master-a")]


def test_status_lists_show_each_object_once_from_its_checker(cluster: dict[str, Any]) -> None:
    services = status.services(StatusFilter())
    assert sorted((r["host"], r["service"], r["node"]) for r in services.rows) == [
        ("app-01", "disk", "master-a"),
        ("db-01", "postgres", "master-a"),
        ("web-01", "disk", "poller-web"),
        ("web-01", "http", "poller-web"),
        ("web-02", "http", "poller-web"),
    ]
    assert len(status.hosts(StatusFilter()).rows) == 4
    problems = status.problems(StatusFilter())
    assert sorted((r["host"], r["service"], r["node"]) for r in problems.rows) == [
        ("db-01", "postgres", "master-a"),
        ("web-01", "http", "poller-web"),
    ]
    critical = status.services(StatusFilter(states=("critical",)))
    assert sorted((r["host"], r["service"]) for r in critical.rows) == [
        ("db-01", "postgres"),
        ("web-01", "http"),
    ]
    # Asking one node shows its own copies.
    only_b = status.services(StatusFilter(node="master-b", states=("critical",)))
    assert [(r["host"], r["service"], r["node"]) for r in only_b.rows] == [("web-02", "http", "master-b")]

    # The active master down: the standby's rows; then the poller down: the master's copies.
    cluster["down"]("master-a")
    result = status.services(StatusFilter())
    assert [u.node for u in result.unreachable] == ["master-a"]
    assert sorted((r["host"], r["service"], r["node"]) for r in result.rows) == [
        ("app-01", "disk", "master-b"),
        ("db-01", "postgres", "master-b"),
        ("web-01", "disk", "poller-web"),
        ("web-01", "http", "poller-web"),
        ("web-02", "http", "poller-web"),
    ]
    NaemonNode.objects.filter(name="master-a").update(livestatus=cluster["servers"]["master-a"].address)
    cluster["down"]("poller-web")
    problems = status.problems(StatusFilter())
    assert sorted((r["host"], r["service"], r["node"]) for r in problems.rows) == [
        ("db-01", "postgres", "master-a"),
        ("web-02", "http", "master-a"),
    ]
