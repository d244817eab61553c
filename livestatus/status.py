"""What the status pages and the status API show: Livestatus queries over every node, merged.

Every node is asked in parallel (``livestatus.client.cluster``); each row says which node it
came from, and a node that does not answer is reported in ``unreachable`` instead of failing
the page. Every master holds every object and a poller its host groups', so each object is
taken from ONE node (``ask_objects``): the pollers that answer for their host groups, one
master (the active one, else the next that answers) for the rest; other masters' copies are
not asked. Rows still meeting are merged per object, the checker's row winning
(``livestatus.nodes.merge_objects``). Asking a single node (the ``node`` filter) shows its copies.
One object in full (comments, downtimes, history): ``livestatus.detail``.

Filters are built with the query builder, never pasted. The text search is a
case-insensitive regex (``~~``) on a *literal*: every regex metacharacter of the input is
escaped, so ``(`` or ``.*`` match themselves, and a line break is refused by the builder.

Icinga 2 ignores ``Sort:`` and ``Offset:``: rows are sorted and paged here, in Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from livestatus.client import (
    NODE_KEY,
    And,
    Expr,
    Filter,
    LivestatusQuery,
    MultiResult,
    Or,
    Row,
    detect_dialect,
)
from livestatus.nodes import (
    active_master,
    live_nodes,
    merge_objects,
    node_deployments,
    poller_groups,
    shared_cluster,
    split_rows,
)
from livestatus.states import (
    CHECKED,
    HOST_LABELS,
    HOST_SEVERITY,
    HOST_STATES,
    PENDING,
    PENDING_STATE,
    SERVICE_LABELS,
    SERVICE_SEVERITY,
    SERVICE_STATES,
    in_state,
    problem_sort_key,
    severity_rank,
)
from registry.choices import NodeRole
from registry.models import NaemonNode

HOST_COLUMNS = (
    "name",
    "alias",
    "address",
    "state",
    "state_type",
    "has_been_checked",
    "plugin_output",
    "last_check",
    "last_state_change",
    "current_attempt",
    "max_check_attempts",
    "acknowledged",
    "scheduled_downtime_depth",
    "is_flapping",
    "groups",
    "num_services",
    # Which copy is the checker's (``merge_objects``).
    "active_checks_enabled",
)
SERVICE_COLUMNS = (
    "host_name",
    "description",
    "state",
    "state_type",
    "has_been_checked",
    "plugin_output",
    "last_check",
    "last_state_change",
    "current_attempt",
    "max_check_attempts",
    "acknowledged",
    "scheduled_downtime_depth",
    "host_scheduled_downtime_depth",
    "is_flapping",
    "host_groups",
    "groups",
    "active_checks_enabled",
    # The host's own state: the header of its group when the list is grouped by host.
    "host_state",
    "host_has_been_checked",
)
DOWNTIME_COLUMNS = (
    "id",
    "host_name",
    "service_description",
    "is_service",
    "author",
    "comment",
    "entry_time",
    "start_time",
    "end_time",
    "fixed",
    "duration",
    "triggered_by",
)

# Characters with a meaning in POSIX extended (Naemon) and Perl/Boost (Icinga 2) regexes.
# A backslash before any of them means the character itself in both dialects.
_REGEX_SPECIALS = frozenset("\\.[](){}*+?|^$")


def literal_regex(text: str) -> str:
    """A regex that matches ``text`` literally, in Naemon's and Icinga 2's dialect alike."""
    return "".join("\\" + char if char in _REGEX_SPECIALS else char for char in text)


# -- results -------------------------------------------------------------------


@dataclass(frozen=True)
class Unreachable:
    """A node that did not answer, and why."""

    node: str
    error: str


@dataclass(frozen=True)
class StatusFilter:
    """What to show; every part is optional (empty: no restriction)."""

    states: tuple[str, ...] = ()
    hostgroup: str = ""
    servicegroup: str = ""
    acknowledged: bool | None = None
    downtime: bool | None = None
    node: str = ""
    host: str = ""
    service: str = ""
    q: str = ""


@dataclass
class StatusResult:
    """Rows of every answering node (merged per object), and the nodes that did not answer."""

    rows: list[dict[str, Any]]
    unreachable: list[Unreachable] = field(default_factory=list)


def asked_nodes(node: str = "") -> list[NaemonNode]:
    """The live nodes to ask: all of them, or the one named ``node``."""
    nodes = live_nodes()
    return [n for n in nodes if n.name == node] if node else nodes


def node_names() -> list[str]:
    """Names of the nodes the status pages ask (for the node filter)."""
    return [node.name for node in live_nodes()]


def _unreachable(result: MultiResult) -> list[Unreachable]:
    return [Unreachable(error.node, error.error.message) for error in result.unreachable]


def merge_unreachable(*lists: Iterable[Unreachable]) -> list[Unreachable]:
    """The nodes that did not answer, once each, by name."""
    seen: dict[str, Unreachable] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item.node, item)
    return sorted(seen.values(), key=lambda item: item.node)


# -- values --------------------------------------------------------------------


def timestamp(value: Any) -> datetime | None:
    """An epoch from Livestatus as an aware datetime (0 and -1 mean never)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def epoch(value: datetime | None) -> float:
    """A datetime as epoch seconds (0 for never)."""
    return value.timestamp() if value else 0.0


