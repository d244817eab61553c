"""The notification history: every decision of the notify-filter, kept in the database, explained.

Stored by the collector that already reads each node's decision log into Redis
(``preferences.decisions``, run by the node's own worker): each chunk of lines goes to
``store_lines`` before the reader's offset moves, so a line is stored at least once, and
``NotificationDecision.digest`` (the node and the line's bytes) makes it exactly once, across
overlapping runs, a run that died half-way and rotated logs (the digest does not depend on
where the line sits in which file). Redis keeps serving the wall and the home page as before:
fifty wall screens must not each count a day of rows in PostgreSQL.

**Explanations** are computed here, at collection, not by the filter: the filter stays as
fast as it was (it logs the deciding rule's id, as it did), and the worker that collects runs
on the node, beside the snapshot generations the filter read. The explanation walks
``explain.explain`` (``evaluate``'s own matching) over the generation that was current at the
decision's time; when that generation is gone (collected long after), over the rules as they
are now. Either way it is checked against what the filter logged: an explanation whose
deciding rule or action differs from the filter's is not stored as one (the page then says
the rules changed and gives the filter's reason). Page and filter never disagree.

**What Naemon did before asking** (``not_attempted``): the notifications the core did not even
try, read from the node's log (Livestatus ``log`` table; without Livestatus, the core's log
file when this machine can read it). Naemon logs ``HOST/SERVICE NOTIFICATION SUPPRESSED:
<object>;<reason>`` when ``enable_notification_suppression_reason_logging`` is on, once per
change of reason (naemon-core ``src/naemon/notifications.c``); Nagios 4 logs none of that, so
a hard problem alert without a notification after it is explained from the log's
``DOWNTIME ALERT`` lines (``STARTED``/``STOPPED``/``CANCELLED``) and the logged external
commands that disable notifications.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from preferences import compiled, decisions, engine, explain, snapshot
from preferences.models import NotificationDecision, NotificationRule
from registry.models import Contact, Host, NaemonNode, Service

logger = logging.getLogger(__name__)

#: The follow-ups and fail-open cases: the filter's reason is the whole explanation.
_FOLLOWUPS = frozenset(engine.FOLLOWUP_TYPES)
#: Contact files of a snapshot generation (``snapshot.read_contact`` reads only ``current``).
_CONTACT_MAGIC = snapshot._CONTACT_MAGIC
_GENERATION = re.compile(r"^gen-(\d{20})-")
_BATCH = 500


# -- collection ---------------------------------------------------------------------


def digest(node_id: int, line: bytes) -> str:
    """The unique key of a collected line: the same line from the same node is one decision."""
    return hashlib.sha256(b"%d\0" % node_id + line.strip()).hexdigest()


def _text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def _rule_id(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


class Generations:
    """The snapshot generations on this node, to read a contact as the filter read it then."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.found: list[tuple[float, str]] = []
        if directory:
            try:
                names = os.listdir(directory)
            except OSError:
                names = []
            for name in names:
                match = _GENERATION.match(name)
                if match:
                    self.found.append((int(match.group(1)) / 1e9, os.path.join(directory, name)))
        self.found.sort()
        self.cache: dict[tuple[str, str], engine.CompiledContact | None] = {}

    def at(self, when: float, contact: str) -> engine.CompiledContact | None:
        """The contact as compiled in the newest generation written at or before ``when``."""
        earlier = [path for written, path in self.found if written <= when]
        if not earlier:
            return None
        path = earlier[-1]
        key = (path, contact)
        if key not in self.cache:
            self.cache[key] = _read_generation(path, contact)
        return self.cache[key]


def _read_generation(path: str, contact: str) -> engine.CompiledContact | None:
    try:
        data = Path(path, snapshot.CONTACTS, snapshot.contact_filename(contact)).read_bytes()
        value = snapshot.unpack(data, _CONTACT_MAGIC)
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get("format") != engine.COMPILED_FORMAT:
        return None
    return value  # type: ignore[return-value]


