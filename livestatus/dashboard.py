"""The status snapshot behind the control-room wall and the engineer's home page.

A periodic task (``livestatus.tasks.refresh_status_snapshot``) asks every Naemon node a
fixed handful of Livestatus questions through the multi-node client and stores the
merged answer in Redis as JSON. Pages read only that snapshot, so fifty wall screens
cost the cores one round of queries per refresh, not fifty.

Per refresh and reachable node: ``GET status`` (which also tells who is reachable; a
node that does not answer it is asked nothing else), host and service counts by state
(stats), the same per host group (stats grouped by ``hostgroup_name`` on
``hostsbygroup``/``servicesbyhostgroup``), and the host and service problems (rows,
``state != 0``): ``QUERIES_PER_REFRESH`` queries. Every ``WALL_TOPS_SECONDS`` one more:
state changes per service over 24 h from the ``log`` table ("noisiest services";
hidden when no node has that table, e.g. Icinga 2 without compat logs), and "who gets
most notifications" from the counts that each node's worker collects from its
notify-filter decision log into Redis (``livestatus.notifications_log``; the home page's
"my recent notifications" reads the same store). Without Redis both read the logs on
this machine directly.

A master renders every host, so a host placed on a poller exists on both cores: masters
are asked only about objects that no *reachable* poller owns (``groups < name`` filters
for the pollers' host groups), so counts are not doubled; problem rows are also
de-duplicated, the poller's row winning.

A node that does not answer is listed as unreachable with its error; its host groups
and problems stay on the wall from the last snapshot that had them, flagged ``stale``
(grey), and the pages say so. A snapshot older than ``WALL_STALE_SECONDS`` is shown as
stale as a whole.

Redis keys: ``portal:wall:snapshot`` (everything, for the home page),
``portal:wall:payload`` (what the wall shows, served verbatim), written together;
``portal:wall:lock`` keeps refreshes from overlapping. Without ``REDIS_URL`` (``make
run``, eager Celery) there is no worker to refresh: the snapshot is computed on request
and kept in this process for ``WALL_REFRESH_SECONDS``.

Settings (all optional): ``WALL_REFRESH_SECONDS`` (5), ``WALL_STALE_SECONDS`` (30),
``WALL_TOPS_SECONDS`` (60).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import redis
from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse

from livestatus import notifications_log
from livestatus.client import Row
from livestatus.errors import LivestatusQueryError
from livestatus.multi import LivestatusCluster, merge_stats
from livestatus.nodes import cluster_for, live_nodes
from livestatus.query import Expr, Filter, LivestatusQuery
from registry.choices import NodeRole
from registry.models import Deployment, Host, HostGroup, NaemonNode

logger = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
KEY_SNAPSHOT = "portal:wall:snapshot"
KEY_PAYLOAD = "portal:wall:payload"
KEY_LOCK = "portal:wall:lock"

#: Problems kept in the full snapshot (home page) and sent to the wall.
PROBLEMS_KEPT = 2000
PROBLEMS_ON_WALL = 60
TOPS_ROWS = 8
DEPLOYMENTS_ON_WALL = 6
OUTPUT_CHARS = 200
DAY = 86400


def refresh_seconds() -> float:
    """How often the snapshot is refreshed (the beat schedule uses the same setting)."""
    return float(getattr(settings, "WALL_REFRESH_SECONDS", 5))


def stale_seconds() -> float:
    """A snapshot older than this is shown as stale."""
    return float(getattr(settings, "WALL_STALE_SECONDS", 30))


def tops_seconds() -> float:
    """How often the 24-hour "tops" (log table, decision logs) are recomputed."""
    return float(getattr(settings, "WALL_TOPS_SECONDS", 60))


# -- states ------------------------------------------------------------------

HOST_LABELS = {0: "UP", 1: "DOWN", 2: "UNREACHABLE"}
SERVICE_LABELS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
#: Severity names, least to most severe; a tile is coloured by its worst.
SEVERITIES = ("pending", "ok", "warning", "unknown", "unreachable", "critical", "down")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
_HOST_SEVERITY = {0: "ok", 1: "down", 2: "unreachable"}
_SERVICE_SEVERITY = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}


def severity_rank(name: str) -> int:
    """Position of a severity name in ``SEVERITIES`` (unknown names sort first)."""
    return _RANK.get(name, 0)


# -- the queries ---------------------------------------------------------------

CHECKED = Filter("has_been_checked", "=", 1)
PENDING = Filter("has_been_checked", "=", 0)


def _state(value: int) -> Expr:
    # Icinga 2 reports a never-checked host as DOWN and a service as UNKNOWN: count those as pending.
    return Filter("state", "=", value) & CHECKED


HOST_STATS = LivestatusQuery("hosts").stats(
    up=_state(0), down=_state(1), unreachable=_state(2), pending=PENDING
)
SERVICE_STATS = LivestatusQuery("services").stats(
    ok=_state(0), warning=_state(1), critical=_state(2), unknown=_state(3), pending=PENDING
)
GROUP_HOST_STATS = LivestatusQuery(
    "hostsbygroup", columns=("hostgroup_name",), stats_columns=HOST_STATS.stats_columns
)
GROUP_SERVICE_STATS = LivestatusQuery(
    "servicesbyhostgroup", columns=("hostgroup_name",), stats_columns=SERVICE_STATS.stats_columns
)
_PROBLEM_COLUMNS = (
    "state",
    "state_type",
    "last_state_change",
    "plugin_output",
    "acknowledged",
    "scheduled_downtime_depth",
)
HOST_PROBLEMS = (
    LivestatusQuery("hosts")
    .select("name", *_PROBLEM_COLUMNS, "groups")
    .where(Filter("state", "!=", 0), CHECKED)
)
SERVICE_PROBLEMS = (
    LivestatusQuery("services")
    .select("host_name", "description", *_PROBLEM_COLUMNS, "host_scheduled_downtime_depth", "host_groups")
    .where(Filter("state", "!=", 0), CHECKED)
)

#: (key, query, the column holding the host's groups) asked of every reachable node each refresh.
REFRESH_QUERIES: tuple[tuple[str, LivestatusQuery, str], ...] = (
    ("hosts", HOST_STATS, "groups"),
    ("services", SERVICE_STATS, "host_groups"),
    ("group_hosts", GROUP_HOST_STATS, "groups"),
    ("group_services", GROUP_SERVICE_STATS, "host_groups"),
    ("host_problems", HOST_PROBLEMS, "groups"),
    ("service_problems", SERVICE_PROBLEMS, "host_groups"),
)
#: Livestatus queries per reachable node and refresh: ``GET status`` and the above.
QUERIES_PER_REFRESH = 1 + len(REFRESH_QUERIES)


def noisy_services_query(since: int) -> LivestatusQuery:
    """Service state changes (``SERVICE ALERT`` log lines) since ``since``, per service."""
    return (
        LivestatusQuery("log")
        .select("host_name", "service_description")
        .where(Filter("time", ">=", since), Filter("type", "=", "SERVICE ALERT"))
        .stats(changes=Filter("state", ">=", 0))
    )


def without_groups(query: LivestatusQuery, column: str, groups: Iterable[str]) -> LivestatusQuery:
    """The query restricted to hosts in none of ``groups`` (``<`` on a list: does not contain)."""
    return query.where(*(Filter(column, "<", group) for group in sorted(groups)))


# -- collecting ----------------------------------------------------------------

_clusters_lock = threading.Lock()
_clusters: dict[tuple[tuple[str, str], ...], LivestatusCluster] = {}


def _cluster(nodes: Sequence[NaemonNode]) -> LivestatusCluster:
    """A cluster over these nodes, kept for the next refresh (its threads and the clients are reused)."""
    key = tuple((node.name, node.livestatus) for node in nodes)
    with _clusters_lock:
        cluster = _clusters.get(key)
        if cluster is None:
            if len(_clusters) >= 8:  # node edits: forget the oldest sets
                _clusters.pop(next(iter(_clusters)))
            cluster = _clusters[key] = cluster_for(list(nodes))
        return cluster


def _now() -> float:
    return time.time()


def collect(nodes: Sequence[NaemonNode], *, with_log: bool) -> dict[str, Any]:
    """Ask every node the refresh's questions; per-node rows, node health and query count."""
    health: dict[str, dict[str, Any]] = {}
    rows: dict[str, dict[str, list[Row]]] = {}
    queries = 0
    if not nodes:
        return {"health": health, "rows": rows, "queries": 0, "log": None}
    status = _cluster(nodes).status()
    queries += len(nodes)
    for error in status.unreachable:
        # The message without "livestatus <address>:": kiosk screens must not learn addresses.
        health[error.node] = {"reachable": False, "error": error.error.message}
    for node_name, status_rows in status.per_node.items():
        row = status_rows[0] if status_rows else {}
        health[node_name] = {
            "reachable": True,
            "error": "",
            "program_start": row.get("program_start"),
            "version": str(row.get("program_version") or ""),
        }
    reachable = [node for node in nodes if health[node.name]["reachable"]]
    masters = [node for node in reachable if node.role != NodeRole.POLLER]
    pollers = [node for node in reachable if node.role == NodeRole.POLLER]
    # Groups a reachable poller answers for: masters leave their hosts out.
    owned = (
        set(HostGroup.objects.filter(node__in=pollers).values_list("name", flat=True)) if pollers else set()
    )
    for node in reachable:
        rows[node.name] = {}
    for key, query, column in REFRESH_QUERIES:
        for group, asked in ((masters, without_groups(query, column, owned)), (pollers, query)):
            # A node that failed a question is asked no more this time (a hung core costs one timeout).
            members = [node for node in group if health[node.name]["reachable"]]
            if not members:
                continue
            result = _cluster(members).query(asked)
            queries += len(members)
            for node_name, node_rows in result.per_node.items():
                rows[node_name][key] = node_rows
            for error in result.unreachable:
                # Answered status but not this: unreachable for this refresh, its data unused.
                health[error.node] = {**health[error.node], "reachable": False, "error": error.error.message}
    rows = {name: node_rows for name, node_rows in rows.items() if health[name]["reachable"]}
    log = None
    if with_log:
        answering = [node for node in reachable if health[node.name]["reachable"]]
        log = _collect_log(answering) if answering else {"available": False, "per_node": {}}
        queries += len(answering)
    return {"health": health, "rows": rows, "queries": queries, "log": log}


