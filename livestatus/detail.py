"""One host or service in full: its detail page and API (comments, downtimes, services, history).

The history is the node's ``log`` table (state changes and notifications of the last
days); each notification line says what the notify-filter did with it, joined from the
filter's decision log (``preferences.decisions``) on the node that sent it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis

from livestatus import availability, perfdata
from livestatus.client import Filter, LivestatusError, LivestatusQuery, Or, Row
from livestatus.nodes import client_for, merge_objects
from livestatus.states import HOST_SEVERITY, SERVICE_LABELS, SERVICE_SEVERITY
from livestatus.status import (
    DOWNTIME_COLUMNS,
    HOST_COLUMNS,
    SERVICE_COLUMNS,
    Unreachable,
    as_int,
    ask,
    asked_nodes,
    downtime_row,
    entry_fields,
    epoch,
    host_row,
    merge_downtimes,
    merge_unreachable,
    object_sort_key,
    service_row,
    timestamp,
)
from monitoring_portal import redis_client
from preferences import decisions
from preferences.models import NotificationProfile, NotificationRule
from registry.models import Command, NaemonNode

#: How far back the history of an object is read from the ``log`` table, and how much of it.
HISTORY_SECONDS = 7 * 86400
HISTORY_ROWS = 500
# Log classes: 1 alerts (state changes), 3 notifications.
_HISTORY_CLASSES = (1, 3)

DETAIL_COLUMNS = (
    "long_plugin_output",
    "perf_data",
    "next_check",
    "check_command",
    "acknowledgement_type",
    "notifications_enabled",
    "notes",
    "notes_url",
    "action_url",
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
LOG_COLUMNS = ("time", "class", "type", "state", "state_type", "plugin_output", "message", "contact_name")
#: ``entry_type`` of the comments table: 1 user, 2 downtime, 3 flapping, 4 acknowledgement.
COMMENT_ENTRY_TYPES = {1: "comment", 2: "downtime", 3: "flapping", 4: "acknowledgement"}


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
    #: The node whose row won (the checker): its log is the object's history.
    owner: NaemonNode | None = None


def comment_row(row: Row) -> dict[str, Any]:
    """A comments-table row."""
    entry_type = as_int(row.get("entry_type"))
    return {
        **entry_fields(row),
        "entry_type": COMMENT_ENTRY_TYPES.get(entry_type, str(entry_type)),
        "persistent": bool(row.get("persistent")),
        "expires": timestamp(row.get("expire_time")) if row.get("expires") else None,
    }


def merge_comments(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per comment that several holders have a copy of (same author, text, kind and entry
    time: the portal sends a comment to every holder with one entry time), ``nodes`` listing them."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["node"]):
        key = tuple(row[k] for k in ("host", "service", "author", "comment", "entry_type", "entry_time"))
        kept = found.setdefault(key, {**row, "nodes": []})
        kept["nodes"].append(row["node"])
    return list(found.values())


def history_row(row: Row) -> dict[str, Any]:
    """A log-table row (``delivery`` and ``decision``: see ``explain_notifications``)."""
    return {
        "time": timestamp(row.get("time")),
        "type": str(row.get("type") or ""),
        "state": as_int(row.get("state")),
        "output": str(row.get("plugin_output") or ""),
        "message": str(row.get("message") or ""),
        "contact": str(row.get("contact_name") or ""),
        "delivery": None,
        "decision": None,
    }


def host_detail(host: str, node: str = "") -> ObjectDetail:
    """A host, its services, comments, downtimes and history."""
    return _detail(host, "", node)


def service_detail(host: str, service: str, node: str = "") -> ObjectDetail:
    """A service with its comments, downtimes and history."""
    return _detail(host, service, node)


def _object_rows(
    host: str, service: str, nodes: list[NaemonNode]
) -> tuple[list[dict[str, Any]], list[Unreachable]]:
    """The object's status row from each node that knows it."""
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
    rows, unreachable = ask(nodes, query)
    return [make_row(row) for row in rows], unreachable