def _groups(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(host, service) → (host groups, service groups), as the registry has them now."""
    hosts = {str(r.get("host") or "") for r in records}
    host_groups: dict[str, list[str]] = {}
    for host in Host.objects.filter(name__in=hosts).prefetch_related("hostgroups"):
        host_groups[host.name] = sorted(g.name for g in host.hostgroups.all())
    result: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    services = Service.objects.filter(host__name__in=hosts).select_related("host")
    for service in services.prefetch_related("servicegroups"):
        if service.host is not None:
            result[(service.host.name, service.description)] = (
                host_groups.get(service.host.name, []),
                sorted(g.name for g in service.servicegroups.all()),
            )
    for name, groups in host_groups.items():
        result[(name, "")] = (groups, [])
    return result


def notification_of(record: Mapping[str, Any], groups: tuple[list[str], list[str]]) -> engine.Notification:
    """The notification a decision line was about (groups from the registry: the line has none)."""
    return engine.Notification(
        contact=str(record.get("contact") or ""),
        channel=str(record.get("channel") or ""),
        type=str(record.get("type") or "").strip().upper(),
        host=str(record.get("host") or ""),
        state=str(record.get("state") or "").strip().upper(),
        hostgroups=groups[0],
        service=str(record.get("service") or "") or None,
        servicegroups=groups[1],
        notification_id=str(record.get("id") or ""),
        time=datetime.fromtimestamp(record["_ts"], UTC),
    )


def explain_record(
    record: Mapping[str, Any],
    contact: engine.CompiledContact | None,
    notification: engine.Notification,
    source: str,
) -> dict[str, Any]:
    """The stored explanation of one decision line (see the module docstring).

    ``{"steps": [{"rule", "matched", "code", "text"}...], "source": "snapshot" | "rules now",
    "note": ...}``; no steps when the filter's reason is the whole story (fail open, unknown
    contact, a follow-up, rules changed since).
    """
    reason = str(record.get("reason") or "")
    if reason.startswith("fail open") or reason == "unknown contact" or contact is None:
        return {"steps": [], "note": "the filter's reason is the explanation"}
    if notification.type in _FOLLOWUPS:
        return {"steps": [], "note": "a follow-up: it follows the problem it ends (see the reason)"}
    steps = explain.explain(contact, notification)
    last = steps[-1]
    action = "notify" if record.get("decision") == "notify" else "suppress"
    decided = "notify" if (last[3].endswith(": notify") or last[3].endswith("default notify")) else "suppress"
    if last[0] != record.get("rule") or decided != action:
        return {
            "steps": [],
            "note": "the rules changed between this decision and its collection; the filter's reason stands",
        }
    return {
        "steps": [{"rule": r, "matched": m, "code": c, "text": t} for r, m, c, t in steps],
        "source": source,
    }


def store_lines(node: NaemonNode, lines: Sequence[bytes], generations: Generations | None = None) -> int:
    """Store these decision lines of a node (idempotent); how many were new."""
    generations = generations or Generations(None)
    parsed: list[tuple[bytes, dict[str, Any]]] = []
    for line in lines:
        record = decisions.parse_line(line)
        if record is None or record["_ts"] is None or not record.get("contact") or not record.get("host"):
            continue
        parsed.append((line, record))
    if not parsed:
        return 0
    records = [record for _, record in parsed]
    users = dict(
        Contact.objects.filter(name__in={str(r["contact"]) for r in records}).values_list("name", "user_id")
    )
    rule_ids = {rule for rule in (_rule_id(r.get("rule")) for r in records) if rule is not None}
    comments = dict(NotificationRule.objects.filter(pk__in=rule_ids).values_list("pk", "comment"))
    groups = _groups(records)
    now_compiled: dict[str, engine.CompiledContact | None] = {}
    rows = []
    for line, record in parsed:
        contact_name = str(record["contact"])
        key = (str(record.get("host") or ""), str(record.get("service") or ""))
        notification = notification_of(record, groups.get(key, ([], [])))
        contact = generations.at(record["_ts"], contact_name)
        source = "snapshot"
        if contact is None:
            user_id = users.get(contact_name)
            if contact_name not in now_compiled:
                now_compiled[contact_name] = _compile_now(user_id)
            contact, source = now_compiled[contact_name], "rules now"
        rule_id = _rule_id(record.get("rule"))
        rows.append(
            NotificationDecision(
                time=datetime.fromtimestamp(record["_ts"], UTC),
                node=node,
                node_name=node.name,
                contact=_text(contact_name, 200),
                user_id=users.get(contact_name),
                host=_text(record.get("host"), 255),
                service=_text(record.get("service"), 255),
                state=_text(record.get("state"), 32).upper(),
                type=_text(record.get("type"), 32).upper(),
                channel=_text(record.get("channel"), 100),
                decision="notify" if record.get("decision") == "notify" else "suppress",
                rule_id=rule_id,
                rule_comment=comments.get(rule_id, "") if rule_id is not None else "",
                reason=_text(record.get("reason"), 2000),
                explanation=explain_record(record, contact, notification, source),
                notification_id=_text(record.get("id"), 64),
                digest=digest(node.pk, line),
            )
        )
    NotificationDecision.objects.bulk_create(rows, batch_size=_BATCH, ignore_conflicts=True)
    return len(rows)


def _compile_now(user_id: int | None) -> engine.CompiledContact | None:
    if user_id is None:
        return None
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return None
    try:
        return compiled.compile_user(user)[0]
    except engine.RuleError:
        return None


def sink_for(node: NaemonNode) -> Any:
    """The collector's ``sink`` for a node: its lines into the database, explained with its snapshots."""
    generations = Generations(node.notify_paths().snapshot_dir)
    return lambda lines: store_lines(node, lines, generations)


