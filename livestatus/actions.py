"""Operator actions: who may act on what, the command, the nodes it goes to, the record, the retries.

Shared by the pages and the API. ``perform`` does, in this order, and stops at the first
refusal (nothing is sent then, and nothing recorded):

1. permission: staff and operators (``monitoring_portal.roles``: the control room) may act on
   anything; others on hosts (and their services) that the
   registry gives to one of their teams (``Host.team`` or a host group's team), on the nodes
   where a confirmed deployment put that registry host (``registry.models.DeployedHost``).
   The name alone grants nothing: a live object of the same name that the portal did not
   put on a node is someone else's (a duplicate of it fails the node's verify, so it never
   gets confirmed there). An object that is not in the registry is for staff and operators.
   An API token narrows this: a read-only or host-groups token may not act at all;
2. the command, built by ``livestatus.client.commands``: names and text that could add an argument
   or a line (``;`` in a name, a line break anywhere) are refused;
3. the nodes: every enabled node that holds a copy of the object (``registry.cluster``:
   ``Topology.holders``), the checker first, so that every copy is acknowledged, in downtime,
   commented alike (a copy left unacknowledged would notify again after a failover); for
   team members only those where a confirmed deployment put the host. A re-check goes to the
   checker only: on a passive copy a forced check would run the copy's command (the
   ``portal-stale`` placeholder of a poller's object, which turns it UNKNOWN) and change
   nothing the checker does. Notifications on or off go to every holder like the first: each
   copy runs Naemon's notification logic and the notify-filter lets only the notifier's through,
   so a copy left enabled would notify after a failover moved the notifier there. Active checks
   on or off go to the checker only: enabled on a passive copy, the core would check it itself
   (a second checker, and a runtime toggle outlives the redeploy that makes it passive, being a
   retained "modified attribute" that overrides the config); disabling there would change
   nothing, since the config already has them off and the core ignores a disable of what is
   off, and the record would list nodes where nothing happened. ``node`` names the node the
   request was made from (the page's row): it must be a live node, it gets the command too (but
   a checker-only kind), and a downtime id is that node's.

Each node gets the same command line with the same timestamp (``COMMAND [t]``), which the core
records as the entry time of a downtime or comment: the copies are one event, and deleting a
downtime finds each node's own id of it (ids are per core) by host, service, author, comment
and entry time. A node with a Livestatus address gets it through the Livestatus client; one
with only a command file, written to that file without blocking (``registry.runner``).

A node that does not take it because it cannot be reached gets a ``PendingAction``, which
``retry_pending`` (the periodic ``livestatus.tasks.retry_pending_actions``) sends again, in
order, once the node answers, until it is older than the maximum age (default 24 h): then it
is recorded as given up. A command the core refused, or one that may have been applied (the
node went silent after taking it), is not retried. One ``ActionLog`` row records who, what,
and each node's outcome (``deliveries``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from livestatus.client import (
    Command,
    Filter,
    LivestatusCommandError,
    LivestatusError,
    LivestatusQuery,
    commands,
)
from livestatus.models import ActionKind, ActionLog, ActionOutcome, NodeOutcome, PendingAction, PendingState
from livestatus.nodes import client_for, deployed_nodes, live_nodes, nodes_listing
from monitoring_portal import roles
from monitoring_portal.models import token_of
from registry import runner
from registry.choices import NodeRole
from registry.cluster import topology
from registry.models import Host, NaemonNode, nodes_for_hosts
from registry.permissions import team_ids

#: The longest downtime one request may schedule.
MAX_DOWNTIME_SECONDS = 366 * 86400
#: How long a copy that a node did not take is retried (the beat entry may pass another age).
PENDING_MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Target:
    """A host, or a service when ``service`` is set."""

    host: str
    service: str = ""

    def __str__(self) -> str:
        return f"{self.host}/{self.service}" if self.service else self.host


class ActionError(Exception):
    """An action that was not sent; the message says why."""


class ActionForbidden(ActionError):
    """The user may not act on this object."""


class ActionInvalid(ActionError):
    """The request cannot become a command (bad value, unknown node or downtime)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- permission ------------------------------------------------------------------


def _token_denial(user: Any) -> str | None:
    token = token_of(user)
    if token is None or token.allows_actions():
        return None
    return f"This token is limited to {token.scope_label}: it may not act on monitored objects."


def acts_on_everything(user: Any) -> bool:
    """Staff and operators act on every object, on every node that holds it."""
    return roles.is_operator(user) and _token_denial(user) is None


