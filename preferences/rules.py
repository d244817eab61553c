"""A user's list of rules: where a new rule goes, a new order, and what a rule's criteria may name.

The rule editor's helpers, called by the API. ``reorder`` publishes the change itself: it
writes with ``bulk_update``, which sends no signals (``preferences.signals`` publishes the
other changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from preferences.models import NotificationRule
from preferences.tasks import publish_on_commit
from registry.models import Command, Host, HostGroup, Service, ServiceGroup


def reorder(user: User, ids: Sequence[int]) -> list[NotificationRule]:
    """Put the user's rules in the order of ``ids`` (all of them, each once); raise ValueError."""
    if len(set(ids)) != len(ids):
        raise ValueError("Each rule id may appear only once.")
    with transaction.atomic():
        rules = {rule.pk: rule for rule in NotificationRule.objects.select_for_update().filter(user=user)}
        unknown = [pk for pk in ids if pk not in rules]
        if unknown:
            raise ValueError(f"Not your rules: {', '.join(map(str, unknown))}.")
        missing = sorted(set(rules) - set(ids))
        if missing:
            raise ValueError(f"Give all your rules; missing: {', '.join(map(str, missing))}.")
        changed = []
        for position, pk in enumerate(ids):
            rule = rules[pk]
            if rule.position != position:
                rule.position = position
                changed.append(rule)
        if changed:
            NotificationRule.objects.bulk_update(changed, ["position"])
            publish_on_commit()  # bulk_update sends no signals
    return [rules[pk] for pk in ids]


def next_position(user: User) -> int:
    """Where a new rule goes: after the user's last one."""
    last = (
        NotificationRule.objects.filter(user=user)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


NAME_CHOICES: dict[str, tuple[Any, str]] = {
    "hosts": (Host.objects, "name"),
    "hostgroups": (HostGroup.objects, "name"),
    "servicegroups": (ServiceGroup.objects, "name"),
    "services": (Service.objects, "description"),
}


def name_choices(kind: str, query: str, limit: int) -> list[str]:
    """Distinct registry names of one kind containing ``query`` (case-insensitive), sorted."""
    manager, column = NAME_CHOICES[kind]
    queryset = manager.all()
    if query:
        queryset = queryset.filter(Q(**{f"{column}__icontains": query}))
    names = queryset.order_by(column).values_list(column, flat=True).distinct()
    return list(names[:limit])


def channel_choices() -> list[str]:
    """The channels of the registry's notification commands."""
    return list(
        Command.objects.exclude(channel="").order_by("channel").values_list("channel", flat=True).distinct()
    )