def purge(now: datetime | None = None) -> int:
    """Forget decisions older than ``NOTIFICATION_HISTORY_DAYS``; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_HISTORY_DAYS)
    deleted, _ = NotificationDecision.objects.filter(time__lt=cutoff).delete()
    return deleted


# -- reading ------------------------------------------------------------------------


def visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[NotificationDecision]:
    """Staff see every decision; everyone else the decisions about their own contact."""
    queryset = NotificationDecision.objects.all()
    if not user.is_authenticated:
        return queryset.none()
    if getattr(user, "is_staff", False):
        return queryset
    return queryset.filter(user_id=user.pk)


def rule_label(decision: NotificationDecision) -> str:
    """How the page names what decided: the rule by its id and comment, or the default."""
    if decision.rule_id is None:
        return "default" if decision.reason.startswith("no rule matched") else "—"
    comment = f" “{decision.rule_comment}”" if decision.rule_comment else ""
    return f"rule {decision.rule_id}{comment}"


# -- what Naemon did before asking ------------------------------------------------------

#: Naemon's suppression reasons (notifications.c, ``log_notification_suppression_reason``) → code.
SUPPRESSION_REASONS = {
    "Notifications are disabled globally.": "disabled",
    "Notification blocked by timeperiod; notifications should not be sent out at this time.": "period",
    "Notifications are temporarily disabled for this object by an external command.": "disabled",
    "Notifications are disabled for this object by its configuration.": "disabled",
    "No notification sent, because no contacts were found for notification purposes.": "no_contacts",
    "Notification blocked for object currently in a scheduled downtime.": "downtime",
    "Notification blocked for service because its associated host is currently in a scheduled downtime.": (
        "downtime"
    ),
    "Notifications blocked for object in a soft state.": "soft",
    "Notification for problem blocked because it has already been acknowledged.": "acknowledged",
    "Notification blocked because the object is currently flapping.": "flapping",
    "Notification blocked due to dependency of another object.": "dependency",
    "Notifications disabled for current object state.": "options",
}
_PROBLEMS = frozenset(("WARNING", "CRITICAL", "UNKNOWN", "DOWN", "UNREACHABLE"))
#: A notification line this long after a hard alert belongs to it.
_ATTEMPT_SECONDS = decisions.MATCH_SECONDS
LOG_COLUMNS = ("time", "class", "type", "message", "host_name", "service_description", "state", "state_type")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_log_line(line: str) -> dict[str, Any] | None:
    """A core log file line (``[epoch] TYPE: fields``) as a ``log`` table row; None if it is none."""
    if not line.startswith("["):
        return None
    stamp, _, rest = line[1:].partition("] ")
    kind, colon, fields = rest.partition(": ")
    if not stamp.isdigit() or not colon:
        return None
    parts = fields.split(";")
    row: dict[str, Any] = {"time": int(stamp), "type": kind, "message": rest.rstrip("\n")}
    row["host_name"] = parts[0] if kind.startswith(("HOST", "SERVICE")) else ""
    row["service_description"] = parts[1] if kind.startswith("SERVICE") and len(parts) > 1 else ""
    if kind in ("HOST ALERT", "SERVICE ALERT"):
        offset = 1 if kind == "HOST ALERT" else 2
        row["state_name"] = parts[offset] if len(parts) > offset else ""
        row["state_type"] = parts[offset + 1] if len(parts) > offset + 1 else ""
    return row


def _state_name(row: Mapping[str, Any]) -> str:
    if "state_name" in row:
        return str(row["state_name"])
    # The log table's ``state`` is numeric; the message has the name after the object's names.
    fields = str(row.get("message", "")).partition(": ")[2].split(";")
    offset = 2 if row.get("service_description") else 1
    return fields[offset] if len(fields) > offset else ""


def _state_type(row: Mapping[str, Any]) -> str:
    value = row.get("state_type")
    if isinstance(value, str) and value:
        return value
    fields = str(row.get("message", "")).partition(": ")[2].split(";")
    offset = 3 if row.get("service_description") else 2
    return fields[offset] if len(fields) > offset else ""


def not_attempted(rows: Iterable[Mapping[str, Any]], host: str, service: str = "") -> list[dict[str, Any]]:
    """The problems of one object that the core did not notify at all, and why, oldest first.

    ``rows``: the node's log (table rows or ``parse_log_line`` rows) for the window, any order.
    Each answer: ``{"time", "state", "code", "reason"}``; ``code`` one of downtime,
    disabled, period, no_contacts, ... (Naemon's own reasons) or ``unknown`` (Nagios 4 with
    no downtime or disabling logged: the log does not say why).
    """
    ordered = sorted(rows, key=lambda r: int(r.get("time") or 0))
    downtime: dict[str, int | None] = {"host": None, "object": None}
    disabled: int | None = None
    pending: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    object_fields = f"{host};{service}" if service else host
    kind = "SERVICE" if service else "HOST"
    names = [host, service] if service else [host]
    own_commands = {f"{verb}_{'SVC' if service else 'HOST'}_NOTIFICATIONS" for verb in ("DISABLE", "ENABLE")}
    for row in ordered:
        when = int(row.get("time") or 0)
        message = str(row.get("message") or "")
        row_type = str(row.get("type") or message.partition(": ")[0])
        fields = message.partition(": ")[2]
        # An attempt this soon after a pending problem answers it: the core did try.
        if row_type == f"{kind} NOTIFICATION" and fields.split(";")[1 : 1 + len(names)] == names:
            pending = [p for p in pending if when - p["time"] > _ATTEMPT_SECONDS]
        if row_type.endswith("NOTIFICATION SUPPRESSED") and fields.startswith(f"{object_fields};"):
            text = fields[len(object_fields) + 1 :]
            code = SUPPRESSION_REASONS.get(text, "other")
            found.append({"time": when, "state": "", "code": code, "reason": f"Naemon: {text}"})
            pending = []
            continue
        if row_type == "HOST DOWNTIME ALERT" and fields.startswith(f"{host};"):
            downtime["host"] = when if fields.split(";")[1] == "STARTED" else None
        elif service and row_type == "SERVICE DOWNTIME ALERT" and fields.startswith(f"{object_fields};"):
            downtime["object"] = when if fields.split(";")[2] == "STARTED" else None
        elif row_type == "EXTERNAL COMMAND":
            command, _, arguments = fields.partition(";")
            ours = command in own_commands and arguments.split(";")[: len(names)] == names
            if ours or command in ("DISABLE_NOTIFICATIONS", "ENABLE_NOTIFICATIONS"):
                disabled = when if command.startswith("DISABLE_") else None
        elif (
            row_type == f"{kind} ALERT"
            and fields.startswith(f"{object_fields};")
            and _state_type(row) == "HARD"
            and _state_name(row) in _PROBLEMS
        ):
            pending.append({"time": when, "state": _state_name(row), **_why(downtime, disabled)})
        for problem in [p for p in pending if when - p["time"] > _ATTEMPT_SECONDS]:
            found.append(problem)
            pending.remove(problem)
    found.extend(pending)  # nothing came after them: not attempted (so far)
    return sorted(found, key=lambda p: p["time"])


def _why(downtime: Mapping[str, int | None], disabled: int | None) -> dict[str, str]:
    since = downtime["object"] or downtime["host"]
    if since is not None:
        whose = "the object" if downtime["object"] else "its host"
        return {
            "code": "downtime",
            "reason": f"nothing was attempted: {whose} in downtime since {_when(since)}",
        }
    if disabled is not None:
        return {
            "code": "disabled",
            "reason": f"nothing was attempted: notifications disabled since {_when(disabled)}",
        }
    return {"code": "unknown", "reason": "nothing was attempted; the core's log does not say why"}


def core_log(
    node: NaemonNode, host: str, service: str, since: float, until: float
) -> tuple[list[dict[str, Any]], str]:
    """The node's log rows about one object (and the commands) in a window; ([], why) if unreadable."""
    if node.livestatus:
        from livestatus.client import Filter, LivestatusClient, LivestatusError, LivestatusQuery

        query = LivestatusQuery("log", columns=LOG_COLUMNS).where(
            Filter("time", ">=", int(since)), Filter("time", "<=", int(until) + 1)
        )
        client = LivestatusClient(node.livestatus, connect_timeout=2.0, timeout=10.0)
        try:
            return [dict(row) for row in client.query(query) if _concerns(row, host)], ""
        except LivestatusError as exc:
            return [], exc.message
        finally:
            client.close()
    path = _log_file(node)
    if path is None:
        return [], "no Livestatus for this node and its log file is not readable here"
    rows = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            row = parse_log_line(line)
            if row is not None and since <= row["time"] <= until + 1 and _concerns(row, host):
                rows.append(row)
    return rows, ""