def sees_every_action(user: Any) -> bool:
    """Staff and operators read every user's actions (the control room's shift log); others their own."""
    return roles.is_operator(user)


def owned_hosts(user: Any) -> set[str] | None:
    """Names of the registry hosts the user may act on (on some node); None means every object."""
    if not getattr(user, "is_authenticated", False) or _token_denial(user) is not None:
        return set()
    if acts_on_everything(user):
        return None
    teams = team_ids(user)
    if not teams:
        return set()
    live = NaemonNode.objects.filter(enabled=True).exclude(livestatus="")
    # One filter() call: the node and the name are those of the same DeployedHost row.
    hosts = Host.objects.filter(Q(team__in=teams) | Q(hostgroups__team__in=teams)).filter(
        deployed_on__node__in=live, deployed_on__name=F("name")
    )
    return set(hosts.values_list("name", flat=True))


def denial(user: Any, target: Target, node: str = "") -> str | None:
    """Why the user may not act on the target (on ``node``, else on any node), or None if they may."""
    if not getattr(user, "is_authenticated", False):
        return "Log in to act on monitored objects."
    scoped = _token_denial(user)
    if scoped is not None:
        return scoped
    if acts_on_everything(user):
        return None
    host = Host.objects.filter(name=target.host).prefetch_related("hostgroups__node").first()
    if host is None:
        return f"{target.host} is not in the registry: only staff and operators may act on it."
    if not host.owning_teams() & team_ids(user):
        return f"{target.host} is not owned by one of your teams."
    deployed = [n.name for n in deployed_nodes(host)]
    if node:
        if node in deployed or node not in {n.name for n in live_nodes()}:
            return None  # a name that is no live node is refused by resolve_node (400, field "node")
        where = f"node {node}"
    elif deployed:
        return None
    else:
        expected = sorted(n.name for n in nodes_for_hosts([host]) if n.livestatus)
        where = f"node {expected[0]}" if len(expected) == 1 else f"nodes {', '.join(expected)}"
        where = where if expected else "any node"
    return (
        f"{target.host} is not yet deployed to {where}: you may act on it there once a confirmed "
        "deployment has put this registry host there (an object of that name may be someone else's)."
    )


def may_act(user: Any, target: Target) -> bool:
    """Whether the user may act on the target (see ``denial``)."""
    return denial(user, target) is None


# -- commands --------------------------------------------------------------------


def downtime_window(
    *,
    start: datetime | None,
    end: datetime | None,
    duration: int | None,
    fixed: bool,
    now: datetime | None = None,
) -> tuple[datetime, datetime, int]:
    """(start, end, duration in seconds) of a downtime request, or ActionInvalid.

    Fixed: from ``start`` (default now) to ``end``, or for ``duration`` seconds when no end
    is given. Flexible: it starts when the object goes down between ``start`` and ``end``
    and then lasts ``duration`` seconds; both are required.
    """
    now = now or timezone.now()
    start = start or now
    if duration is not None and not 1 <= duration <= MAX_DOWNTIME_SECONDS:
        raise ActionInvalid(
            f"duration must be 1 to {MAX_DOWNTIME_SECONDS} seconds, not {duration}.", field="duration"
        )
    if fixed:
        if end is None:
            if duration is None:
                raise ActionInvalid("A fixed downtime needs an end or a duration.", field="end")
            end = start + timedelta(seconds=duration)
        duration = int((end - start).total_seconds())
    else:
        if end is None or duration is None:
            raise ActionInvalid(
                "A flexible downtime needs an end (it may start until then) and a duration.",
                field="end" if end is None else "duration",
            )
    if end <= start:
        raise ActionInvalid("The downtime must end after it starts.", field="end")
    if end <= now:
        raise ActionInvalid("The downtime would end in the past.", field="end")
    if end - start > timedelta(seconds=MAX_DOWNTIME_SECONDS):
        raise ActionInvalid(f"A downtime may last at most {MAX_DOWNTIME_SECONDS // 86400} days.", field="end")
    return start, end, duration


