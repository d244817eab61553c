"""What the status pages and the status API show: Livestatus queries over every node, merged.

Every node is asked in parallel (``livestatus.multi``); each row says which node it came
from, and a node that does not answer is reported in ``unreachable`` instead of failing the
page. A master renders every host, so an object placed on a poller is known to both cores:
rows are merged per object, the poller's row winning (it runs the check).

Filters are built with the query builder, never pasted. The text search is a
case-insensitive regex (``~~``) on a *literal*: every regex metacharacter of the input is
escaped, so ``(`` or ``.*`` match themselves, and a line break is refused by the builder.

Icinga 2 ignores ``Sort:`` and ``Offset:``: rows are sorted and paged here, in Python.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from livestatus import dashboard, notifications_log
from livestatus.client import Row, detect_dialect
from livestatus.dashboard import HOST_LABELS, SERVICE_LABELS, node_deployments, severity_rank
from livestatus.errors import LivestatusError
from livestatus.multi import NODE_KEY, LivestatusCluster, MultiResult
from livestatus.nodes import client_for, cluster_for, live_nodes
from livestatus.query import And, Expr, Filter, LivestatusQuery, Or
from preferences.models import NotificationRule
from registry.choices import NodeRole
from registry.models import Command, NaemonNode

#: State names accepted by the ``state`` filter, per kind of object.
HOST_STATES = {"up": 0, "down": 1, "unreachable": 2}
SERVICE_STATES = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}
PENDING_STATE = "pending"
_HOST_SEVERITY = {0: "ok", 1: "down", 2: "unreachable"}
_SERVICE_SEVERITY = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}

#: How far back the history of an object is read from the ``log`` table, and how much of it.
HISTORY_SECONDS = 7 * 86400
HISTORY_ROWS = 500
# Log classes: 1 alerts (state changes), 3 notifications.
_HISTORY_CLASSES = (1, 3)

CHECKED = Filter("has_been_checked", "=", 1)
PENDING = Filter("has_been_checked", "=", 0)

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
)
DETAIL_COLUMNS = (
    "long_plugin_output",
    "perf_data",
    "next_check",
    "check_command",
    "acknowledgement_type",
    "active_checks_enabled",
    "notifications_enabled",
    "notes",
)
COMMENT_COLUMNS = (
    "id",
    "host_name",
    "service_description",
    "author",
    "comment",
    "entry_time",
    "entry_type",
    "persistent",
    "expires",
    "expire_time",
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
LOG_COLUMNS = ("time", "class", "type", "state", "state_type", "plugin_output", "message", "contact_name")
#: ``entry_type`` of the comments table: 1 user, 2 downtime, 3 flapping, 4 acknowledgement.
COMMENT_ENTRY_TYPES = {1: "comment", 2: "downtime", 3: "flapping", 4: "acknowledgement"}

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


@dataclass
class ObjectDetail:
    """One host or service with everything its detail page shows (``row`` None: no node knows it)."""

    row: dict[str, Any] | None
    nodes: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    downtimes: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] | None = None
    history_error: str = ""
    services: list[dict[str, Any]] = field(default_factory=list)
    unreachable: list[Unreachable] = field(default_factory=list)


# -- clusters --------------------------------------------------------------------

_clusters_lock = threading.Lock()
_clusters: dict[tuple[tuple[str, str], ...], LivestatusCluster] = {}


def _cluster(nodes: Sequence[NaemonNode]) -> LivestatusCluster:
    """A cluster over these nodes, kept for the next request (its threads are reused)."""
    key = tuple((node.name, node.livestatus) for node in nodes)
    with _clusters_lock:
        cluster = _clusters.get(key)
        if cluster is None:
            if len(_clusters) >= 16:  # node edits and node filters: forget the oldest sets
                # Not closed: another request may be using it; its idle threads end with it.
                _clusters.pop(next(iter(_clusters)))
            cluster = _clusters[key] = cluster_for(list(nodes))
        return cluster


def forget_clusters() -> None:
    """Drop the cached clusters (tests; the clients themselves live in livestatus.nodes)."""
    with _clusters_lock:
        _clusters.clear()


def _nodes(node: str = "") -> list[NaemonNode]:
    nodes = live_nodes()
    return [n for n in nodes if n.name == node] if node else nodes


def node_names() -> list[str]:
    """Names of the nodes the status pages ask (for the node filter)."""
    return [node.name for node in live_nodes()]


def _unreachable(result: MultiResult) -> list[Unreachable]:
    return [Unreachable(error.node, error.error.message) for error in result.unreachable]


def _merge_unreachable(*lists: Iterable[Unreachable]) -> list[Unreachable]:
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


def _epoch(value: datetime | None) -> float:
    return value.timestamp() if value else 0.0


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _names(value: Any) -> list[str]:
    return sorted(str(item) for item in value) if isinstance(value, list) else []


def host_row(row: Row) -> dict[str, Any]:
    """A hosts-table row as the pages and the API show it."""
    state = _int(row.get("state"))
    pending = row.get("has_been_checked") is False
    return _common(row) | {
        "kind": "host",
        "host": str(row.get("name", "")),
        "service": "",
        "alias": str(row.get("alias") or ""),
        "address": str(row.get("address") or ""),
        "state": state,
        "state_label": "PENDING" if pending else HOST_LABELS.get(state, str(state)),
        "severity": "pending" if pending else _HOST_SEVERITY.get(state, "unknown"),
        "in_downtime": _int(row.get("scheduled_downtime_depth")) > 0,
        "hostgroups": _names(row.get("groups")),
        "servicegroups": [],
        "num_services": _int(row.get("num_services")),
    }


def service_row(row: Row) -> dict[str, Any]:
    """A services-table row as the pages and the API show it."""
    state = _int(row.get("state"))
    pending = row.get("has_been_checked") is False
    return _common(row) | {
        "kind": "service",
        "host": str(row.get("host_name", "")),
        "service": str(row.get("description", "")),
        "state": state,
        "state_label": "PENDING" if pending else SERVICE_LABELS.get(state, str(state)),
        "severity": "pending" if pending else _SERVICE_SEVERITY.get(state, "unknown"),
        "in_downtime": _int(row.get("scheduled_downtime_depth")) > 0
        or _int(row.get("host_scheduled_downtime_depth")) > 0,
        "hostgroups": _names(row.get("host_groups")),
        "servicegroups": _names(row.get("groups")),
    }


def _common(row: Row) -> dict[str, Any]:
    changed = timestamp(row.get("last_state_change"))
    common = {
        "node": str(row.get(NODE_KEY, "")),
        "pending": row.get("has_been_checked") is False,
        "hard": _int(row.get("state_type")) == 1,
        "output": str(row.get("plugin_output") or ""),
        "last_check": timestamp(row.get("last_check")),
        "last_state_change": changed,
        "duration_seconds": int(time.time() - changed.timestamp()) if changed else None,
        "attempt": _int(row.get("current_attempt")),
        "max_attempts": _int(row.get("max_check_attempts")),
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
            "acknowledgement_type": _int(row.get("acknowledgement_type")),
            "active_checks_enabled": row.get("active_checks_enabled"),
            "notifications_enabled": row.get("notifications_enabled"),
            "notes": str(row.get("notes") or ""),
        }
    return common


def comment_row(row: Row) -> dict[str, Any]:
    """A comments-table row."""
    entry_type = _int(row.get("entry_type"))
    return {
        "id": _int(row.get("id")),
        "node": str(row.get(NODE_KEY, "")),
        "host": str(row.get("host_name", "")),
        "service": str(row.get("service_description") or ""),
        "author": str(row.get("author") or ""),
        "comment": str(row.get("comment") or ""),
        "entry_time": timestamp(row.get("entry_time")),
        "entry_type": COMMENT_ENTRY_TYPES.get(entry_type, str(entry_type)),
        "persistent": bool(row.get("persistent")),
        "expires": timestamp(row.get("expire_time")) if row.get("expires") else None,
    }


def downtime_row(row: Row) -> dict[str, Any]:
    """A downtimes-table row."""
    return {
        "id": _int(row.get("id")),
        "node": str(row.get(NODE_KEY, "")),
        "host": str(row.get("host_name", "")),
        "service": str(row.get("service_description") or ""),
        "author": str(row.get("author") or ""),
        "comment": str(row.get("comment") or ""),
        "entry_time": timestamp(row.get("entry_time")),
        "start": timestamp(row.get("start_time")),
        "end": timestamp(row.get("end_time")),
        "fixed": bool(row.get("fixed")),
        "duration": _int(row.get("duration")),
        "triggered_by": _int(row.get("triggered_by")),
    }


def history_row(row: Row) -> dict[str, Any]:
    """A log-table row (``delivery`` and ``decision``: see ``explain_notifications``)."""
    return {
        "time": timestamp(row.get("time")),
        "type": str(row.get("type") or ""),
        "state": _int(row.get("state")),
        "output": str(row.get("plugin_output") or ""),
        "message": str(row.get("message") or ""),
        "contact": str(row.get("contact_name") or ""),
        "delivery": None,
        "decision": None,
    }


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
            parts.append(And(Filter("state", "=", names[state]), CHECKED))
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


def merge_objects(rows: Iterable[dict[str, Any]], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per object: a poller's row wins over a master's, then the first node by name."""

    def rank(row: Mapping[str, Any]) -> tuple[bool, str]:
        return (roles.get(row["node"]) != NodeRole.POLLER, row["node"])

    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=rank):
        found.setdefault((row["kind"], row["host"], row["service"]), row)
    return list(found.values())