def as_int(value: Any) -> int:
    """A Livestatus value as an int (0 for what is not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _names(value: Any) -> list[str]:
    return sorted(str(item) for item in value) if isinstance(value, list) else []


def host_row(row: Row) -> dict[str, Any]:
    """A hosts-table row as the pages and the API show it."""
    state = as_int(row.get("state"))
    pending = row.get("has_been_checked") is False
    return _common(row) | {
        "kind": "host",
        "host": str(row.get("name", "")),
        "service": "",
        "alias": str(row.get("alias") or ""),
        "address": str(row.get("address") or ""),
        "state": state,
        "state_label": "PENDING" if pending else HOST_LABELS.get(state, str(state)),
        "severity": "pending" if pending else HOST_SEVERITY.get(state, "unknown"),
        "in_downtime": as_int(row.get("scheduled_downtime_depth")) > 0,
        "hostgroups": _names(row.get("groups")),
        "servicegroups": [],
        "num_services": as_int(row.get("num_services")),
    }


def service_row(row: Row) -> dict[str, Any]:
    """A services-table row as the pages and the API show it."""
    state = as_int(row.get("state"))
    pending = row.get("has_been_checked") is False
    return _common(row) | {
        "kind": "service",
        "host": str(row.get("host_name", "")),
        "service": str(row.get("description", "")),
        "state": state,
        "state_label": "PENDING" if pending else SERVICE_LABELS.get(state, str(state)),
        "severity": "pending" if pending else SERVICE_SEVERITY.get(state, "unknown"),
        "in_downtime": as_int(row.get("scheduled_downtime_depth")) > 0
        or as_int(row.get("host_scheduled_downtime_depth")) > 0,
        "hostgroups": _names(row.get("host_groups")),
        "servicegroups": _names(row.get("groups")),
        **_host_state(row),
    }


def _host_state(row: Row) -> dict[str, str]:
    """A service row's host state (label and severity); empty when the row does not carry it."""
    if "host_state" not in row:
        return {}
    if row.get("host_has_been_checked") is False:
        return {"host_state_label": "PENDING", "host_severity": "pending"}
    state = as_int(row.get("host_state"))
    return {
        "host_state_label": HOST_LABELS.get(state, str(state)),
        "host_severity": HOST_SEVERITY.get(state, "unknown"),
    }