def _collect_log(nodes: Sequence[NaemonNode]) -> dict[str, Any]:
    result = _cluster(nodes).query(noisy_services_query(int(_now()) - DAY))
    available = bool(result.per_node)
    for error in result.unreachable:
        if not isinstance(error.error, LivestatusQueryError):
            logger.info("log table of %s not read: %s", error.node, error.error)
    return {"available": available, "per_node": result.per_node}


# -- merging -------------------------------------------------------------------


def _counts(query: LivestatusQuery, per_node: Mapping[str, list[Row]]) -> dict[str, int]:
    merged = merge_stats(query, per_node)
    row = merged[0] if merged else {}
    counts = {stat.name: int(row.get(stat.name) or 0) for stat in query.stats_columns}
    counts["total"] = sum(counts.values())
    return counts


def _grouped(query: LivestatusQuery, per_node: Mapping[str, list[Row]]) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = {}
    for row in merge_stats(query, per_node):
        counts = {stat.name: int(row.get(stat.name) or 0) for stat in query.stats_columns}
        counts["total"] = sum(counts.values())
        groups[str(row.get("hostgroup_name"))] = counts
    return groups


def group_severity(hosts: Mapping[str, int], services: Mapping[str, int]) -> str:
    """The worst state in a host group, as a severity name."""
    for name, count in (
        ("down", hosts.get("down", 0)),
        ("critical", services.get("critical", 0)),
        ("unreachable", hosts.get("unreachable", 0)),
        ("unknown", services.get("unknown", 0)),
        ("warning", services.get("warning", 0)),
        ("ok", hosts.get("up", 0) + services.get("ok", 0)),
    ):
        if count:
            return name
    return "pending"


