"""Operator actions: who may act on what, the command, the node it goes to, and the record.

Shared by the pages and the API. ``perform`` does, in this order, and stops at the first
refusal (nothing is sent then, and nothing recorded):

1. permission: staff may act on anything; others on hosts (and their services) that the
   registry gives to one of their teams (``Host.team`` or a host group's team), on the nodes
   where a confirmed deployment put that registry host (``registry.models.DeployedHost``).
   The name alone grants nothing: a live object of the same name that the portal did not
   put on a node is someone else's (a duplicate of it fails the node's verify, so it never
   gets confirmed there). An object that is not in the registry is staff-only;
2. the command, built by ``livestatus.client.commands``: names and text that could add an argument
   or a line (``;`` in a name, a line break anywhere) are refused;
3. the node: the one named (it must be a live node), else the one that owns the host
   (``livestatus.nodes.node_for_host``; for non-staff only a node the host was deployed to); deleting a downtime also checks that the downtime
   belongs to the object on that node, so nobody deletes another team's downtime by id.

Then the command is sent and an ``ActionLog`` row records who, what, where and how it ended.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from livestatus.models import ActionKind, ActionLog, ActionOutcome
from livestatus.nodes import client_for, deployed_nodes, live_nodes, node_for_host
from registry.models import Host, NaemonNode, nodes_for_hosts
from registry.permissions import team_ids

#: The longest downtime one request may schedule.
MAX_DOWNTIME_SECONDS = 366 * 86400


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


def owned_hosts(user: Any) -> set[str] | None:
    """Names of the registry hosts the user may act on (on some node); None means every object (staff)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_staff:
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
    if user.is_staff:
        return None
    host = Host.objects.filter(name=target.host).prefetch_related("hostgroups__node").first()
    if host is None:
        return f"{target.host} is not in the registry: only staff may act on it."
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
    except (ValueError, TypeError) as exc:  # UnsafeValueError is a ValueError
        raise ActionInvalid(str(exc)) from None
    raise ActionInvalid(f"unknown action {kind!r}", field="kind")


def _comment(params: Mapping[str, Any]) -> str:
    comment = params.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        raise ActionInvalid("A comment is required.", field="comment")
    return comment


# -- nodes -----------------------------------------------------------------------


def resolve_node(target: Target, name: str = "", *, deployed_only: bool = False) -> NaemonNode:
    """The node to send to: the one named (a live node), else the one that owns the host.

    ``deployed_only``: only a node where a confirmed deployment put the registry host.
    """
    if name:
        nodes = live_nodes()
        for node in nodes:
            if node.name == name:
                return node
        known = ", ".join(node.name for node in nodes) or "none"
        raise ActionInvalid(f"{name!r} is not a node with Livestatus (known: {known}).", field="node")
    owner = node_for_host(target.host, deployed_only=deployed_only)
    if owner is None:
        raise ActionInvalid(
            f"No reachable node knows the host {target.host!r}; name the node explicitly.", field="host"
        )
    return owner


def check_downtime(node: NaemonNode, target: Target, downtime_id: int) -> None:
    """ActionInvalid unless the downtime exists on the node and belongs to the target."""
    rows = client_for(node).query(
        LivestatusQuery("downtimes")
        .select("id", "host_name", "service_description")
        .where(Filter("id", "=", downtime_id))
    )
    for row in rows:
        if row.get("host_name") == target.host and (row.get("service_description") or "") == target.service:
            return
    raise ActionInvalid(f"Node {node.name} has no downtime {downtime_id} on {target}.", field="downtime_id")


# -- doing it ----------------------------------------------------------------------


def _json_safe(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in params.items()}


def perform(
    user: Any,
    kind: str,
    target: Target,
    params: Mapping[str, Any],
    *,
    node: str = "",
    via: str = "page",
) -> ActionLog:
    """Check, build, send and record one action (ActionForbidden/ActionInvalid: nothing sent)."""
    reason = denial(user, target, node)
    if reason is not None:
        raise ActionForbidden(reason)
    command = build_command(kind, target, params, author=user.get_username())
    owner = resolve_node(target, node, deployed_only=not user.is_staff)
    sent_at = int(time.time())
    started = time.monotonic()
    outcome, error = ActionOutcome.SENT, ""
    try:
        if kind == ActionKind.DELETE_DOWNTIME:
            check_downtime(owner, target, params["downtime_id"])
        client_for(owner).command(command, timestamp=sent_at)
    except LivestatusCommandError as exc:
        outcome, error = ActionOutcome.REJECTED, exc.message
    except LivestatusError as exc:
        outcome, error = ActionOutcome.FAILED, exc.message
    return ActionLog.objects.create(
        user=user,
        username=user.get_username(),
        via=via[:64],
        kind=kind,
        host_name=target.host,
        service_description=target.service,
        node=owner.name,
        arguments=_json_safe(params),
        command=command.line(sent_at),
        outcome=outcome,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