def build_command(kind: str, target: Target, params: Mapping[str, Any], *, author: str) -> Command:
    """The external command for an action (ActionInvalid for anything unsafe or incomplete)."""
    host, service = target.host, target.service
    try:
        if kind == ActionKind.ACKNOWLEDGE:
            sticky = bool(params.get("sticky", True))
            notify = bool(params.get("notify", True))
            persistent = bool(params.get("persistent", False))
            if service:
                return commands.acknowledge_service(
                    host,
                    service,
                    _comment(params),
                    author=author,
                    sticky=sticky,
                    notify=notify,
                    persistent=persistent,
                )
            return commands.acknowledge_host(
                host, _comment(params), author=author, sticky=sticky, notify=notify, persistent=persistent
            )
        if kind == ActionKind.REMOVE_ACKNOWLEDGEMENT:
            if service:
                return commands.remove_service_acknowledgement(host, service)
            return commands.remove_host_acknowledgement(host)
        if kind == ActionKind.DOWNTIME:
            start, end, duration = downtime_window(
                start=params.get("start"),
                end=params.get("end"),
                duration=params.get("duration"),
                fixed=bool(params.get("fixed", True)),
            )
            fixed = bool(params.get("fixed", True))
            if service:
                return commands.schedule_service_downtime(
                    host, service, start, end, _comment(params), author=author, fixed=fixed, duration=duration
                )
            return commands.schedule_host_downtime(
                host, start, end, _comment(params), author=author, fixed=fixed, duration=duration
            )
        if kind == ActionKind.DELETE_DOWNTIME:
            downtime_id = params.get("downtime_id")
            if not isinstance(downtime_id, int):
                raise ActionInvalid("downtime_id is required.", field="downtime_id")
            # Only the id is sent; that it belongs to the target is checked on the node.
            if service:
                return commands.delete_service_downtime(downtime_id)
            return commands.delete_host_downtime(downtime_id)
        if kind == ActionKind.RECHECK:
            if service:
                return commands.schedule_forced_service_check(host, service)
            return commands.schedule_forced_host_check(host)
        if kind == ActionKind.COMMENT:
            persistent = bool(params.get("persistent", True))
            if service:
                return commands.add_service_comment(
                    host, service, _comment(params), author=author, persistent=persistent
                )
            return commands.add_host_comment(host, _comment(params), author=author, persistent=persistent)
        if kind in _TOGGLES:
            what, enabled = _TOGGLES[kind]
            if what == "notifications":
                if service:
                    return commands.service_notifications(host, service, enabled=enabled)
                return commands.host_notifications(host, enabled=enabled)
            if service:
                return commands.service_active_checks(host, service, enabled=enabled)
            return commands.host_active_checks(host, enabled=enabled)
    except (ValueError, TypeError) as exc:  # UnsafeValueError is a ValueError
        raise ActionInvalid(str(exc)) from None
    raise ActionInvalid(f"unknown action {kind!r}", field="kind")


#: The toggles: what each switches, and on or off.
_TOGGLES: dict[str, tuple[str, bool]] = {
    ActionKind.ENABLE_NOTIFICATIONS: ("notifications", True),
    ActionKind.DISABLE_NOTIFICATIONS: ("notifications", False),
    ActionKind.ENABLE_CHECKS: ("checks", True),
    ActionKind.DISABLE_CHECKS: ("checks", False),
}
#: The kinds that go to the checker only (see the module docstring).
CHECKER_ONLY = (ActionKind.RECHECK, ActionKind.ENABLE_CHECKS, ActionKind.DISABLE_CHECKS)


def _comment(params: Mapping[str, Any]) -> str:
    comment = params.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise ActionInvalid("A comment is required.", field="comment")
    return comment


# -- nodes -----------------------------------------------------------------------


def resolve_node(name: str) -> NaemonNode:
    """A node named in a request: it must be a live node (ActionInvalid, field ``node``)."""
    nodes = live_nodes()
    for node in nodes:
        if node.name == name:
            return node
    known = ", ".join(node.name for node in nodes) or "none"
    raise ActionInvalid(f"{name!r} is not a node with Livestatus (known: {known}).", field="node")


def holder_nodes(target: Target, *, deployed_only: bool) -> list[NaemonNode]:
    """Every enabled node holding a copy of the object, its checker first.

    A registry host: ``Topology.holders`` of its host groups (none in the topology: the nodes a
    confirmed deployment put it on). ``deployed_only`` (non-staff): only those where a
    confirmed deployment put it. A host the registry does not know (staff only): the nodes
    whose core lists it, ordered as the topology would for the groups they give it.
    """
    host = Host.objects.filter(name=target.host).prefetch_related("hostgroups").first()
    topo = topology()
    if host is None:
        if deployed_only:
            return []
        listing, groups = nodes_listing(target.host)
        order = {name: index for index, name in enumerate(topo.holders(groups))}
        return sorted(
            listing, key=lambda n: (order.get(n.name, len(order)), n.role != NodeRole.POLLER, n.name)
        )
    names = topo.holders(group.name for group in host.hostgroups.all())
    by_name = {node.name: node for node in NaemonNode.objects.filter(enabled=True, name__in=names)}
    holders = [by_name[name] for name in names if name in by_name]
    deployed = deployed_nodes(host)
    if not holders:
        return deployed
    if deployed_only:
        allowed = {node.name for node in deployed}
        holders = [node for node in holders if node.name in allowed]
    return holders