def _problem(row: Row, kind: str, node: str) -> dict[str, Any]:
    state = int(row.get("state") or 0)
    if kind == "host":
        label, severity = HOST_LABELS.get(state, str(state)), _HOST_SEVERITY.get(state, "unknown")
        groups = row.get("groups") or []
        downtime = int(row.get("scheduled_downtime_depth") or 0) > 0
        host, service = str(row.get("name")), ""
    else:
        label, severity = SERVICE_LABELS.get(state, str(state)), _SERVICE_SEVERITY.get(state, "unknown")
        groups = row.get("host_groups") or []
        downtime = (
            int(row.get("scheduled_downtime_depth") or 0) > 0
            or int(row.get("host_scheduled_downtime_depth") or 0) > 0
        )
        host, service = str(row.get("host_name")), str(row.get("description"))
    acknowledged = bool(row.get("acknowledged"))
    return {
        "kind": kind,
        "host": host,
        "service": service,
        "state": state,
        "label": label,
        "severity": severity,
        "hard": row.get("state_type") in (1, "1", True),
        "since": int(row.get("last_state_change") or 0) or None,
        "output": str(row.get("plugin_output") or "")[:OUTPUT_CHARS],
        "node": node,
        "groups": sorted(str(group) for group in groups) if isinstance(groups, list) else [],
        "acknowledged": acknowledged,
        "downtime": downtime,
        "unhandled": not acknowledged and not downtime,
    }


