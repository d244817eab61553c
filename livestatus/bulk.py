"""Bulk actions: one operator action on a selection of objects, each object on its own.

The status pages send the selection in one request; every target then goes through
``livestatus.actions.perform`` exactly as a single action would (permission, command, every
holder node, one ``ActionLog`` each), so a bulk action never grants more than the same
actions one by one. A target the user may not act on is *refused* and the others still go:
a team member who selects another team's service with their own still acknowledges their
own, and the answer names the one that was refused and why.

Before anything is sent, every target's command is built: a name no command may carry (a
line break, ``;``) is an ``ActionInvalid`` naming the target (``targets[2].service``), and
nothing is sent for any of them, so bad input never leaves half a selection acknowledged.

Two selections expand on the server, from what the nodes list right now:

- ``with_services`` (downtime of a host): the host and every service the nodes list for it,
  so "downtime this host and all its services" is one request and each service's downtime
  shows on its own row;
- ``hostgroup``: every host the nodes list in that host group (with its services when
  ``with_services`` is set), for "downtime a host group".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livestatus import actions
from livestatus import status as live
from livestatus.actions import ActionForbidden, ActionInvalid, Target
from livestatus.client import UnsafeValueError, check_value
from livestatus.models import ActionKind, ActionLog

#: The kinds a selection may get (deleting a downtime needs each node's own id: one at a time).
BULK_KINDS = (
    ActionKind.ACKNOWLEDGE,
    ActionKind.REMOVE_ACKNOWLEDGEMENT,
    ActionKind.DOWNTIME,
    ActionKind.RECHECK,
    ActionKind.COMMENT,
    ActionKind.ENABLE_NOTIFICATIONS,
    ActionKind.DISABLE_NOTIFICATIONS,
    ActionKind.ENABLE_CHECKS,
    ActionKind.DISABLE_CHECKS,
)
#: The most objects one request may act on: a page selection, not a whole site by accident.
MAX_TARGETS = 500


class Result:
    """How one target of a bulk action ended (``TargetOutcome.result``)."""

    SENT = "sent"  # every holder took it, or the checker did and copies are queued
    FAILED = "failed"  # recorded, but the checker could not be reached or rejected it
    REFUSED = "refused"  # the user may not act on it: nothing sent, nothing recorded
    INVALID = "invalid"  # e.g. no node holds it: nothing sent, nothing recorded


@dataclass
class TargetOutcome:
    """One target's result; ``entry`` is its recorded action when one was sent."""

    target: Target
    result: str
    error: str = ""
    entry: ActionLog | None = None


def expand(
    kind: str, targets: Sequence[Target], *, hostgroup: str = "", with_services: bool = False
) -> tuple[list[Target], list[live.Unreachable]]:
    """The selection with host groups and "and all its services" resolved, each object once.

    Also the nodes that did not answer while expanding: their objects may be missing, and the
    answer says so rather than pretending the host group was complete.
    """
    if (hostgroup or with_services) and kind != ActionKind.DOWNTIME:
        field = "hostgroup" if hostgroup else "with_services"
        raise ActionInvalid("Only a downtime expands to a host group or a host's services.", field=field)
    unreachable: list[list[live.Unreachable]] = []
    wanted = list(targets)
    if hostgroup:
        found = live.hosts(live.StatusFilter(hostgroup=hostgroup))
        unreachable.append(found.unreachable)
        if not found.rows and not found.unreachable:
            raise ActionInvalid(f"No node lists a host in the host group {hostgroup!r}.", field="hostgroup")
        wanted += [Target(row["host"]) for row in found.rows]
    if with_services:
        for host in [t.host for t in wanted if not t.service]:
            found = live.services(live.StatusFilter(host=host))
            unreachable.append(found.unreachable)
            wanted += [Target(row["host"], row["service"]) for row in found.rows]
    # A host selected with one of its services, or listed twice: acted on once.
    unique = list(dict.fromkeys(wanted))
    if not unique:
        raise ActionInvalid("Select at least one object.", field="targets")
    if len(unique) > MAX_TARGETS:
        raise ActionInvalid(f"At most {MAX_TARGETS} objects per request, not {len(unique)}.", field="targets")
    return unique, live.merge_unreachable(*unreachable)


def check_commands(kind: str, targets: Sequence[Target], params: Mapping[str, Any], *, author: str) -> None:
    """ActionInvalid naming the first target whose command cannot be built; nothing is sent then."""
    if kind not in BULK_KINDS:
        raise ActionInvalid(f"{kind!r} cannot be applied to a selection.", field="kind")
    comment = params.get("comment")
    if isinstance(comment, str):
        # Checked once here: a line break in the comment is the request's fault, not a target's.
        try:
            check_value(comment, "comment")
        except UnsafeValueError as exc:
            raise ActionInvalid(exc.message, field="comment") from None
    for index, target in enumerate(targets):
        try:
            actions.build_command(kind, target, params, author=author)
        except ActionInvalid as exc:
            if exc.field is not None:  # the request's (comment, window), the same for every target
                raise
            raise ActionInvalid(f"{target}: {exc}", field=f"targets[{index}]") from None


def perform_bulk(
    user: Any, kind: str, targets: Sequence[Target], params: Mapping[str, Any], *, via: str = "page"
) -> list[TargetOutcome]:
    """Act on every target in order (see the module docstring); the outcome of each.

    ``check_commands`` runs first, so an ActionInvalid from here means nothing was sent.
    """
    check_commands(kind, targets, params, author=user.get_username())
    outcomes: list[TargetOutcome] = []
    for target in targets:
        try:
            entry = actions.perform(user, kind, target, params, via=f"{via} (bulk)")
        except ActionForbidden as exc:
            outcomes.append(TargetOutcome(target, Result.REFUSED, str(exc)))
        except ActionInvalid as exc:
            outcomes.append(TargetOutcome(target, Result.INVALID, str(exc)))
        else:
            result = Result.SENT if entry.ok else Result.FAILED
            outcomes.append(TargetOutcome(target, result, entry.error, entry))
    return outcomes