def _common(row: Row) -> dict[str, Any]:
    changed = timestamp(row.get("last_state_change"))
    common = {
        "node": str(row.get(NODE_KEY, "")),
        "pending": row.get("has_been_checked") is False,
        "hard": as_int(row.get("state_type")) == 1,
        "output": str(row.get("plugin_output") or ""),
        "last_check": timestamp(row.get("last_check")),
        "last_state_change": changed,
        "duration_seconds": int(time.time() - changed.timestamp()) if changed else None,
        "attempt": as_int(row.get("current_attempt")),
        "max_attempts": as_int(row.get("max_check_attempts")),
        "acknowledged": bool(row.get("acknowledged")),
        "flapping": bool(row.get("is_flapping")),
    }
    if "long_plugin_output" in row:
        common |= {
            # Naemon sends the line breaks of long output as the two characters "\n".
            "long_output": str(row.get("long_plugin_output") or "").replace("\\n", "\n"),
            "perf_data": str(row.get("perf_data") or ""),
            "next_check": timestamp(row.get("next_check")),
            "check_command": str(row.get("check_command") or ""),
            "acknowledgement_type": as_int(row.get("acknowledgement_type")),
            "active_checks_enabled": row.get("active_checks_enabled"),
            "notifications_enabled": row.get("notifications_enabled"),
            "notes": str(row.get("notes") or ""),
            "notes_url": web_link(row.get("notes_url")),
            "action_url": web_link(row.get("action_url")),
        }
    return common


def web_link(value: Any) -> str:
    """An object's notes_url/action_url if it is a web address; '' otherwise (no javascript: links)."""
    text = str(value or "")
    return text if text.startswith(("https://", "http://")) else ""


def entry_fields(row: Row) -> dict[str, Any]:
    """What a downtimes- and a comments-table row have in common."""
    return {
        "id": as_int(row.get("id")),
        "node": str(row.get(NODE_KEY, "")),
        "host": str(row.get("host_name", "")),
        "service": str(row.get("service_description") or ""),
        "author": str(row.get("author") or ""),
        "comment": str(row.get("comment") or ""),
        "entry_time": timestamp(row.get("entry_time")),
    }


def downtime_row(row: Row) -> dict[str, Any]:
    """A downtimes-table row."""
    return {
        **entry_fields(row),
        "start": timestamp(row.get("start_time")),
        "end": timestamp(row.get("end_time")),
        "fixed": bool(row.get("fixed")),
        "duration": as_int(row.get("duration")),
        "triggered_by": as_int(row.get("triggered_by")),
    }