def problem_sort_key(row: Mapping[str, Any]) -> tuple[int, float, str, str]:
    """Most severe first; within a severity the newest first (what just broke is on top)."""
    return (
        -severity_rank(row["severity"]),
        -_epoch(row["last_state_change"]),
        row["host"],
        row["service"],
    )


def _object_sort_key(row: Mapping[str, Any]) -> tuple[str, str]:
    return (row["host"].lower(), row["service"].lower())


def _ask(nodes: Sequence[NaemonNode], query: LivestatusQuery) -> tuple[list[Row], list[Unreachable]]:
    if not nodes:
        return [], []
    result = _cluster(nodes).query(query)
    return result.rows, _unreachable(result)


def _answering(nodes: Sequence[NaemonNode], failed: Iterable[Unreachable]) -> list[NaemonNode]:
    """The nodes minus those that just failed: one page waits for a dead node once, not per query."""
    down = {item.node for item in failed}
    return [node for node in nodes if node.name not in down]


# -- the views' questions ------------------------------------------------------


def hosts(filters: StatusFilter) -> StatusResult:
    """Hosts of every node, by name."""
    nodes = _nodes(filters.node)
    try:
        query = LivestatusQuery("hosts", columns=HOST_COLUMNS).where(*host_filters(filters))
    except _NoRows:
        return StatusResult([], [])
    rows, unreachable = _ask(nodes, query)
    merged = merge_objects((host_row(row) for row in rows), _roles())
    return StatusResult(sorted(merged, key=_object_sort_key), unreachable)


