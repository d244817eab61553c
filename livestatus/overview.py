"""The overview: the status picture behind the control-room wall and the engineer's home page.

A periodic task (``livestatus.tasks.refresh_status_snapshot``) asks every Naemon node a
fixed handful of Livestatus questions through the multi-node client and merges the
answers into one picture, which ``livestatus.overview_store`` keeps in Redis as JSON. Pages
read only that, so fifty wall screens cost the cores one round of queries per refresh, not
fifty.

Per refresh and reachable node: ``GET status`` (which also tells who is reachable; a
node that does not answer it is asked nothing else), host and service counts by state
(stats), the same per host group (stats grouped by ``hostgroup_name`` on
``hostsbygroup``/``servicesbyhostgroup``), and the host and service problems (rows,
``state != 0``): ``QUERIES_PER_REFRESH`` queries. Every ``WALL_TOPS_SECONDS`` one more, for
the "tops" panels (``livestatus.tops``).

Every master holds every object and a poller its host groups', so each object is counted
from ONE node (``livestatus.nodes``): the reachable pollers answer for their host groups, and
one reachable master (the active master, else the first by priority, then name) for
everything else (``groups < name`` filters leave the reachable pollers' host groups out).
The other masters answer ``GET status`` only: their copies would double every count. Problem
rows are also de-duplicated, the checker's row winning (``livestatus.nodes.merge_objects``).

A node that does not answer is listed as unreachable with its error; its host groups
and problems stay on the wall from the last overview that had them, flagged ``stale``
(grey), and the pages say so. An overview older than ``WALL_STALE_SECONDS`` is shown as
stale as a whole.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from livestatus import tops
from livestatus.client import Filter, LivestatusQuery, Row, merge_stats
from livestatus.nodes import (
    active_master,
    counting_master,
    deployment_summary,
    live_nodes,
    merge_objects,
    node_deployments,
    poller_groups,
    shared_cluster,
    unwatched_nodes,
)
from livestatus.states import (
    CHECKED,
    HOST_LABELS,
    HOST_SEVERITY,
    PENDING,
    SERVICE_LABELS,
    SERVICE_SEVERITY,
    in_state,
    problem_sort_key,
    severity_rank,
)
from preferences import coverage
from registry.choices import NodeRole
from registry.drift import node_drift
from registry.failover import node_states
from registry.models import Deployment, HostGroup, NaemonNode

SNAPSHOT_VERSION = 1

#: Problems kept in the full overview (home page) and sent to the wall.
PROBLEMS_KEPT = 2000
PROBLEMS_ON_WALL = 60
DEPLOYMENTS_ON_WALL = 6
OUTPUT_CHARS = 200


# -- the queries ---------------------------------------------------------------

HOST_STATS = LivestatusQuery("hosts").stats(
    up=in_state(0), down=in_state(1), unreachable=in_state(2), pending=PENDING
)
SERVICE_STATS = LivestatusQuery("services").stats(
    ok=in_state(0), warning=in_state(1), critical=in_state(2), unknown=in_state(3), pending=PENDING
)
GROUP_HOST_STATS = LivestatusQuery(
    "hostsbygroup", columns=("hostgroup_name",), stats_columns=HOST_STATS.stats_columns
)
GROUP_SERVICE_STATS = LivestatusQuery(
    "servicesbyhostgroup", columns=("hostgroup_name",), stats_columns=SERVICE_STATS.stats_columns
)
_PROBLEM_COLUMNS = (
    # Which copy of an object is the checker's (``merge_objects``).
    "active_checks_enabled",
    "last_check",
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


def without_groups(query: LivestatusQuery, column: str, groups: Iterable[str]) -> LivestatusQuery:
    """The query restricted to hosts in none of ``groups`` (``<`` on a list: does not contain)."""
    return query.where(*(Filter(column, "<", group) for group in sorted(groups)))


# -- collecting ----------------------------------------------------------------


def _now() -> float:
    return time.time()


def collect(nodes: Sequence[NaemonNode], *, with_log: bool) -> dict[str, Any]:
    """Ask every node the refresh's questions; per-node rows, node health and query count."""
    health: dict[str, dict[str, Any]] = {}
    rows: dict[str, dict[str, list[Row]]] = {}
    queries = 0
    if not nodes:
        return {"health": health, "rows": rows, "queries": 0, "log": None}
    status = shared_cluster(nodes).status()
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
    pollers = [node for node in reachable if node.role == NodeRole.POLLER]
    master = counting_master((node for node in reachable if node.role != NodeRole.POLLER), active_master())
    masters = [master] if master is not None else []
    # Groups a reachable poller answers for: the master leaves their hosts out.
    owned = poller_groups(pollers)
    for node in reachable:
        rows[node.name] = {}
    for key, query, column in REFRESH_QUERIES:
        for group, asked in ((masters, without_groups(query, column, owned)), (pollers, query)):
            # A node that failed a question is asked no more this time (a hung core costs one timeout).
            members = [node for node in group if health[node.name]["reachable"]]
            if not members:
                continue
            result = shared_cluster(members).query(asked)
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
        log = tops.collect_log(answering, _now()) if answering else {"available": False, "per_node": {}}
        queries += len(answering) * tops.LOG_QUERIES
    return {"health": health, "rows": rows, "queries": queries, "log": log}


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
        label, severity = HOST_LABELS.get(state, str(state)), HOST_SEVERITY.get(state, "unknown")
        groups = row.get("groups") or []
        downtime = int(row.get("scheduled_downtime_depth") or 0) > 0
        host, service = str(row.get("name")), ""
    else:
        label, severity = SERVICE_LABELS.get(state, str(state)), SERVICE_SEVERITY.get(state, "unknown")
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