def _detail(host: str, service: str, node: str) -> ObjectDetail:
    nodes = asked_nodes(node)
    roles = {n.name: n.role for n in nodes}
    found, unreachable = _object_rows(host, service, nodes)
    if not found:
        return ObjectDetail(row=None, unreachable=unreachable)
    row = merge_objects(found, roles)[0]
    owner = row["node"]
    # Only the nodes that know the object have its comments, downtimes and services.
    knowing = {r["node"] for r in found}
    nodes = [n for n in nodes if n.name in knowing]
    # Comments and downtimes of this object only (a host's, not its services').
    same_object = [Filter("host_name", "=", host), Filter("service_description", "=", service)]
    comments, failed_comments = ask(
        nodes, LivestatusQuery("comments", columns=COMMENT_COLUMNS).where(*same_object)
    )
    downtime_rows, failed_downtimes = ask(
        nodes, LivestatusQuery("downtimes", columns=DOWNTIME_COLUMNS).where(*same_object)
    )
    detail = ObjectDetail(
        row=row,
        nodes=sorted(r["node"] for r in found),
        comments=sorted(
            merge_comments(comment_row(c) for c in comments),
            key=lambda c: (epoch(c["entry_time"]), c["id"]),
            reverse=True,
        ),
        downtimes=sorted(
            merge_downtimes(downtime_row(d) for d in downtime_rows),
            key=lambda d: (epoch(d["start"]), d["id"]),
        ),
        history=None,
        unreachable=merge_unreachable(unreachable, failed_comments, failed_downtimes),
    )
    if not service:
        service_rows, failed_services = ask(
            nodes, LivestatusQuery("services", columns=SERVICE_COLUMNS).where(Filter("host_name", "=", host))
        )
        detail.services = sorted(
            merge_objects((service_row(r) for r in service_rows), roles), key=object_sort_key
        )
        detail.unreachable = merge_unreachable(detail.unreachable, failed_services)
    detail.owner = next(n for n in nodes if n.name == owner)
    detail.history, detail.history_error = history(detail.owner, host, service)
    return detail


def object_availability(
    host: str, service: str = "", node: str = ""
) -> tuple[dict[str, Any] | None, NaemonNode | None, list[Unreachable]]:
    """The object's merged status row and the node whose log tells its availability (None: unknown)."""
    nodes = asked_nodes(node)
    found, unreachable = _object_rows(host, service, nodes)
    if not found:
        return None, None, unreachable
    row = merge_objects(found, {n.name: n.role for n in nodes})[0]
    return row, next(n for n in nodes if n.name == row["node"]), unreachable


def availabilities(
    owner: NaemonNode, row: Mapping[str, Any], windows: Sequence[str], now: float | None = None
) -> tuple[dict[str, availability.Availability] | None, str]:
    """The object's availability over each named window (``availability.WINDOWS``), from one log query.

    Returns (windows, "") or (None, why): a node without the log table (Icinga 2 without its
    compat log) or one that does not answer leaves the page without availability, not broken.
    """
    end = float(now if now is not None else time.time())
    longest = max(availability.WINDOWS[name] for name in windows)
    host, service = row["host"], row["service"]
    query = LivestatusQuery("log", columns=availability.LOG_COLUMNS).where(
        Filter("time", ">=", int(end - longest - availability.LOOKBACK_SECONDS)),
        Filter("time", "<=", int(end)),
        Filter("host_name", "=", host),
        Filter("service_description", "=", service),
        Or(*(Filter("class", "=", cls) for cls in availability.LOG_CLASSES)),
    )
    try:
        rows = client_for(owner).query(query)
    except LivestatusError as exc:
        return None, exc.message
    # A pending object has no state yet: its whole window is "no data".
    current = None if row.get("pending") else as_int(row.get("state"))
    since = epoch(row.get("last_state_change")) or None
    result = {
        name: availability.availability(
            rows,
            end - availability.WINDOWS[name],
            end,
            service=bool(service),
            current_state=current,
            current_since=since,
        )
        for name in windows
    }
    return result, ""


#: The operator actions of an object, in the order the detail page offers them.
OBJECT_ACTIONS = (
    "acknowledge",
    "remove_acknowledgement",
    "downtime",
    "delete_downtime",
    "recheck",
    "comment",
    "enable_notifications",
    "disable_notifications",
    "enable_checks",
    "disable_checks",
)


def flag_state(value: Any) -> bool | None:
    """A Livestatus 0/1 flag as a bool (None: the node did not say)."""
    if value is None or value == "":
        return None
    return value in (1, True, "1")