def services(filters: StatusFilter) -> StatusResult:
    """Services of every node, by host name and description."""
    nodes = _nodes(filters.node)
    try:
        query = LivestatusQuery("services", columns=SERVICE_COLUMNS).where(*service_filters(filters))
    except _NoRows:
        return StatusResult([], [])
    rows, unreachable = _ask(nodes, query)
    merged = merge_objects((service_row(row) for row in rows), _roles())
    return StatusResult(sorted(merged, key=_object_sort_key), unreachable)


def problems(filters: StatusFilter) -> StatusResult:
    """Hosts not UP and services not OK (checked at least once), most severe and newest first."""
    nodes = _nodes(filters.node)
    found: list[dict[str, Any]] = []
    unreachable: list[list[Unreachable]] = []
    for table, columns, make_filters, make_row in (
        ("hosts", HOST_COLUMNS, host_filters, host_row),
        ("services", SERVICE_COLUMNS, service_filters, service_row),
    ):
        try:
            query = LivestatusQuery(table, columns=columns).where(*make_filters(filters, problems=True))
        except _NoRows:
            continue
        rows, failed = _ask(nodes, query)
        found.extend(make_row(row) for row in rows)
        unreachable.append(failed)
        nodes = _answering(nodes, failed)
    merged = merge_objects(found, _roles())
    return StatusResult(sorted(merged, key=problem_sort_key), _merge_unreachable(*unreachable))