def merge_problems(
    rows: Mapping[str, Mapping[str, list[Row]]], roles: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Problem rows of every node, one per object (the checker's row wins, see ``merge_objects``)."""
    merged = merge_objects(
        (
            _problem(row, kind, node)
            | {"active_checks_enabled": row.get("active_checks_enabled"), "last_check": row.get("last_check")}
            for node, node_rows in rows.items()
            for kind, key in (("host", "host_problems"), ("service", "service_problems"))
            for row in node_rows.get(key, [])
        ),
        roles,
    )
    # Only to choose the row: the snapshot (and the wall) keep their fields.
    for problem in merged:
        del problem["active_checks_enabled"], problem["last_check"]
    return merged


def build_snapshot(
    *,
    now: float,
    nodes: Sequence[Mapping[str, Any]],
    rows: Mapping[str, Mapping[str, list[Row]]],
    previous: Mapping[str, Any] | None = None,
    placement: Mapping[str, str] | None = None,
    deployments: Sequence[Mapping[str, Any]] = (),
    panels: Mapping[str, Any] | None = None,
    queries: int = 0,
    duration_ms: float = 0.0,
) -> dict[str, Any]:
    """Merge the per-node rows of one refresh into the snapshot.

    ``nodes``: one dict per node (name, role, address, reachable, error, program_start,
    version, deployment); ``rows``: per answering node, the rows of each REFRESH_QUERIES
    key; ``previous``: the last snapshot, for what unreachable nodes showed before;
    ``placement``: host group → the node the registry places it on; ``panels``: the 24-hour
    tops when they were recomputed this time (None: the previous ones are kept).
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
    unhandled.sort(key=lambda p: problem_sort_key(p["severity"], p["since"], p["host"], p["service"]))

    hostgroups = sorted(groups.values(), key=lambda g: (-severity_rank(g["severity"]), g["name"]))
    hosts = _counts(HOST_STATS, pick("hosts"))
    services = _counts(SERVICE_STATS, pick("services"))
    hosts["unhandled"] = sum(1 for p in unhandled if p["kind"] == "host" and not p.get("stale"))
    services["unhandled"] = sum(1 for p in unhandled if p["kind"] == "service" and not p.get("stale"))

    merged_tops = dict(panels or previous.get("tops") or {})
    merged_tops["problem_hosts"] = tops.problem_hosts(all_problems)
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


# -- the registry side ---------------------------------------------------------


def recent_deployments(limit: int = DEPLOYMENTS_ON_WALL) -> list[dict[str, Any]]:
    """The last deployments of all nodes, newest first."""
    rows = Deployment.objects.select_related("node").order_by("-created_at", "-pk")[:limit]
    return [entry for entry in (deployment_summary(d) for d in rows) if entry is not None]


# -- refresh ---------------------------------------------------------------------


def compute(previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One refresh: ask the nodes, read the registry, merge with the previous snapshot."""
    started = time.perf_counter()
    now = _now()
    nodes = live_nodes()
    previous_tops = (previous or {}).get("tops") or {}
    tops_due = now - float(previous_tops.get("taken_at") or 0) >= tops.tops_seconds()
    collected = collect(nodes, with_log=tops_due)
    deployments = node_deployments(nodes)
    watched = node_states(node.name for node in nodes)
    drifted = node_drift(node.name for node in nodes)
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
                # The cluster watch's verdict (registry/failover.py): down since, share taken by.
                "cluster": watched.get(node.name),
                # Runs other than last deployed (registry/drift.py): kinds in words, since when.
                "drift": drifted.get(node.name),
            }
        )
    panels = None
    if tops_due:
        panels = {
            "taken_at": now,
            "noisiest": tops.noisiest(collected["log"]),
            # The wall's "last hour" strip: hard state changes and acknowledgements (no authors).
            "changes": tops.last_hour(collected["log"], now),
            "notified": tops.most_notified(nodes, now),
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
        panels=panels,
        queries=collected["queries"],
        duration_ms=(time.perf_counter() - started) * 1000,
    )
    # Nodes that cannot be asked: their hosts are missing from every count, which must not
    # look like "all is well" (names only: the wall is readable through kiosk links).
    snapshot["unwatched"] = unwatched_nodes()
    # Objects nobody would be told about, counted by the preferences task (counts only: kiosk-safe).
    snapshot["coverage"] = coverage.stored_counts()
    return snapshot