def recipients(
    kind: str, target: Target, named: NaemonNode | None, *, deployed_only: bool
) -> list[NaemonNode]:
    """The nodes an action goes to, in order (ActionInvalid: none)."""
    nodes = holder_nodes(target, deployed_only=deployed_only)
    if named is not None and named.name not in {node.name for node in nodes}:
        nodes.append(named)
    if kind in CHECKER_ONLY:
        # The checker only, whichever node the request names (see the module docstring).
        nodes = nodes[:1]
    if not nodes:
        raise ActionInvalid(
            f"No node holds the host {target.host!r}; name the node explicitly.", field="host"
        )
    return nodes


# -- downtimes on several nodes ---------------------------------------------------------

_DOWNTIME_MATCH = ("author", "comment", "entry_time")


def find_downtime(node: NaemonNode, target: Target, downtime_id: int) -> dict[str, Any]:
    """The downtime ``downtime_id`` of ``node`` as ``downtime_on`` finds its copies elsewhere.

    ActionInvalid unless it exists there and belongs to the target (nobody deletes another
    team's downtime by id).
    """
    rows = client_for(node).query(
        LivestatusQuery("downtimes")
        .select("id", "host_name", "service_description", *_DOWNTIME_MATCH)
        .where(Filter("id", "=", downtime_id))
    )
    for row in rows:
        if row.get("host_name") == target.host and (row.get("service_description") or "") == target.service:
            return {
                "host": target.host,
                "service": target.service,
                "author": str(row.get("author") or ""),
                "comment": str(row.get("comment") or ""),
                "entry_time": int(row.get("entry_time") or 0),
            }
    raise ActionInvalid(f"Node {node.name} has no downtime {downtime_id} on {target}.", field="downtime_id")


def downtime_on(node: NaemonNode, downtime: Mapping[str, Any]) -> int | None:
    """The id of ``node``'s copy of a downtime (``find_downtime``), None if it has none."""
    rows = client_for(node).query(
        LivestatusQuery("downtimes")
        .select("id")
        .where(
            Filter("host_name", "=", downtime["host"]),
            Filter("service_description", "=", downtime["service"]),
            Filter("author", "=", downtime["author"]),
            Filter("comment", "=", downtime["comment"]),
            Filter("entry_time", "=", downtime["entry_time"]),
        )
    )
    return int(rows[0]["id"]) if rows else None


def delete_downtime_command(target: Target, downtime_id: int) -> Command:
    """DEL_SVC_DOWNTIME or DEL_HOST_DOWNTIME of one node's id."""
    if target.service:
        return commands.delete_service_downtime(downtime_id)
    return commands.delete_host_downtime(downtime_id)


# -- delivering ----------------------------------------------------------------------


class Undelivered(Exception):
    """A node did not take a command; ``outcome``: REJECTED, QUEUED (worth retrying) or FAILED."""

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def deliver(node: NaemonNode, command: Command, timestamp: int) -> None:
    """Send one command to one node, Undelivered if it did not take it (and whether to retry)."""
    try:
        if node.livestatus:
            client_for(node).command(command, timestamp=timestamp)
        elif node.command_file:
            # The command file takes "[t] NAME;args" as the core reads it (no unescaping there).
            runner.send_external_command(node.command_file, command.line(timestamp).removeprefix("COMMAND "))
        else:
            raise Undelivered("the node has no Livestatus address and no command file", NodeOutcome.FAILED)
    except LivestatusCommandError as exc:
        raise Undelivered(exc.message, NodeOutcome.REJECTED) from None
    except LivestatusError as exc:
        # Not retryable: it may have been applied (the node went silent after taking it).
        raise Undelivered(exc.message, NodeOutcome.QUEUED if exc.retryable else NodeOutcome.FAILED) from None
    except runner.RunnerError as exc:
        raise Undelivered(str(exc), NodeOutcome.QUEUED if exc.retryable else NodeOutcome.FAILED) from None