def downtimes(filters: StatusFilter) -> StatusResult:
    """Scheduled downtimes (only the host, service and node filters apply), by start."""
    exprs: list[Expr] = []
    if filters.host:
        exprs.append(Filter("host_name", "=", filters.host))
    if filters.service:
        exprs.append(Filter("service_description", "=", filters.service))
    rows, unreachable = _ask(
        _nodes(filters.node), LivestatusQuery("downtimes", columns=DOWNTIME_COLUMNS).where(*exprs)
    )
    found = [downtime_row(row) for row in rows]
    found.sort(key=lambda d: (_epoch(d["start"]), d["node"], d["id"]))
    return StatusResult(found, unreachable)


def host_detail(host: str, node: str = "") -> ObjectDetail:
    """A host, its services, comments, downtimes and history."""
    return _detail(host, "", node)


def service_detail(host: str, service: str, node: str = "") -> ObjectDetail:
    """A service with its comments, downtimes and history."""
    return _detail(host, service, node)


def _detail(host: str, service: str, node: str) -> ObjectDetail:
    nodes = _nodes(node)
    roles = {n.name: n.role for n in nodes}
    if service:
        query = LivestatusQuery("services", columns=SERVICE_COLUMNS + DETAIL_COLUMNS).where(
            Filter("host_name", "=", host), Filter("description", "=", service)
        )
        make_row = service_row
    else:
        query = LivestatusQuery("hosts", columns=HOST_COLUMNS + DETAIL_COLUMNS).where(
            Filter("name", "=", host)
        )
        make_row = host_row
    rows, unreachable = _ask(nodes, query)
    found = [make_row(row) for row in rows]
    if not found:
        return ObjectDetail(row=None, unreachable=unreachable)
    row = merge_objects(found, roles)[0]
    owner = row["node"]
    # Only the nodes that know the object have its comments, downtimes and services.
    knowing = {r["node"] for r in found}
    nodes = [n for n in nodes if n.name in knowing]
    # Comments and downtimes of this object only (a host's, not its services').
    same_object = [Filter("host_name", "=", host), Filter("service_description", "=", service)]
    comments, failed_comments = _ask(
        nodes, LivestatusQuery("comments", columns=COMMENT_COLUMNS).where(*same_object)
    )
    downtime_rows, failed_downtimes = _ask(
        nodes, LivestatusQuery("downtimes", columns=DOWNTIME_COLUMNS).where(*same_object)
    )
    detail = ObjectDetail(
        row=row,
        nodes=sorted(r["node"] for r in found),
        comments=sorted(
            (comment_row(c) for c in comments), key=lambda c: (_epoch(c["entry_time"]), c["id"]), reverse=True
        ),
        downtimes=sorted(
            (downtime_row(d) for d in downtime_rows),
            key=lambda d: (_epoch(d["start"]), d["id"]),
        ),
        history=None,
        unreachable=_merge_unreachable(unreachable, failed_comments, failed_downtimes),
    )
    if not service:
        service_rows, failed_services = _ask(
            nodes, LivestatusQuery("services", columns=SERVICE_COLUMNS).where(Filter("host_name", "=", host))
        )
        detail.services = sorted(
            merge_objects((service_row(r) for r in service_rows), roles), key=_object_sort_key
        )
        detail.unreachable = _merge_unreachable(detail.unreachable, failed_services)
    owner_node = next(n for n in nodes if n.name == owner)
    detail.history, detail.history_error = history(owner_node, host, service)
    return detail


#: The operator actions of an object, in the order the detail page offers them.
OBJECT_ACTIONS = (
    "acknowledge",
    "remove_acknowledgement",
    "downtime",
    "delete_downtime",
    "recheck",
    "comment",
)


def available_actions(detail: ObjectDetail, *, may_act: bool) -> dict[str, bool]:
    """Which actions the detail page offers on the object (``may_act``: ``actions.may_act``).

    Acknowledge a problem that is not acknowledged yet, remove an acknowledgement that is
    there, delete downtimes that exist; downtime, re-check and comment always.
    """
    row = detail.row or {}
    acknowledged = bool(row.get("acknowledged"))
    offered = {
        "acknowledge": not acknowledged and _int(row.get("state")) != 0,
        "remove_acknowledgement": acknowledged,
        "downtime": True,
        "delete_downtime": bool(detail.downtimes),
        "recheck": True,
        "comment": True,
    }
    return {name: may_act and offered[name] for name in OBJECT_ACTIONS}


