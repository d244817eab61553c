"""Users' preferences in the form the snapshot takes: rules, default and time zone per contact.

- ``snapshot_contacts``: every Naemon contact linked to a user → that user's preferences, in
  the shape ``preferences.snapshot`` compiles and writes to the nodes.
- ``compile_user``: one user's preferences compiled by the engine (the preview's input).
- ``profile_of``, ``preferences_of``, ``preferences_by_user``: the database rows behind them.

Contacts without a user are left out of the snapshot: the filter then sends everything to
them (fail open), which is what Naemon did before the portal.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User

from preferences import engine, snapshot
from preferences.models import NotificationProfile, NotificationRule
from registry.models import Contact

logger = logging.getLogger(__name__)


def profile_of(user: User) -> NotificationProfile:
    """The user's profile; an unsaved one with the defaults if they never saved theirs."""
    profile = NotificationProfile.objects.filter(user=user).first()
    return profile if profile is not None else NotificationProfile(user=user)


def preferences_of(profile: NotificationProfile, rules: Iterable[NotificationRule]) -> dict[str, Any]:
    """One user's preferences as ``snapshot.write_snapshot`` takes them per contact."""
    return {
        "rules": [rule.as_rule() for rule in rules],
        "default": profile.default,
        "timezone": profile.timezone,
    }


def compile_user(user: User) -> tuple[engine.CompiledContact, dict[int, NotificationRule]]:
    """The user's compiled preferences and their rules by id (to name the deciding rule)."""
    rules = list(NotificationRule.objects.filter(user=user).in_order())
    prefs = preferences_of(profile_of(user), rules)
    compiled = engine.compile_contact(prefs["rules"], default=prefs["default"], timezone=prefs["timezone"])
    return compiled, {rule.pk: rule for rule in rules}


def preferences_by_user(user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Preferences of many users in two queries."""
    ids = set(user_ids)
    profiles = {p.user_id: p for p in NotificationProfile.objects.filter(user_id__in=ids)}
    rules: dict[int, list[NotificationRule]] = defaultdict(list)
    for rule in NotificationRule.objects.filter(user_id__in=ids).in_order():
        rules[rule.user_id].append(rule)
    return {
        user_id: preferences_of(profiles.get(user_id) or NotificationProfile(user_id=user_id), rules[user_id])
        for user_id in ids
    }


def snapshot_contacts() -> dict[str, dict[str, Any]]:
    """Every contact linked to a user → that user's preferences (three queries).

    A contact whose preferences do not compile (a bad row that got around validation) is
    left out and logged: the filter then sends everything to it, and everyone else's
    preferences still reach the nodes.
    """
    links = dict(Contact.objects.filter(user__isnull=False).values_list("name", "user_id"))
    by_user = preferences_by_user(links.values())
    contacts: dict[str, dict[str, Any]] = {}
    for name, user_id in sorted(links.items()):
        prefs = by_user[user_id]
        try:
            snapshot.compile_snapshot({name: prefs})
        except engine.RuleError as exc:
            logger.error("notification preferences of contact %s left out of the snapshot: %s", name, exc)
            continue
        contacts[name] = prefs
    return contacts