def _parts(command: Command, timestamp: int) -> dict[str, Any]:
    return {
        "name": command.name,
        "args": list(command.args),
        "free_text_last": command.free_text_last,
        "timestamp": timestamp,
    }


@dataclass
class _Planned:
    """One node's part of an action: its command (None: its downtime id is to be found)."""

    node: NaemonNode
    command: Command | None
    outcome: str = ""
    error: str = ""
    downtime: dict[str, Any] | None = None


def _send_all(
    kind: str,
    target: Target,
    command: Command,
    nodes: list[NaemonNode],
    reference: NaemonNode,
    params: Mapping[str, Any],
    sent_at: int,
) -> list[_Planned]:
    """Deliver to every node in order; each one's outcome."""
    planned = [_Planned(node, command) for node in nodes]
    downtime = None
    if kind == ActionKind.DELETE_DOWNTIME:
        # The id is the reference node's; the others' ids of the same downtime are looked up.
        downtime = find_downtime(reference, target, params["downtime_id"])
    for plan in planned:
        if downtime is not None and plan.node.pk != reference.pk:
            plan.downtime = downtime
            if not plan.node.livestatus:
                plan.outcome = NodeOutcome.FAILED
                plan.error = "without Livestatus its id of the downtime cannot be found"
                continue
            try:
                found = downtime_on(plan.node, downtime)
            except LivestatusError as exc:
                plan.command = None
                plan.outcome = NodeOutcome.QUEUED if exc.retryable else NodeOutcome.FAILED
                plan.error = exc.message
                continue
            if found is None:
                plan.outcome, plan.error = NodeOutcome.NOTHING, "no copy of this downtime there"
                continue
            plan.command = delete_downtime_command(target, found)
        assert plan.command is not None
        try:
            deliver(plan.node, plan.command, sent_at)
        except Undelivered as exc:
            plan.outcome, plan.error = exc.outcome, str(exc)
        else:
            plan.outcome = NodeOutcome.SENT
    return planned


def _json_safe(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in params.items()}


_FIRST_OUTCOME: dict[str, str] = {
    NodeOutcome.SENT: ActionOutcome.SENT,
    NodeOutcome.REJECTED: ActionOutcome.REJECTED,
}