def history(node: NaemonNode, host: str, service: str = "") -> tuple[list[dict[str, Any]] | None, str]:
    """The newest state changes and notifications of the last days, from the node's ``log`` table.

    Returns (rows, "") or (None, why): Icinga 2 has the table only with its compat log
    feature, and a node may not answer; neither is an error of the page.

    No ``Limit:``: Naemon applies it in log-file order, which would keep the *oldest*
    entries of the window, and neither core sorts the log table for us (Icinga 2 ignores
    ``Sort:``). The time filter bounds the reply; the newest ``HISTORY_ROWS`` are kept here.
    """
    since = int(time.time()) - HISTORY_SECONDS
    query = LivestatusQuery("log", columns=LOG_COLUMNS).where(
        Filter("time", ">=", since),
        Filter("host_name", "=", host),
        Filter("service_description", "=", service),
        Or(*(Filter("class", "=", cls) for cls in _HISTORY_CLASSES)),
    )
    try:
        rows = client_for(node).query(query)
    except LivestatusError as exc:
        return None, exc.message
    found = newest_first(rows)[:HISTORY_ROWS]
    explain_notifications(found, node, host, service)
    return found, ""


#: What Naemon, Nagios and Icinga 2 write in a notification line where the state goes:
#: the state (a PROBLEM, or a RECOVERY when it is OK/UP), ``RECOVERY`` (Icinga 2), or the
#: type with the state in brackets (``ACKNOWLEDGEMENT (CRITICAL)``, ``CUSTOM (UP)``).
_RECOVERED_STATES = ("OK", "UP")
_PROBLEM_STATES = ("WARNING", "CRITICAL", "UNKNOWN", "DOWN", "UNREACHABLE")
_NOTIFICATION_WORDS = frozenset(
    (
        "RECOVERY",
        "ACKNOWLEDGEMENT",
        "FLAPPINGSTART",
        "FLAPPINGSTOP",
        "FLAPPINGDISABLED",
        "DOWNTIMESTART",
        "DOWNTIMEEND",
        "DOWNTIMESTOPPED",
        "DOWNTIMECANCELLED",
        "DOWNTIMEREMOVED",
        "CUSTOM",
    )
)


def notification_type(token: str) -> str | None:
    """The notification type that a notification line's state field stands for; None if it is none."""
    word, _, rest = token.strip().partition(" (")
    if rest and word in _NOTIFICATION_WORDS:
        return word
    if rest:
        return None
    if word in _RECOVERED_STATES or word == "RECOVERY":
        return "RECOVERY"
    return "PROBLEM" if word in _PROBLEM_STATES else None


def notification_line(row: Mapping[str, Any], host: str, service: str) -> dict[str, Any] | None:
    """Contact, type and command of a ``HOST/SERVICE NOTIFICATION`` history row; None for other rows.

    Read from the line itself: Icinga 2's log table puts the output in ``command_name``. The
    line is ``contact;host;[service;]state-or-type;command;output``; the object's names are
    known, so a ``;`` inside them does not shift the fields. Some cores write the command
    before the type (custom and downtime notifications): either order is read.
    """
    if not row["type"].endswith("NOTIFICATION") or not row["contact"]:
        return None
    _, marker, fields = row["message"].partition("NOTIFICATION: ")
    start = f"{row['contact']};{host};" + (f"{service};" if service else "")
    if not marker or not fields.startswith(start):
        return None
    first, _, rest = fields[len(start) :].partition(";")
    second = rest.partition(";")[0]
    kind = notification_type(first)
    command = second
    if kind is None and notification_type(second) is not None:
        kind, command = notification_type(second), first
    return {"contact": row["contact"], "type": kind, "command": command}


def explain_notifications(rows: list[dict[str, Any]], node: NaemonNode, host: str, service: str) -> None:
    """Say on each notification row what the notify-filter did: sent, suppressed, or nothing recorded.

    A core logs a notification for every contact whose command it ran, sent or not; the
    filter decided on the same node (it runs where the core runs the command), so that
    node's decisions about this object are joined with the lines (``match_notifications``).
    """
    lines: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, row in enumerate(rows):
        line = notification_line(row, host, service)
        if line is not None and row["time"] is not None:
            lines.append(line | {"ts": row["time"].timestamp()})
            numbers.append(number)
    if not lines:
        return
    channels = dict(
        Command.objects.filter(name__in={line["command"] for line in lines}).values_list("name", "channel")
    )
    for line in lines:
        # A command the registry does not know (or a channel-less one): any channel.
        line["channel"] = channels.get(line["command"]) or None
    since = min(line["ts"] for line in lines) - notifications_log.MATCH_SECONDS
    decisions = notifications_log.match_notifications(lines, object_decisions(node, host, service, since))
    rules = _rule_labels(decision.get("rule") for decision in decisions if decision)
    for number, line, decision in zip(numbers, lines, decisions, strict=True):
        rows[number]["delivery"] = delivery(line["contact"], decision, rules)
        rows[number]["decision"] = None if decision is None else _decision_fields(decision, rules)


