"""Users' preferences in the form the snapshot takes: rules, default and time zone per contact.

- ``snapshot_contacts``: every Naemon contact linked to a user → that user's preferences, in
  the shape ``preferences.snapshot`` compiles and writes to the nodes.
- ``compile_user``: one user's preferences compiled by the engine (the preview's input).
- ``profile_of``, ``preferences_of``, ``preferences_by_user``: the database rows behind them.

Contacts without a user are left out of the snapshot: the filter then sends everything to
them (fail open), which is what Naemon did before the portal.

A user's silences that have not ended yet and, when their rules name teams
(``oncall_team``), who they are and those teams' rotations go with their preferences
(``silences``, ``oncall``; only when there are any): the node decides with them alone, with
no network, and a silence ends there at its end time whatever the portal does.

Hand-overs (``preferences.handovers``): the colleague's stand-in contact that the registry renders
(``bob--for--alice``, registry/delegates.py) gets alice's preferences and the hand-over's windows
(``stand_in``: outside them it suppresses); alice's own entry gets the hand-overs not over yet
(``handed_over``: inside one it suppresses). Both from the registry's own list of delegates,
so that alice's notifications are never handed to a contact the config does not have.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone as django_timezone

from preferences import engine, rulebook, snapshot
from preferences.models import HandOver, NotificationProfile, NotificationRule, Rotation, Silence
from registry.delegates import Delegation, delegations
from registry.models import Contact

logger = logging.getLogger(__name__)


def profile_of(user: User) -> NotificationProfile:
    """The user's profile; an unsaved one with the defaults if they never saved theirs."""
    profile = NotificationProfile.objects.filter(user=user).first()
    return profile if profile is not None else NotificationProfile(user=user)