def downtime_key(downtime: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes copies of one downtime on several nodes the same downtime (their ids differ).

    The portal sends a downtime to every holder with the same entry time (the command's
    timestamp, which the core records as the downtime's entry time).
    """
    return tuple(
        downtime[key] for key in ("host", "service", "author", "comment", "entry_time", "start", "end")
    )


def merge_downtimes(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per downtime (``downtime_key``), ``nodes`` listing the nodes holding a copy; the row
    shown (its ``node`` and ``id``) is the first node's by name."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["node"]):
        kept = found.setdefault(downtime_key(row), {**row, "nodes": []})
        kept["nodes"].append(row["node"])
    return list(found.values())


# -- filters --------------------------------------------------------------------


class _NoRows(Exception):
    """The filter excludes every row of this table: do not ask."""


def _state_filter(states: Sequence[str], names: Mapping[str, int]) -> Expr | None:
    if not states:
        return None
    parts: list[Expr] = []
    for state in states:
        if state == PENDING_STATE:
            parts.append(PENDING)
        elif state in names:
            parts.append(in_state(names[state]))
    if not parts:
        raise _NoRows
    return parts[0] if len(parts) == 1 else Or(*parts)


def _yes_no(value: bool | None, yes: Expr, no: Expr) -> Expr | None:
    if value is None:
        return None
    return yes if value else no


def host_filters(filters: StatusFilter, *, problems: bool = False) -> list[Expr]:
    """Filter lines for the hosts table (``_NoRows`` when no host can match)."""
    if filters.servicegroup or filters.service:
        raise _NoRows  # a host is in no service group and has no description
    exprs: list[Expr | None] = [
        And(Filter("state", "!=", 0), CHECKED) if problems else None,
        _state_filter(filters.states, HOST_STATES),
        Filter("groups", ">=", filters.hostgroup) if filters.hostgroup else None,
        Filter("name", "=", filters.host) if filters.host else None,
        _yes_no(filters.acknowledged, Filter("acknowledged", "=", 1), Filter("acknowledged", "=", 0)),
        _yes_no(
            filters.downtime,
            Filter("scheduled_downtime_depth", ">", 0),
            Filter("scheduled_downtime_depth", "=", 0),
        ),
        _search(filters.q, ("name", "alias", "address", "plugin_output")),
    ]
    return [expr for expr in exprs if expr is not None]


def service_filters(filters: StatusFilter, *, problems: bool = False) -> list[Expr]:
    """Filter lines for the services table (``_NoRows`` when no service can match)."""
    exprs: list[Expr | None] = [
        And(Filter("state", "!=", 0), CHECKED) if problems else None,
        _state_filter(filters.states, SERVICE_STATES),
        Filter("host_groups", ">=", filters.hostgroup) if filters.hostgroup else None,
        Filter("groups", ">=", filters.servicegroup) if filters.servicegroup else None,
        Filter("host_name", "=", filters.host) if filters.host else None,
        Filter("description", "=", filters.service) if filters.service else None,
        _yes_no(filters.acknowledged, Filter("acknowledged", "=", 1), Filter("acknowledged", "=", 0)),
        _yes_no(
            filters.downtime,
            Or(Filter("scheduled_downtime_depth", ">", 0), Filter("host_scheduled_downtime_depth", ">", 0)),
            And(Filter("scheduled_downtime_depth", "=", 0), Filter("host_scheduled_downtime_depth", "=", 0)),
        ),
        _search(filters.q, ("host_name", "description", "plugin_output")),
    ]
    return [expr for expr in exprs if expr is not None]


def _search(text: str, columns: Sequence[str]) -> Expr | None:
    text = text.strip()
    if not text:
        return None
    pattern = literal_regex(text)
    return Or(*(Filter(column, "~~", pattern) for column in columns))


# -- merging ---------------------------------------------------------------------


def _roles() -> dict[str, str]:
    return dict(NaemonNode.objects.values_list("name", "role"))


def _problem_sort_key(row: Mapping[str, Any]) -> tuple[int, float, str, str]:
    return problem_sort_key(row["severity"], epoch(row["last_state_change"]), row["host"], row["service"])


def object_sort_key(row: Mapping[str, Any]) -> tuple[str, str]:
    """Rows by host name, then service description, ignoring case."""
    return (row["host"].lower(), row["service"].lower())


#: The columns a status list sorts by (``?sort=name``, ``?sort=-name`` descending), each a key of a row.
#: "duration" is the time in the current state: longest first is the oldest state change first.
SORT_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "state": lambda row: severity_rank(row["severity"]),
    "last_state_change": lambda row: epoch(row["last_state_change"]),
    "duration": lambda row: -epoch(row["last_state_change"]),
    "host": lambda row: row["host"].lower(),
    "service": lambda row: row["service"].lower(),
    "last_check": lambda row: epoch(row["last_check"]),
}


def sort_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """``rows`` by a ``SORT_KEYS`` column (``-`` first: descending), ties by host and service."""
    descending = sort.startswith("-")
    key = SORT_KEYS[sort.removeprefix("-")]
    # Two stable sorts: the tie order (host, service) stays ascending whatever the direction.
    ordered = sorted(rows, key=object_sort_key)
    return sorted(ordered, key=key, reverse=descending)


def host_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with each host's rows together, in their order; hosts in the order of their first row.

    So a list grouped by host keeps the chosen sort twice: within each host, and between hosts
    (by the first row of each: sorted by state, the host with the worst row comes first).
    """
    by_host: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_host.setdefault(row["host"], []).append(row)
    return [row for host_rows in by_host.values() for row in host_rows]


@dataclass
class HostRows:
    """One host's rows of a list grouped by host, with what its header shows."""

    host: str
    rows: list[dict[str, Any]]
    #: The host's own state ('' when no row says it).
    state_label: str = ""
    severity: str = ""
    #: Filled in by the page: the host's status page, and whether the reader may act on a row.
    url: str = ""
    may_act: bool = False

    @property
    def problems(self) -> int:
        """Rows not OK/UP (a pending object is no problem yet)."""
        return sum(1 for row in self.rows if row["severity"] not in ("ok", "pending"))


def group_by_host(rows: Iterable[dict[str, Any]]) -> list[HostRows]:
    """Consecutive rows of one host as one group (``host_first`` puts them together)."""
    groups: list[HostRows] = []
    for row in rows:
        if not groups or groups[-1].host != row["host"]:
            groups.append(HostRows(row["host"], []))
        group = groups[-1]
        group.rows.append(row)
        if row["kind"] == "host":
            group.state_label, group.severity = row["state_label"], row["severity"]
        elif not group.state_label and row.get("host_state_label"):
            group.state_label, group.severity = row["host_state_label"], row["host_severity"]
    return groups


def ask(nodes: Sequence[NaemonNode], query: LivestatusQuery) -> tuple[list[Row], list[Unreachable]]:
    """Ask every node in parallel: their rows, and the nodes that did not answer."""
    if not nodes:
        return [], []
    result = shared_cluster(nodes).query(query)
    return result.rows, _unreachable(result)


def ask_objects(
    nodes: Sequence[NaemonNode], query: LivestatusQuery, groups_key: str
) -> tuple[list[Row], list[Unreachable]]:
    """Each object's rows from one node (see the module docstring); ``groups_key``: the column with
    the host's groups, which ``query`` must select.

    The pollers and one master are asked in parallel; the master's rows of host groups whose
    poller answered are dropped, so a dead poller's objects come from the master's copies. If
    that master does not answer, the next one is asked.
    """
    if len(nodes) <= 1:
        return ask(nodes, query)
    pollers = [node for node in nodes if node.role == NodeRole.POLLER]
    active = active_master()
    masters = sorted(
        (node for node in nodes if node.role != NodeRole.POLLER),
        key=lambda n: (n.name != active, n.priority, n.name),
    )
    result = shared_cluster([*pollers, *masters[:1]]).query(query)
    per_node, failed = dict(result.per_node), _unreachable(result)
    master = masters[0].name if masters and masters[0].name in per_node else None
    for standby in masters[1:]:
        if master is not None:
            break
        result = shared_cluster([standby]).query(query)
        per_node.update(result.per_node)
        failed += _unreachable(result)
        master = standby.name if standby.name in per_node else None
    owned = poller_groups(node for node in pollers if node.name in per_node)
    tagged = {name: [{**row, "node": name} for row in rows] for name, rows in per_node.items()}
    kept = split_rows(tagged, nodes, groups_key=groups_key, master=master, owned=owned)
    return [{key: value for key, value in row.items() if key != "node"} for row in kept], failed


def _answering(nodes: Sequence[NaemonNode], failed: Iterable[Unreachable]) -> list[NaemonNode]:
    """The nodes minus those that just failed: one page waits for a dead node once, not per query."""
    down = {item.node for item in failed}
    return [node for node in nodes if node.name not in down]


# -- the views' questions ------------------------------------------------------


def hosts(filters: StatusFilter) -> StatusResult:
    """Hosts of every node, by name."""
    nodes = asked_nodes(filters.node)
    try:
        query = LivestatusQuery("hosts", columns=HOST_COLUMNS).where(*host_filters(filters))
    except _NoRows:
        return StatusResult([], [])
    rows, unreachable = ask_objects(nodes, query, "groups")
    merged = merge_objects((host_row(row) for row in rows), _roles())
    return StatusResult(sorted(merged, key=object_sort_key), unreachable)


def services(filters: StatusFilter) -> StatusResult:
    """Services of every node, by host name and description."""
    nodes = asked_nodes(filters.node)
    try:
        query = LivestatusQuery("services", columns=SERVICE_COLUMNS).where(*service_filters(filters))
    except _NoRows:
        return StatusResult([], [])
    rows, unreachable = ask_objects(nodes, query, "host_groups")
    merged = merge_objects((service_row(row) for row in rows), _roles())
    return StatusResult(sorted(merged, key=object_sort_key), unreachable)


def problems(filters: StatusFilter) -> StatusResult:
    """Hosts not UP and services not OK (checked at least once), most severe and newest first."""
    nodes = asked_nodes(filters.node)
    found: list[dict[str, Any]] = []
    unreachable: list[list[Unreachable]] = []
    for table, columns, make_filters, make_row, groups_key in (
        ("hosts", HOST_COLUMNS, host_filters, host_row, "groups"),
        ("services", SERVICE_COLUMNS, service_filters, service_row, "host_groups"),
    ):
        try:
            query = LivestatusQuery(table, columns=columns).where(*make_filters(filters, problems=True))
        except _NoRows:
            continue
        rows, failed = ask_objects(nodes, query, groups_key)
        found.extend(make_row(row) for row in rows)
        unreachable.append(failed)
        nodes = _answering(nodes, failed)
    merged = merge_objects(found, _roles())
    return StatusResult(sorted(merged, key=_problem_sort_key), merge_unreachable(*unreachable))


def downtimes(filters: StatusFilter) -> StatusResult:
    """Scheduled downtimes (only the host, service and node filters apply), by start.

    Once each (``merge_downtimes``): every holder of an object has its own copy of a downtime,
    with its own id; ``nodes`` says which hold one, and deleting it deletes every copy
    (``livestatus.actions``). Every node is asked: a copy missing somewhere must show.
    """
    exprs: list[Expr] = []
    if filters.host:
        exprs.append(Filter("host_name", "=", filters.host))
    if filters.service:
        exprs.append(Filter("service_description", "=", filters.service))
    rows, unreachable = ask(
        asked_nodes(filters.node), LivestatusQuery("downtimes", columns=DOWNTIME_COLUMNS).where(*exprs)
    )
    found = merge_downtimes(downtime_row(row) for row in rows)
    found.sort(key=lambda d: (epoch(d["start"]), d["node"], d["id"]))
    return StatusResult(found, unreachable)


def node_health() -> StatusResult:
    """Per node: reachable (or the error), program start, version, core, object counts, last deployment."""
    nodes = list(NaemonNode.objects.order_by("name"))
    asked = [node for node in nodes if node.enabled and node.livestatus]
    per_node: dict[str, Row] = {}
    errors: dict[str, str] = {}
    if asked:
        status = shared_cluster(asked).status()
        per_node = {row[NODE_KEY]: row for row in status.rows}
        errors = {error.node: error.error.message for error in status.unreachable}
        _add_counts(asked, per_node)
    deployments = node_deployments(nodes)
    entries = []
    for node in nodes:
        row = per_node.get(node.name)
        version = str(row.get("program_version") or "") if row else ""
        if not node.enabled:
            note = "disabled: not asked"
        elif not node.livestatus:
            note = "no Livestatus address: not asked"
        else:
            note = ""
        entries.append(
            {
                "node": node.name,
                "role": node.role,
                "address": node.livestatus,
                "enabled": node.enabled,
                "reachable": None if note else row is not None,
                "error": note or errors.get(node.name, ""),
                "program_start": timestamp(row.get("program_start")) if row else None,
                "version": version,
                "core": ("Icinga 2" if detect_dialect(version) == "icinga2" else "Naemon") if row else "",
                "livestatus_version": str(row.get("livestatus_version") or "") if row else "",
                "num_hosts": as_int(row.get("num_hosts")) if row else None,
                "num_services": as_int(row.get("num_services")) if row else None,
                "last_deployment": deployments.get(node.name),
            }
        )
    unreachable = [Unreachable(name, error) for name, error in sorted(errors.items())]
    return StatusResult(entries, unreachable)


def _add_counts(nodes: Sequence[NaemonNode], per_node: dict[str, Row]) -> None:
    """Count hosts and services where ``GET status`` does not (older cores)."""
    lacking = [node for node in nodes if node.name in per_node and "num_hosts" not in per_node[node.name]]
    for table, name in (("hosts", "num_hosts"), ("services", "num_services")):
        if not lacking:
            return
        result = shared_cluster(lacking).query(LivestatusQuery(table).stats(total=Filter("state", ">=", 0)))
        for node_name, rows in result.per_node.items():
            per_node[node_name][name] = rows[0]["total"] if rows else 0