def problem_sort_key(problem: Mapping[str, Any]) -> tuple[int, int, str, str]:
    """Most severe first; within a severity the newest first (what just broke is on top)."""
    return (
        -severity_rank(problem["severity"]),
        -(problem["since"] or 0),
        problem["host"],
        problem["service"],
    )


def merge_problems(
    rows: Mapping[str, Mapping[str, list[Row]]], roles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Problem rows of every node, one per object (a poller's row wins over a master's)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    # Masters first, so that a poller's row (it runs the check) replaces theirs.
    for node in sorted(rows, key=lambda name: (roles.get(name) == NodeRole.POLLER, name)):
        for kind, key in (("host", "host_problems"), ("service", "service_problems")):
            for row in rows[node].get(key, []):
                problem = _problem(row, kind, node)
                found[(kind, problem["host"], problem["service"])] = problem
    return list(found.values())


def build_snapshot(
    *,
    now: float,
    nodes: Sequence[Mapping[str, Any]],
    rows: Mapping[str, Mapping[str, list[Row]]],
    previous: Mapping[str, Any] | None = None,
    placement: Mapping[str, str] | None = None,
    deployments: Sequence[Mapping[str, Any]] = (),
    tops: Mapping[str, Any] | None = None,
    queries: int = 0,
    duration_ms: float = 0.0,
) -> dict[str, Any]:
    """Merge the per-node rows of one refresh into the snapshot.

    ``nodes``: one dict per node (name, role, address, reachable, error, program_start,
    version, deployment); ``rows``: per answering node, the rows of each REFRESH_QUERIES
    key; ``previous``: the last snapshot, for what unreachable nodes showed before;
    ``placement``: host group → the node the registry places it on.
    """
    previous = previous or {}
    placement = placement or {}
    roles = {str(node["name"]): str(node.get("role", "")) for node in nodes}
    down = {str(node["name"]) for node in nodes if not node.get("reachable")}
    before = {str(node["name"]): node for node in previous.get("nodes", [])}

    node_list = []
    for node in nodes:
        entry = dict(node)
        name = str(entry["name"])
        if entry.get("reachable"):
            entry["last_ok"] = now
        else:
            entry["last_ok"] = before.get(name, {}).get("last_ok")
            # Keep what the core said when it last answered (start time, version).
            for field in ("program_start", "version"):
                if not entry.get(field):
                    entry[field] = before.get(name, {}).get(field)
        node_list.append(entry)

    def pick(key: str) -> dict[str, list[Row]]:
        return {node: node_rows.get(key, []) for node, node_rows in rows.items()}

    all_problems = merge_problems(rows, roles)
    unhandled = [problem for problem in all_problems if problem["unhandled"]]

    group_hosts = _grouped(GROUP_HOST_STATS, pick("group_hosts"))
    group_services = _grouped(GROUP_SERVICE_STATS, pick("group_services"))
    group_nodes: dict[str, set[str]] = {}
    for node_name, node_rows in rows.items():
        for stats_key in ("group_hosts", "group_services"):
            for row in node_rows.get(stats_key, []):
                group_nodes.setdefault(str(row.get("hostgroup_name")), set()).add(node_name)
    unhandled_by_group: Counter[str] = Counter()
    for problem in unhandled:
        unhandled_by_group.update(set(problem["groups"]))
    empty_hosts = {stat.name: 0 for stat in HOST_STATS.stats_columns} | {"total": 0}
    empty_services = {stat.name: 0 for stat in SERVICE_STATS.stats_columns} | {"total": 0}
    groups: dict[str, dict[str, Any]] = {}
    for name in sorted(set(group_hosts) | set(group_services)):
        hosts = group_hosts.get(name, empty_hosts)
        services = group_services.get(name, empty_services)
        groups[name] = {
            "name": name,
            "severity": group_severity(hosts, services),
            "hosts": hosts,
            "services": services,
            "unhandled": unhandled_by_group.get(name, 0),
            "nodes": sorted(group_nodes.get(name, ())),
            "stale": False,
        }

    # What unreachable nodes showed last time stays, greyed: a dead core must not look healthy.
    problem_keys = {(p["kind"], p["host"], p["service"]) for p in unhandled}
    if down:
        for group in previous.get("hostgroups", []):
            if group["name"] not in groups and set(group.get("nodes", ())) & down:
                groups[group["name"]] = {**group, "stale": True}
        for problem in previous.get("problems", []):
            problem_key = (problem["kind"], problem["host"], problem["service"])
            if problem.get("node") in down and problem_key not in problem_keys:
                unhandled.append({**problem, "stale": True})
                problem_keys.add(problem_key)
        for name, placed_on in placement.items():
            if placed_on in down and name not in groups:
                groups[name] = {
                    "name": name,
                    "severity": "pending",
                    "hosts": empty_hosts,
                    "services": empty_services,
                    "unhandled": 0,
                    "nodes": [placed_on],
                    "stale": True,
                }
    unhandled.sort(key=problem_sort_key)

    hostgroups = sorted(groups.values(), key=lambda g: (-severity_rank(g["severity"]), g["name"]))
    hosts = _counts(HOST_STATS, pick("hosts"))
    services = _counts(SERVICE_STATS, pick("services"))
    hosts["unhandled"] = sum(1 for p in unhandled if p["kind"] == "host" and not p.get("stale"))
    services["unhandled"] = sum(1 for p in unhandled if p["kind"] == "service" and not p.get("stale"))

    open_by_host: Counter[str] = Counter(problem["host"] for problem in all_problems)
    host_node = {problem["host"]: problem["node"] for problem in all_problems}
    merged_tops = dict(tops or previous.get("tops") or {})
    merged_tops["problem_hosts"] = [
        {"host": host, "problems": count, "node": host_node[host]}
        for host, count in sorted(open_by_host.items(), key=lambda item: (-item[1], item[0]))[:TOPS_ROWS]
    ]
    merged_tops.setdefault("noisiest", {"available": False, "rows": []})
    merged_tops.setdefault("notified", {"available": False, "rows": []})

    return {
        "version": SNAPSHOT_VERSION,
        "taken_at": now,
        "duration_ms": round(duration_ms, 1),
        "queries": queries,
        "hosts": hosts,
        "services": services,
        "hostgroups": hostgroups,
        "problems": unhandled[:PROBLEMS_KEPT],
        "problems_total": len(unhandled),
        "nodes": node_list,
        "unreachable": sorted(down),
        "deployments": list(deployments),
        "tops": merged_tops,
    }


def wall_payload(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What the wall shows (kiosk screens too): no long problem list, no addresses or user names."""
    addresses = node_address_strings(str(node.get("address") or "") for node in snapshot["nodes"])
    payload = {
        key: value for key, value in snapshot.items() if key not in ("problems", "nodes", "deployments")
    }
    payload["problems"] = [
        {key: value for key, value in problem.items() if key != "groups"}
        for problem in snapshot["problems"][:PROBLEMS_ON_WALL]
    ]
    payload["nodes"] = [
        {k: hide_addresses(v, addresses) if k == "error" else v for k, v in node.items() if k != "address"}
        for node in snapshot["nodes"]
    ]
    # Deployment errors may quote a Livestatus error with its address ("livestatus tcp:…: …").
    payload["deployments"] = [
        {
            k: hide_addresses(v, addresses) if k == "error" else v
            for k, v in deployment.items()
            if k != "triggered_by"
        }
        for deployment in snapshot["deployments"]
    ]
    return payload


def node_address_strings(addresses: Iterable[str]) -> list[str]:
    """Every way a node address may appear in an error text, longest first.

    ``tcp:10.0.0.5:6557`` gives itself, ``10.0.0.5:6557`` and ``10.0.0.5``; ``unix:/run/live``
    gives itself and ``/run/live``.
    """
    found: set[str] = set()
    for address in addresses:
        if not address:
            continue
        found.add(address)
        kind, _, rest = address.partition(":")
        if kind in ("unix", "tcp") and rest:
            found.add(rest)
            if kind == "tcp":
                host = rest.rpartition(":")[0]
                found.update(part for part in (host, host.strip("[]")) if part)
    return sorted(found, key=len, reverse=True)


def hide_addresses(text: Any, addresses: Sequence[str]) -> Any:
    """``text`` with every node address replaced by ``(address hidden)``; non-strings unchanged."""
    if not isinstance(text, str):
        return text
    text = re.sub(r"livestatus (?:unix|tcp):\S*: ", "", text)
    for address in addresses:
        text = text.replace(address, "(address hidden)")
    return text


# -- tops ----------------------------------------------------------------------


def noisiest(log: Mapping[str, Any] | None) -> dict[str, Any]:
    """Services with most state changes over 24 h; a service seen by two cores counts once (max)."""
    if not log or not log.get("available"):
        return {"available": False, "rows": []}
    changes: dict[tuple[str, str], int] = {}
    for node_rows in log["per_node"].values():
        for row in node_rows:
            key = (str(row.get("host_name")), str(row.get("service_description")))
            changes[key] = max(changes.get(key, 0), int(row.get("changes") or 0))
    top = sorted(changes.items(), key=lambda item: (-item[1], item[0]))[:TOPS_ROWS]
    return {
        "available": True,
        "rows": [{"host": host, "service": service, "changes": count} for (host, service), count in top],
    }


def _readable_logs(nodes: Iterable[NaemonNode]) -> list[Path]:
    """Without Redis: the decision logs on this machine (nodes with a notify_dir, as rendered)."""
    return notifications_log.decision_logs(node.notify_dir for node in nodes)


def most_notified(nodes: Sequence[NaemonNode], now: float) -> dict[str, Any]:
    """Contacts sent most notifications over 24 h: what the nodes' workers collected into Redis.

    Without Redis, read from the decision logs on this machine.
    """
    client = _redis()
    if client is None:
        return notifications_log.most_notified(_readable_logs(nodes), now, rows=TOPS_ROWS)
    try:
        return notifications_log.most_notified_collected(
            client, [node.pk for node in nodes], now, rows=TOPS_ROWS
        )
    except redis.RedisError as exc:
        logger.warning("notification counts unreadable: %s", exc)
        return {"available": False, "rows": []}


def recent_notifications(contact: str, *, limit: int = 15) -> list[dict[str, Any]] | None:
    """The contact's latest notify-filter decisions across nodes, newest first; None without logs."""
    nodes = list(NaemonNode.objects.filter(enabled=True))
    client = _redis()
    if client is None:
        paths = _readable_logs(nodes)
        return notifications_log.recent_from_files(paths, contact, limit) if paths else None
    try:
        return notifications_log.recent_collected(client, [node.pk for node in nodes], contact, limit)
    except redis.RedisError as exc:  # the page still renders, without the section
        logger.warning("recent notifications unreadable: %s", exc)
        return None


def has_decision_logs() -> bool:
    """Whether any enabled node's decision log can be shown (collected into Redis, or readable here)."""
    nodes = list(NaemonNode.objects.filter(enabled=True))
    client = _redis()
    if client is None:
        return bool(_readable_logs(nodes))
    try:
        return bool(notifications_log.collected_nodes(client, [node.pk for node in nodes]))
    except redis.RedisError:
        return False


# -- registry side -------------------------------------------------------------


def _deployment(deployment: Deployment | None) -> dict[str, Any] | None:
    if deployment is None:
        return None
    when = deployment.finished_at or deployment.started_at or deployment.created_at
    return {
        "id": deployment.pk,
        "node": deployment.node.name,
        "state": deployment.state,
        "at": when.timestamp() if when else None,
        "reason": deployment.reason[:120],
        "triggered_by": deployment.triggered_by[:60],
        "error": deployment.error.splitlines()[0][:160] if deployment.error else "",
    }


def node_deployments(nodes: Sequence[NaemonNode]) -> dict[str, dict[str, Any] | None]:
    """The latest deployment of each node (two database queries for any number of nodes)."""
    latest = Deployment.objects.filter(node=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    ids = dict(
        NaemonNode.objects.filter(pk__in=[node.pk for node in nodes])
        .annotate(latest=Subquery(latest))
        .values_list("name", "latest")
    )
    found = {
        d.pk: d
        for d in Deployment.objects.filter(pk__in=[i for i in ids.values() if i]).select_related("node")
    }
    return {node.name: _deployment(found.get(ids.get(node.name) or 0)) for node in nodes}


def recent_deployments(limit: int = DEPLOYMENTS_ON_WALL) -> list[dict[str, Any]]:
    """The last deployments of all nodes, newest first."""
    rows = Deployment.objects.select_related("node").order_by("-created_at", "-pk")[:limit]
    return [entry for entry in (_deployment(d) for d in rows) if entry is not None]


# -- refresh ---------------------------------------------------------------------


def compute(previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One refresh: ask the nodes, read the registry, merge with the previous snapshot."""
    started = time.perf_counter()
    now = _now()
    nodes = live_nodes()
    previous_tops = (previous or {}).get("tops") or {}
    tops_due = now - float(previous_tops.get("taken_at") or 0) >= tops_seconds()
    collected = collect(nodes, with_log=tops_due)
    deployments = node_deployments(nodes)
    node_entries = []
    for node in nodes:
        health = collected["health"].get(node.name, {"reachable": False, "error": "not asked"})
        node_entries.append(
            {
                "name": node.name,
                "role": node.role,
                "address": node.livestatus,
                "reachable": bool(health.get("reachable")),
                "error": health.get("error", ""),
                "program_start": health.get("program_start"),
                "version": health.get("version", ""),
                "deployment": deployments.get(node.name),
            }
        )
    tops = None
    if tops_due:
        tops = {
            "taken_at": now,
            "noisiest": noisiest(collected["log"]),
            "notified": most_notified(nodes, now),
        }
    placement = dict(
        HostGroup.objects.filter(node__isnull=False, node__in=nodes).values_list("name", "node__name")
    )
    snapshot = build_snapshot(
        now=now,
        nodes=node_entries,
        rows=collected["rows"],
        previous=previous,
        placement=placement,
        deployments=recent_deployments(),
        tops=tops,
        queries=collected["queries"],
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    # Nodes that cannot be asked: their hosts are missing from every count, which must not
    # look like "all is well" (names only: the wall is readable through kiosk links).
    snapshot["unwatched"] = unwatched_nodes()
    return snapshot


def unwatched_nodes() -> list[str]:
    """Enabled nodes without a Livestatus address: the portal cannot show their status."""
    return list(
        NaemonNode.objects.filter(enabled=True, livestatus="").order_by("name").values_list("name", flat=True)
    )


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


@lru_cache(maxsize=4)
def _redis_for(url: str) -> redis.Redis:
    # One connection pool per process and URL: every page view reuses it.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def _redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    return _redis_for(url) if url else None


def _load(client: redis.Redis, key: str) -> bytes | None:
    value = client.get(key)
    return value if isinstance(value, bytes) else None


def refresh() -> dict[str, Any]:
    """Refresh the stored snapshot once; returns a summary (skipped while another refresh runs)."""
    client = _redis()
    if client is None:
        snapshot = _refresh_local(force=True)
        return _summary(snapshot)
    # A refresh that hangs on a node must not let the next ones pile up behind it.
    lock = client.lock(KEY_LOCK, timeout=max(30, int(refresh_seconds() * 6)), blocking=False)
    if not lock.acquire():
        return {"skipped": "another refresh is running"}
    try:
        raw = _load(client, KEY_SNAPSHOT)
        previous = json.loads(raw) if raw else None
        snapshot = compute(previous)
        pipe = client.pipeline(transaction=True)
        pipe.set(KEY_SNAPSHOT, _dumps(snapshot))
        pipe.set(KEY_PAYLOAD, _dumps(wall_payload(snapshot)))
        pipe.execute()
    finally:
        # Only our own lock is released (after a timeout it may be another refresh's).
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
    return _summary(snapshot)


def _summary(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "taken_at": snapshot["taken_at"],
        "queries": snapshot["queries"],
        "duration_ms": snapshot["duration_ms"],
        "unreachable": snapshot["unreachable"],
        "problems": snapshot["problems_total"],
    }


# In-process fallback without Redis: computed on request, kept for one refresh interval.
_local_lock = threading.Lock()
_local: dict[str, Any] = {"at": 0.0, "snapshot": None, "payload": None}


def _refresh_local(*, force: bool = False) -> dict[str, Any]:
    with _local_lock:
        fresh = time.monotonic() - _local["at"] < refresh_seconds()
        if force or not fresh or _local["snapshot"] is None:
            snapshot = compute(_local["snapshot"])
            _local.update(at=time.monotonic(), snapshot=snapshot, payload=_dumps(wall_payload(snapshot)))
        return dict(_local["snapshot"])


def forget_local() -> None:
    """Drop the in-process snapshot (tests)."""
    with _local_lock:
        _local.update(at=0.0, snapshot=None, payload=None)


def get_snapshot() -> dict[str, Any] | None:
    """The full snapshot (None when none was taken yet)."""
    client = _redis()
    if client is None:
        return _refresh_local()
    raw = _load(client, KEY_SNAPSHOT)
    return json.loads(raw) if raw else None


def get_payload_bytes() -> bytes | None:
    """The wall's JSON exactly as stored (None when no snapshot was taken yet)."""
    client = _redis()
    if client is None:
        _refresh_local()
        payload = _local["payload"]
        return payload if isinstance(payload, bytes) else None
    return _load(client, KEY_PAYLOAD)


def freshness(snapshot: Mapping[str, Any] | None, now: float | None = None) -> dict[str, Any]:
    """How current a snapshot is: age in seconds, stale, unreachable nodes, or missing."""
    if snapshot is None:
        return {
            "missing": True,
            "stale": True,
            "age": None,
            "unreachable": [],
            "stale_after": stale_seconds(),
        }
    age = max(0.0, (now if now is not None else _now()) - float(snapshot["taken_at"]))
    return {
        "missing": False,
        "stale": age > stale_seconds(),
        "age": age,
        "unreachable": list(snapshot.get("unreachable", [])),
        "stale_after": stale_seconds(),
    }


def data_response_body(now: float | None = None) -> bytes:
    """The wall data endpoint's body: the server's clock and thresholds around the stored payload."""
    payload = get_payload_bytes()
    head = _dumps(
        {
            "now": now if now is not None else _now(),
            "stale_after": stale_seconds(),
            "refresh_seconds": refresh_seconds(),
            "version": SNAPSHOT_VERSION,
        }
    )
    # Splice without parsing: fifty screens must not cost fifty JSON round trips.
    return head[:-1] + b',"snapshot":' + (payload if payload is not None else b"null") + b"}"


def unreachable_errors(snapshot: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(node, error) of every node that did not answer."""
    return [
        (str(n["name"]), str(n.get("error") or ""))
        for n in snapshot.get("nodes", [])
        if not n.get("reachable")
    ]


# -- the engineer's home page ----------------------------------------------------


def team_scope(user: Any) -> tuple[set[str], set[str]]:
    """Names of the hosts and host groups the user's teams own in the registry."""
    teams = list(user.teams.values_list("id", flat=True)) if getattr(user, "is_authenticated", False) else []
    if not teams:
        return set(), set()
    groups = set(HostGroup.objects.filter(team__in=teams).values_list("name", flat=True))
    hosts = set(
        Host.objects.filter(Q(team__in=teams) | Q(hostgroups__team__in=teams)).values_list("name", flat=True)
    )
    return hosts, groups


def _first_route(options: Sequence[tuple[str, dict[str, str], dict[str, str]]]) -> str:
    """The first of (route name, kwargs, query) that exists; the status area's index otherwise."""
    for name, kwargs, query in options:
        try:
            url = reverse(name, kwargs=kwargs or None)
        except NoReverseMatch:
            continue
        return url + ("?" + urlencode(query) if query else "")
    return reverse("livestatus:index")


def status_links(problem: Mapping[str, Any]) -> dict[str, str]:
    """Where the status pages show and act on a problem (``/status/`` routes; any name fits)."""
    names = {"host": problem["host"]} | ({"service": problem["service"]} if problem["service"] else {})
    detail = "livestatus:service" if problem["service"] else "livestatus:host"
    # A name with '/' fits no path route: the query-string routes take any name.
    links = {"detail": _first_route([(detail, names, {}), ("livestatus:object", {}, names)])}
    for kind in ("acknowledge", "downtime", "recheck"):
        links[kind] = _first_route(
            [(f"livestatus:{kind}", names, {}), ("livestatus:act", {"kind": kind}, names)]
        )
    return links


def home_status(user: Any, *, now: float | None = None) -> dict[str, Any]:
    """The home page's status: my teams' problems first, then the others, and the snapshot's health."""
    now = now if now is not None else _now()
    error = ""
    try:
        snapshot = get_snapshot()
    except redis.RedisError as exc:  # the page still renders, and says why there is no status
        logger.warning("status snapshot unreadable: %s", exc)
        snapshot, error = None, f"the status store (Redis) does not answer: {exc}"
    result: dict[str, Any] = {
        "freshness": freshness(snapshot, now) | {"error": error},
        "mine": [],
        "others": [],
        "snapshot": snapshot,
        "unreachable": unreachable_errors(snapshot) if snapshot else [],
    }
    if snapshot is None:
        return result
    hosts, groups = team_scope(user)
    staff = bool(getattr(user, "is_staff", False))
    for problem in snapshot.get("problems", []):
        mine = problem["host"] in hosts or bool(groups.intersection(problem.get("groups", ())))
        entry = dict(problem)
        entry["since_dt"] = datetime.fromtimestamp(problem["since"], UTC) if problem.get("since") else None
        entry["links"] = status_links(problem)
        # The rule of livestatus.actions: staff, or a registry host of one of my teams.
        entry["may_act"] = staff or problem["host"] in hosts
        result["mine" if mine else "others"].append(entry)
    return result


def forget_clusters() -> None:
    """Drop the cached clusters (tests; the clients themselves live in livestatus.nodes)."""
    with _clusters_lock:
        _clusters.clear()