def preferences_of(
    profile: NotificationProfile,
    rules: Iterable[NotificationRule],
    silences: Iterable[Silence] = (),
    oncall: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One user's preferences as ``snapshot.write_snapshot`` takes them per contact."""
    prefs: dict[str, Any] = {
        "rules": [rule.as_rule() for rule in rules],
        "default": profile.default,
        "timezone": profile.timezone,
    }
    compiled_silences = [silence.as_silence() for silence in silences]
    if compiled_silences:
        prefs["silences"] = compiled_silences
    if oncall is not None:
        prefs["oncall"] = oncall
    return prefs


def compile_user(user: User) -> tuple[engine.CompiledContact, dict[int, NotificationRule]]:
    """The user's compiled preferences and their rules by id (to name the deciding rule)."""
    rules = list(NotificationRule.objects.filter(user=user).select_related("oncall_team").in_order())
    prefs = preferences_by_user([user.pk])[user.pk]
    # Handed over now: the preview says so, as the filter will.
    mine = [d for d in delegations() if d.user_id == user.pk]
    handed = next(iter(handed_over_by_contact(mine).values()), {}) if mine else {}
    compiled = rulebook.compile_contact(
        prefs["rules"],
        default=prefs["default"],
        timezone=prefs["timezone"],
        silences=prefs.get("silences", ()),
        oncall=prefs.get("oncall"),
        handed_over=handed.get("handed_over", ()),
    )
    return compiled, {rule.pk: rule for rule in rules}


def preferences_by_user(user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Preferences of many users in a handful of queries, whatever their number."""
    ids = set(user_ids)
    profiles = {p.user_id: p for p in NotificationProfile.objects.filter(user_id__in=ids)}
    rules: dict[int, list[NotificationRule]] = defaultdict(list)
    for rule in NotificationRule.objects.filter(user_id__in=ids).select_related("oncall_team").in_order():
        rules[rule.user_id].append(rule)
    # Not over yet: a silence that ended is of no use on the node (nor one ended early).
    now = django_timezone.now()
    silences: dict[int, list[Silence]] = defaultdict(list)
    for silence in (
        Silence.objects.filter(user_id__in=ids, ends_at__gt=now)
        .exclude(ended_at__lte=now)
        .order_by("created_at", "pk")
    ):
        silences[silence.user_id].append(silence)
    oncall = _oncall_by_user(ids, rules)
    return {
        user_id: preferences_of(
            profiles.get(user_id) or NotificationProfile(user_id=user_id),
            rules[user_id],
            silences[user_id],
            oncall.get(user_id),
        )
        for user_id in ids
    }


def _oncall_by_user(ids: set[int], rules: dict[int, list[NotificationRule]]) -> dict[int, dict[str, Any]]:
    """Per user whose rules name teams: their user name and those teams' rotations (two queries)."""
    teams = {
        rule.oncall_team_id for user_rules in rules.values() for rule in user_rules if rule.oncall_team_id
    }
    if not teams:
        return {}
    rotations = {
        rotation.team_id: rotation
        for rotation in Rotation.objects.filter(team_id__in=teams)
        .select_related("team", "fallback")
        .prefetch_related("overrides__user")
    }
    names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
    oncall: dict[int, dict[str, Any]] = {}
    for user_id, user_rules in rules.items():
        named = {rule.oncall_team_id for rule in user_rules if rule.oncall_team_id}
        if named:
            oncall[user_id] = {
                "user": names[user_id],
                # A team without a rotation is absent: "while I am on call" for it never matches.
                "rotations": {
                    rotations[team].team.name: rotations[team].as_rotation(
                        list(rotations[team].overrides.all())
                    )
                    for team in named
                    if team in rotations
                },
            }
    return oncall


def snapshot_contacts() -> dict[str, dict[str, Any]]:
    """Every contact linked to a user → that user's preferences (three queries).

    A contact whose preferences do not compile (a bad row that got around validation) is
    left out and logged: the filter then sends everything to it, and everyone else's
    preferences still reach the nodes.
    """
    links = dict(Contact.objects.filter(user__isnull=False).values_list("name", "user_id"))
    stand_ins = delegations()
    by_user = preferences_by_user({*links.values(), *(d.user_id for d in stand_ins)})
    handed = handed_over_by_contact(stand_ins)
    entries = [(name, by_user[user_id] | handed.get(name, {})) for name, user_id in sorted(links.items())]
    entries += [(d.name, by_user[d.user_id] | {"stand_in": stand_in(d)}) for d in stand_ins]
    contacts: dict[str, dict[str, Any]] = {}
    for name, prefs in entries:
        try:
            snapshot.compile_snapshot({name: prefs})
        except engine.RuleError as exc:
            logger.error("notification preferences of contact %s left out of the snapshot: %s", name, exc)
            continue
        contacts[name] = prefs
    return contacts


def stand_in(delegation: Delegation) -> dict[str, Any]:
    """A delegate's windows as ``rulebook.compile_stand_in`` takes them (every one, ended too)."""
    return {
        "name": delegation.contact,
        "windows": [[start.timestamp(), end.timestamp()] for _, start, end in delegation.windows],
    }


def handed_over_by_contact(stand_ins: list[Delegation]) -> dict[str, dict[str, Any]]:
    """Per covered contact, ``{"handed_over": [...]}``: its hand-overs not over yet, with their id and comment."""
    now = django_timezone.now()
    rows = {
        row["delegate_id"]: row
        for row in HandOver.objects.filter(
            delegate_id__in=[pk for d in stand_ins for pk, _, _ in d.windows]
        ).values("delegate_id", "pk", "comment")
    }
    handed: dict[str, dict[str, Any]] = {}
    for delegation in stand_ins:
        for pk, start, end in delegation.windows:
            if start < end and end > now:  # not over, not cancelled before its start
                row = rows.get(pk) or {"pk": None, "comment": ""}
                entry: dict[str, Any] = {
                    "id": row["pk"],
                    "to": delegation.delegate,
                    "comment": row["comment"],
                }
                entry |= {"start": start.timestamp(), "until": end.timestamp()}
                handed.setdefault(delegation.contact, {"handed_over": []})["handed_over"].append(entry)
    return handed