def available_actions(detail: ObjectDetail, *, may_act: bool) -> dict[str, bool]:
    """Which actions the detail page offers on the object (``may_act``: ``actions.may_act``).

    Acknowledge a problem that is not acknowledged yet, remove an acknowledgement that is
    there, delete downtimes that exist; downtime, re-check and comment always; enable or
    disable notifications and active checks, whichever they are not (both when unknown).
    """
    row = detail.row or {}
    acknowledged = bool(row.get("acknowledged"))
    notifying = flag_state(row.get("notifications_enabled"))
    checking = flag_state(row.get("active_checks_enabled"))
    offered = {
        "acknowledge": not acknowledged and as_int(row.get("state")) != 0,
        "remove_acknowledgement": acknowledged,
        "downtime": True,
        "delete_downtime": bool(detail.downtimes),
        "recheck": True,
        "comment": True,
        "enable_notifications": notifying is not True,
        "disable_notifications": notifying is not False,
        "enable_checks": checking is not True,
        "disable_checks": checking is not False,
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
    since = min(line["ts"] for line in lines) - decisions.MATCH_SECONDS
    matched = decisions.match_notifications(lines, object_decisions(node, host, service, since))
    rules = _rule_labels(decision.get("rule") for decision in matched if decision)
    for number, line, decision in zip(numbers, lines, matched, strict=True):
        rows[number]["delivery"] = delivery(line["contact"], decision, rules)
        rows[number]["decision"] = None if decision is None else _decision_fields(decision, rules)


def object_decisions(node: NaemonNode, host: str, service: str, since: float) -> list[dict[str, Any]]:
    """The node's notify-filter decisions about an object since ``since``.

    What the node's worker collected into Redis; without Redis, its decision log on this
    machine (as the home page reads it). Nothing readable: no decisions.
    """
    client = redis_client.client()
    if client is None:
        paths = decisions.decision_logs([node.notify_paths().decision_log] if node.notify_dir else [])
        return decisions.object_decisions_from_files(paths, host, service, since)
    if node.pk is None:
        return []
    try:
        found = decisions.object_decisions_collected(client, node.pk, host, service, since)
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
    return sorted((history_row(row) for row in reversed(rows)), key=lambda r: epoch(r["time"]), reverse=True)


# -- what the detail page draws ----------------------------------------------------------------


#: The narrowest a stretch in a known state is drawn, in percent of the bar.
MIN_WIDTH = 0.25


def timeline_view(name: str, result: availability.Availability) -> dict[str, Any]:
    """A window as the page draws it: stretches placed in percent of the bar, and the percent per state."""
    length = result.end - result.start
    colours = SERVICE_SEVERITY if result.labels is SERVICE_LABELS else HOST_SEVERITY
    segments = []
    for segment in result.segments:
        # A stretch of seconds in a month would be invisible: drawn at least a sliver wide (the
        # percent and the tooltip keep the exact time), and kept inside the bar at its end.
        width = max(round(100 * segment.seconds / length, 3), 0 if segment.state is None else MIN_WIDTH)
        left = min(round(100 * (segment.start - result.start) / length, 3), round(100 - width, 3))
        segments.append(
            {
                "left": left,
                "width": width,
                "label": result.label(segment.state),
                "severity": "nodata" if segment.state is None else colours.get(segment.state, "unknown"),
                "start": timestamp(segment.start),
                "end": timestamp(segment.end),
                # Epoch ms for the chart script (availability.js): a JS Date needs no parsing.
                "start_ms": round(segment.start * 1000),
                "end_ms": round(segment.end * 1000),
            }
        )
    percent = result.percent()
    severity = {label: colours.get(state, "unknown") for state, label in result.labels.items()}
    return {
        "name": name,
        "start_ms": round(result.start * 1000),
        "end_ms": round(result.end * 1000),
        "segments": segments,
        "percent": [
            {"label": label, "value": value, "severity": severity.get(label, "nodata")}
            for label, value in percent.items()
        ],
    }


def perfdata_rows(text: str) -> list[dict[str, Any]]:
    """The latest performance data as table rows, each with its bar (None: nothing to draw)."""
    return [
        {
            "label": value.label,
            "value": value.value,
            "uom": value.uom,
            "warn": value.warn,
            "crit": value.crit,
            "min": value.min,
            "max": value.max,
            "bar": value.bar(),
        }
        for value in perfdata.parse(text)
    ]


def grafana_url(template: str, host: str, service: str) -> str:
    """The site's Grafana link for an object (``GRAFANA_URL``, names URL-quoted); "" when not set."""
    if not template:
        return ""
    return template.replace("{host}", quote(host, safe="")).replace("{service}", quote(service, safe=""))


def user_timezone(user: Any, site_timezone: str) -> str:
    """The time zone a user reads times in: their notification profile's, else the site's."""
    if not getattr(user, "pk", None):
        return site_timezone
    chosen = NotificationProfile.objects.filter(user=user.pk).values_list("timezone", flat=True).first()
    try:
        ZoneInfo(chosen or "")
    except (ValueError, ZoneInfoNotFoundError):  # none chosen, or a zone this machine lacks
        return site_timezone
    return str(chosen)