def perform(
    user: Any,
    kind: str,
    target: Target,
    params: Mapping[str, Any],
    *,
    node: str = "",
    via: str = "page",
) -> ActionLog:
    """Check, build, send to every holder and record one action (ActionForbidden/ActionInvalid:
    nothing sent). The record's ``outcome`` is the checker's; ``deliveries`` every node's."""
    reason = denial(user, target, node)
    if reason is not None:
        raise ActionForbidden(reason)
    command = build_command(kind, target, params, author=user.get_username())
    named = resolve_node(node) if node else None
    nodes = recipients(kind, target, named, deployed_only=not acts_on_everything(user))
    reference = named or nodes[0]
    sent_at = int(time.time())
    started = time.monotonic()
    try:
        planned = _send_all(kind, target, command, nodes, reference, params, sent_at)
    except LivestatusError as exc:
        # The downtime could not be read on the reference node: nothing was sent anywhere.
        planned = [_Planned(reference, command, NodeOutcome.FAILED, exc.message)]
    first = planned[0]
    with transaction.atomic():
        entry = ActionLog.objects.create(
            user=user,
            username=user.get_username(),
            via=via[:64],
            kind=kind,
            host_name=target.host,
            service_description=target.service,
            node=first.node.name,
            arguments=_json_safe(params),
            command=(first.command or command).line(sent_at),
            outcome=_FIRST_OUTCOME.get(first.outcome, ActionOutcome.FAILED),
            error=first.error,
            deliveries=[
                {
                    "node": plan.node.name,
                    "ok": plan.outcome in (NodeOutcome.SENT, NodeOutcome.NOTHING),
                    "outcome": plan.outcome,
                    "error": plan.error,
                }
                for plan in planned
            ],
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        for plan in planned:
            if plan.outcome == NodeOutcome.QUEUED:
                queued = plan.command or delete_downtime_command(target, 0)
                line = queued.line(sent_at)
                if plan.command is None:  # its id of the downtime is looked up when it answers
                    line = f"COMMAND [{sent_at}] {queued.name};<its id of the downtime>"
                PendingAction.objects.create(
                    action=entry,
                    node=plan.node,
                    command=line,
                    parts=_parts(queued, sent_at),
                    downtime=plan.downtime if plan.command is None else None,
                    attempts=1,
                    last_attempt_at=timezone.now(),
                    last_error=plan.error,
                )
    return entry


# -- retrying ------------------------------------------------------------------------


def _mark(pending: PendingAction, outcome: str, error: str) -> None:
    """Record a retry's end in the action's deliveries (the record shows every node's fate)."""
    if pending.action_id is None:
        return
    entry = ActionLog.objects.select_for_update().get(pk=pending.action_id)
    for delivery in entry.deliveries:
        if delivery.get("node") == pending.node.name and delivery.get("outcome") == NodeOutcome.QUEUED:
            delivery.update(
                ok=outcome in (NodeOutcome.DELIVERED_LATER, NodeOutcome.NOTHING), outcome=outcome, error=error
            )
            break
    entry.save(update_fields=["deliveries"])


def _retry_one(pending: PendingAction) -> bool:
    """Send one pending copy again; False while its node still does not answer."""
    parts = pending.parts
    timestamp = int(parts["timestamp"])
    now = timezone.now()
    pending.attempts += 1
    pending.last_attempt_at = now
    try:
        if pending.downtime is not None:
            found = downtime_on(pending.node, pending.downtime)
            if found is None:
                pending.state, pending.done_at, pending.last_error = (
                    PendingState.DONE,
                    now,
                    "no copy of this downtime there",
                )
                pending.save()
                _mark(pending, NodeOutcome.NOTHING, pending.last_error)
                return True
            command = delete_downtime_command(
                Target(pending.downtime["host"], pending.downtime["service"]), found
            )
        else:
            command = Command(
                parts["name"], tuple(parts["args"]), free_text_last=bool(parts["free_text_last"])
            )
        deliver(pending.node, command, timestamp)
    except LivestatusError as exc:  # looking up the downtime
        pending.last_error = exc.message
        if exc.retryable:
            pending.save()
            return False
        pending.state, pending.done_at = PendingState.REJECTED, now
        pending.save()
        _mark(pending, NodeOutcome.FAILED, exc.message)
        return True
    except Undelivered as exc:
        pending.last_error = str(exc)
        if exc.outcome == NodeOutcome.QUEUED:
            pending.save()
            return False
        pending.state, pending.done_at = PendingState.REJECTED, now
        pending.save()
        _mark(pending, exc.outcome, str(exc))
        return True
    pending.state, pending.done_at, pending.last_error = PendingState.DONE, now, ""
    pending.save()
    _mark(pending, NodeOutcome.DELIVERED_LATER, "")
    return True


def retry_pending(*, max_age: float = PENDING_MAX_AGE_SECONDS) -> dict[str, int]:
    """Send the pending copies again, per node in the order they were made; give up on those older
    than ``max_age`` seconds. Counts: delivered, still pending, given up, rejected."""
    counts = {"delivered": 0, "pending": 0, "expired": 0, "rejected": 0}
    now = timezone.now()
    cutoff = now - timedelta(seconds=max_age)
    for pending in PendingAction.objects.filter(state=PendingState.PENDING, created_at__lt=cutoff):
        with transaction.atomic():
            claimed = PendingAction.objects.filter(pk=pending.pk, state=PendingState.PENDING).update(
                state=PendingState.EXPIRED,
                done_at=now,
                last_error=f"given up after {max_age:.0f} s: {pending.last_error}"[:2000],
            )
            if claimed:
                pending.refresh_from_db()
                _mark(pending, NodeOutcome.EXPIRED, pending.last_error)
                counts["expired"] += 1
    waiting = PendingAction.objects.filter(state=PendingState.PENDING, node__enabled=True)
    for node_id in sorted(set(waiting.values_list("node_id", flat=True))):
        for pk in waiting.filter(node_id=node_id).order_by("created_at", "pk").values_list("pk", flat=True):
            # A row lock, not "only one worker runs": an overlapping run skips what this one sends.
            with transaction.atomic():
                locked = (
                    PendingAction.objects.select_for_update(skip_locked=True)
                    .select_related("node")
                    .filter(pk=pk, state=PendingState.PENDING)
                    .first()
                )
                if locked is None:
                    continue
                if not _retry_one(locked):
                    break  # still down: the later copies wait, so the node applies them in order
                counts["delivered" if locked.state == PendingState.DONE else "rejected"] += 1
    counts["pending"] = PendingAction.objects.filter(state=PendingState.PENDING).count()
    return counts
