"""Hand-overs as contacts: who receives a user's notifications for a while, and under which name.

Naemon notifies the contacts of an object; a colleague covering for alice may be none of them.
So for each ``ContactDelegate`` (alice's hand-over to bob, written by the preferences app) the
renderer adds a contact ``bob--for--alice`` with bob's addresses and notification commands
wherever alice's contact is a contact: on objects and in the contact groups she is a member of,
team groups included (registry/state.py). Whether a notification goes out is the notify-filter's
business: that contact's snapshot entry is alice's rules, active only inside the hand-over's
windows (preferences/compiled.py). The config changes when a hand-over is created or ended, not
at its start or end: the snapshot decides in time, on the node.

A name that Naemon would refuse or that another contact already has is not rendered (logged):
the preferences side then neither hands alice's notifications over (so she keeps getting them).
A hand-over stays rendered ``RENDER_GRACE`` after its end, so that the RECOVERY of a problem
the colleague was sent during it still reaches them after a deploy; the snapshot keeps an entry
for every delegate, ended or not, so that a rendered one is never an unknown contact (which the
filter would let everything through to).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from registry import validation
from registry.models import Contact, ContactDelegate

logger = logging.getLogger(__name__)

SEPARATOR = "--for--"
#: As long as the notify-filter keeps its sent-problem records (its --state-days default).
RENDER_GRACE = dt.timedelta(days=30)


def delegate_name(delegate: str, contact: str) -> str:
    """The Naemon contact of ``delegate`` covering for ``contact``: ``bob--for--alice``."""
    return f"{delegate}{SEPARATOR}{contact}"


@dataclass(frozen=True)
class Delegation:
    """One colleague covering for one contact: the contact's name, and its windows (delegate row id, start, end)."""

    name: str
    contact: str
    delegate: str
    user_id: int
    windows: tuple[tuple[int, dt.datetime, dt.datetime], ...]

    def rendered(self, now: dt.datetime) -> bool:
        """Whether the config has it: a window not ended more than ``RENDER_GRACE`` ago.

        A window ended before it started (a hand-over cancelled in advance) is none: nothing
        was sent through it, so no RECOVERY needs the contact.
        """
        return any(start < end and end > now - RENDER_GRACE for _, start, end in self.windows)


def name_problem(name: str, taken: set[str]) -> str:
    """Why ``name`` cannot be a delegate's contact ('' if it can)."""
    if name in taken:
        return f"a contact named {name!r} exists already"
    try:
        validation.check_name(name, what="contact name")
    except validation.NaemonValueError as exc:
        return str(exc)
    return ""


def delegations() -> list[Delegation]:
    """Every delegate contact there is (two queries), by name; those whose name is refused are logged and left out.

    A hand-over of a user without a contact, or to one without a contact, is none.
    """
    taken = set(Contact.objects.values_list("name", flat=True))
    windows: dict[tuple[str, str, int], list[tuple[int, dt.datetime, dt.datetime]]] = defaultdict(list)
    for pk, user_id, contact, delegate, start, end in ContactDelegate.objects.values_list(
        "pk",
        "user_id",
        "user__naemon_contact__name",
        "delegate__naemon_contact__name",
        "starts_at",
        "ends_at",
    ).order_by("starts_at", "pk"):
        if contact is not None and delegate is not None:
            windows[(contact, delegate, user_id)].append((pk, start, end))
    result = []
    for (contact, delegate, user_id), spans in sorted(windows.items()):
        name = delegate_name(delegate, contact)
        problem = name_problem(name, taken)
        if problem:
            logger.warning("hand-over of %s to %s not rendered: %s", contact, delegate, problem)
            continue
        result.append(Delegation(name, contact, delegate, user_id, tuple(spans)))
    return result


def rendered_delegations(now: dt.datetime | None = None) -> list[Delegation]:
    """The delegates the config has (see ``Delegation.rendered``)."""
    now = now or timezone.now()
    return [d for d in delegations() if d.rendered(now)]
