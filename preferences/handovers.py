"""Hand-overs: "from a date to a date, send what I would have received to a colleague".

``check`` says what is wrong with one (the API and preferences as code both ask it);
``create`` and ``end`` write it with the registry's ``ContactDelegate`` kept in step, publish the
snapshot and request a deployment (the snapshot first: a stand-in contact the core has must
never be unknown to the filter, which would let everything through to it).

How it reaches the nodes: registry/delegates.py (the colleague's stand-in contact
``bob--for--alice`` wherever alice is a contact) and preferences/compiled.py (its snapshot entry:
alice's rules inside the hand-over's windows only; alice's own entry: suppressed inside them).
Ending one keeps its row (listed as ended, like a silence): the stand-in keeps its snapshot
entry, so that the RECOVERY of a problem the colleague was sent still follows it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from preferences import tasks
from preferences.models import HandOver
from registry import tasks as registry_tasks
from registry.delegates import delegate_name, name_problem
from registry.models import Contact, ContactDelegate, NaemonNode

#: Longest hand-over (a long holiday), and how far ahead one may start.
MAX_DAYS = 92
MAX_AHEAD_DAYS = 366


def _when(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def check(
    user: User,
    colleague: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    *,
    now: dt.datetime | None = None,
    ignore: set[int] | None = None,
) -> dict[str, str]:
    """What is wrong with this hand-over, by field ({} if nothing); ``ignore``: hand-over ids being replaced."""
    now = now or timezone.now()
    if colleague.pk == user.pk:
        return {"colleague": "You cannot hand over to yourself."}
    if not colleague.is_active:
        return {"colleague": f"{colleague.get_username()} is not an active user."}
    theirs = Contact.objects.filter(user=colleague).values_list("name", flat=True).first()
    if theirs is None:
        return {"colleague": f"{colleague.get_username()} has no Naemon contact: nothing could reach them."}
    mine = Contact.objects.filter(user=user).values_list("name", flat=True).first()
    if mine is not None:
        taken = set(Contact.objects.values_list("name", flat=True))
        problem = name_problem(delegate_name(theirs, mine), taken)
        if problem:
            return {"colleague": f"Cannot hand over to {colleague.get_username()}: {problem}."}
    if ends_at <= starts_at:
        return {"ends_at": "Must be after starts_at."}
    if ends_at <= now:
        return {"ends_at": "Must be in the future."}
    if starts_at > now + dt.timedelta(days=MAX_AHEAD_DAYS):
        return {"starts_at": f"At most {MAX_AHEAD_DAYS} days from now."}
    if ends_at - max(starts_at, now) > dt.timedelta(days=MAX_DAYS):
        return {"ends_at": f"A hand-over lasts at most {MAX_DAYS} days."}
    overlapping = HandOver.objects.not_over(now).filter(starts_at__lt=ends_at, ends_at__gt=starts_at)
    overlapping = overlapping.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=starts_at))
    other = (
        overlapping.filter(user=user).exclude(pk__in=list(ignore or ())).select_related("colleague").first()
    )
    if other is not None:
        return {
            "starts_at": f"Overlaps your hand-over #{other.pk} to {other.colleague.get_username()} "
            f"({_when(other.starts_at)} to {_when(other.effective_end)})."
        }
    away = overlapping.filter(user=colleague).first()
    if away is not None:
        return {
            "colleague": f"{colleague.get_username()} hands over their own notifications from "
            f"{_when(away.starts_at)} to {_when(away.effective_end)}: choose someone who is there."
        }
    return {}


def _changed(reason: str) -> None:
    """The snapshot, then the config of every enabled node, once the transaction commits."""
    tasks.publish_on_commit()  # registered first: on commit, runs first
    nodes = NaemonNode.objects.filter(enabled=True)
    if nodes.exists():
        registry_tasks.request_deployments(nodes, triggered_by="portal (hand-over)", reason=reason[:255])


def create(
    user: User, colleague: User, starts_at: dt.datetime, ends_at: dt.datetime, comment: str = ""
) -> HandOver:
    """Save a hand-over ``check`` accepted, with its registry delegate; publish and deploy on commit."""
    with transaction.atomic():
        delegate = ContactDelegate.objects.create(
            user=user, delegate=colleague, starts_at=starts_at, ends_at=ends_at
        )
        handover = HandOver.objects.create(
            user=user,
            colleague=colleague,
            starts_at=starts_at,
            ends_at=ends_at,
            comment=comment,
            delegate=delegate,
        )
        _changed(f"hand-over of {user.get_username()} to {colleague.get_username()}")
    return handover


def end(handover: HandOver, now: dt.datetime | None = None) -> HandOver:
    """End it now (one not started yet: cancelled); kept, listed as ended. Nothing to do if over."""
    now = now or timezone.now()
    if handover.effective_end <= now:
        return handover
    with transaction.atomic():
        handover.ended_at = now
        handover.save(update_fields=["ended_at"])
        # One that never started leaves an empty window: no longer rendered (nothing of it was
        # sent), while the stand-in's snapshot entry stays until the config has dropped it.
        if handover.delegate_id is not None:
            ContactDelegate.objects.filter(pk=handover.delegate_id).update(ends_at=handover.effective_end)
        _changed(f"hand-over of {handover.user.get_username()} ended")
    return handover


def as_document(handover: HandOver) -> dict[str, Any]:
    """One hand-over as preferences as code shows it."""
    return {
        "colleague": handover.colleague.get_username(),
        "starts_at": handover.starts_at.isoformat(),
        "ends_at": handover.effective_end.isoformat(),
        "comment": handover.comment,
    }