def _concerns(row: Mapping[str, Any], host: str) -> bool:
    return (
        row.get("host_name") == host
        or str(row.get("message", "")).startswith("EXTERNAL COMMAND: ")
        or (host in str(row.get("message", "")) and "NOTIFICATION SUPPRESSED" in str(row.get("message", "")))
    )


def _log_file(node: NaemonNode) -> str | None:
    """``log_file=`` of the node's main config, if this machine can read both."""
    try:
        with open(node.main_config, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, value = line.strip().partition("=")
                if name == "log_file" and os.access(value, os.R_OK):
                    return value
    except OSError:
        return None
    return None


def object_not_attempted(host: str, service: str, since: float, until: float | None = None) -> dict[str, Any]:
    """What every enabled node's core did not attempt for an object: ``{"rows": [...], "unreadable": [...]}``."""
    until = time.time() if until is None else until
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for node in NaemonNode.objects.filter(enabled=True).order_by("name"):
        log, error = core_log(node, host, service, since, until)
        if error:
            errors.append(f"{node.name}: {error}")
            continue
        rows.extend({**row, "node": node.name} for row in not_attempted(log, host, service))
    rows.sort(key=lambda row: row["time"])
    for row in rows:
        row["at"] = datetime.fromtimestamp(row["time"], UTC)
    return {"rows": rows, "unreadable": errors}