def object_decisions(node: NaemonNode, host: str, service: str, since: float) -> list[dict[str, Any]]:
    """The node's notify-filter decisions about an object since ``since``.

    What the node's worker collected into Redis; without Redis, its decision log on this
    machine (as the home page reads it). Nothing readable: no decisions.
    """
    client = dashboard._redis()
    if client is None:
        paths = notifications_log.decision_logs([node.notify_dir])
        return notifications_log.object_decisions_from_files(paths, host, service, since)
    if node.pk is None:
        return []
    try:
        found = notifications_log.object_decisions_collected(client, node.pk, host, service, since)
    except redis.RedisError:  # the history still shows, each line "no decision recorded"
        return []
    return found or []


def _rule_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _rule_labels(values: Iterable[Any]) -> dict[int, str]:
    """Rule id -> its name (comment) now; the id is the rule's primary key, stable when rules move."""
    ids = {rule for rule in map(_rule_id, values) if rule is not None}
    if not ids:
        return {}
    return dict(NotificationRule.objects.filter(pk__in=ids).values_list("pk", "comment"))


def _rule_text(contact: str, value: Any, rules: Mapping[int, str]) -> str:
    rule = _rule_id(value)
    if rule is None:
        return f"{contact}'s rule {value}"
    if rule not in rules:
        return f"{contact}'s rule {rule} (deleted since)"
    return f"{contact}'s rule '{rules[rule]}'" if rules[rule] else f"{contact}'s rule {rule}"


def delivery(contact: str, decision: Mapping[str, Any] | None, rules: Mapping[int, str]) -> str:
    """What became of a notification line: ``sent (email)``, ``suppressed by alice's rule 'x'``, ..."""
    if decision is None:
        return "no decision recorded"
    channel = str(decision.get("channel") or "")
    outcome = decision.get("decision")
    if outcome == "notify":
        return f"sent ({channel})"
    if outcome == "error":
        return f"not sent ({channel}): the command could not run"
    if decision.get("rule") is not None:
        return f"suppressed by {_rule_text(contact, decision['rule'], rules)}"
    return f"suppressed: {decision.get('reason') or 'no reason recorded'}"


def _decision_fields(decision: Mapping[str, Any], rules: Mapping[int, str]) -> dict[str, Any]:
    rule = _rule_id(decision.get("rule"))
    return {
        "time": timestamp(decision.get("_ts")),
        "decision": str(decision.get("decision") or ""),
        "channel": str(decision.get("channel") or ""),
        "rule_id": rule,
        "rule": rules.get(rule, "") if rule is not None else "",
        "reason": str(decision.get("reason") or ""),
    }


def newest_first(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Log rows as history rows, newest first; lines of the same second: the later line first."""
    # The log table answers in file order (oldest first): reversed, a stable sort keeps the
    # later of two lines of the same second in front.
    return sorted((history_row(row) for row in reversed(rows)), key=lambda r: _epoch(r["time"]), reverse=True)


def node_health() -> StatusResult:
    """Per node: reachable (or the error), program start, version, core, object counts, last deployment."""
    nodes = list(NaemonNode.objects.order_by("name"))
    asked = [node for node in nodes if node.enabled and node.livestatus]
    per_node: dict[str, Row] = {}
    errors: dict[str, str] = {}
    if asked:
        status = _cluster(asked).status()
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
                "num_hosts": _int(row.get("num_hosts")) if row else None,
                "num_services": _int(row.get("num_services")) if row else None,
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
        result = _cluster(lacking).query(LivestatusQuery(table).stats(total=Filter("state", ">=", 0)))
        for node_name, rows in result.per_node.items():
            per_node[node_name][name] = rows[0]["total"] if rows else 0
