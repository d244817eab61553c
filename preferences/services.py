"""What the preferences area computes from the database, with the notify-filter's own engine.

- ``snapshot_contacts``: every Naemon contact linked to a user → that user's rules, default
  and time zone, in the shape ``preferences.snapshot`` writes to the nodes.
- ``preview``: what one user's rules decide for one notification (the API's ``test/``).
- ``who_would_be_notified``: for a host or service, its contacts, their channels and what
  each contact's rules decide (the API's ``who/``).
- ``reorder``, ``name_choices``, ``channel_choices``: small helpers of the API.

Contacts without a user are left out of the snapshot: the filter then sends everything to
them (fail open), which is what Naemon did before the portal.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q

from preferences import engine, snapshot
from preferences.models import NotificationProfile, NotificationRule
from registry.models import Command, Contact, Host, HostGroup, Service, ServiceGroup

logger = logging.getLogger(__name__)

# Which letter of a contact's notification options lets Naemon notify it at all.
_SERVICE_STATE_OPTION = {"WARNING": "w", "UNKNOWN": "u", "CRITICAL": "c", "OK": "r"}
_HOST_STATE_OPTION = {"DOWN": "d", "UNREACHABLE": "u", "UP": "r"}
_TYPE_OPTION = {
    "RECOVERY": "r",
    "FLAPPINGSTART": "f",
    "FLAPPINGSTOP": "f",
    "FLAPPINGDISABLED": "f",
    "DOWNTIMESTART": "s",
    "DOWNTIMEEND": "s",
    "DOWNTIMECANCELLED": "s",
}


class UnknownObject(LookupError):
    """The host or service asked about is not in the registry; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- one user's preferences -----------------------------------------------------------------


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


def _preferences_by_user(user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
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
    by_user = _preferences_by_user(links.values())
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


# --- what the registry knows about a host or service ------------------------------------------


@dataclass
class NotificationObject:
    """A host or service as a notification sees it: names and groups, and its registry rows."""

    host: str
    service: str | None
    hostgroups: list[str]
    servicegroups: list[str]
    host_row: Host | None = None
    service_row: Service | None = None


def find_service(host: Host, description: str) -> Service | None:
    """The service on the host, or on one of its host groups."""
    on_host = Service.objects.filter(host=host, description=description).first()
    if on_host is not None:
        return on_host
    return (
        Service.objects.filter(host__isnull=True, description=description, hostgroups__hosts=host)
        .order_by("pk")
        .first()
    )


def lookup_object(host: str, service: str | None) -> NotificationObject:
    """Names and groups of a host or service from the registry (empty groups if it is unknown)."""
    host_row = Host.objects.filter(name=host).first()
    if host_row is None:
        return NotificationObject(host=host, service=service or None, hostgroups=[], servicegroups=[])
    hostgroups = sorted(host_row.hostgroups.values_list("name", flat=True))
    service_row = find_service(host_row, service) if service else None
    servicegroups = sorted(service_row.servicegroups.values_list("name", flat=True)) if service_row else []
    return NotificationObject(
        host=host,
        service=service or None,
        hostgroups=hostgroups,
        servicegroups=servicegroups,
        host_row=host_row,
        service_row=service_row,
    )


# --- preview ------------------------------------------------------------------------------------


@dataclass
class Preview:
    """What a user's rules decide for one notification, and which rule decided."""

    contact: str
    notification: engine.Notification
    decision: engine.Decision
    rule: NotificationRule | None
    timezone: str
    host_known: bool
    note: str = ""


def decide(compiled: engine.CompiledContact, notification: engine.Notification) -> engine.Decision:
    """What the notify-filter would decide, its node-side record unknown (a preview)."""
    if notification.type in engine.FOLLOWUP_TYPES and engine.can_suppress(compiled):
        return engine.evaluate_followup(compiled, notification, None)
    return engine.evaluate(compiled, notification)


def _gate_note(compiled: engine.CompiledContact, kind: str) -> str:
    if kind in ("RECOVERY", "ACKNOWLEDGEMENT") and engine.can_suppress(compiled):
        return "Sent only if the PROBLEM it ends was sent to this contact."
    return ""


def preview(
    user: User,
    *,
    host: str,
    service: str | None,
    state: str,
    type: str,
    channel: str,
    hostgroups: Sequence[str] | None = None,
    servicegroups: Sequence[str] | None = None,
    time: dt.datetime | None = None,
) -> Preview:
    """Evaluate ``user``'s rules for one notification; groups not given come from the registry."""
    found = lookup_object(host, service) if hostgroups is None or servicegroups is None else None
    compiled, rules = compile_user(user)
    contact = Contact.objects.filter(user=user).values_list("name", flat=True).first() or user.get_username()
    notification = engine.Notification(
        contact=contact,
        channel=channel,
        type=type,
        host=host,
        state=state,
        hostgroups=hostgroups if hostgroups is not None else found.hostgroups if found else (),
        service=service or None,
        servicegroups=servicegroups if servicegroups is not None else found.servicegroups if found else (),
        time=time or dt.datetime.now(dt.UTC),
    )
    decision = decide(compiled, notification)
    rule = rules.get(decision.rule_id) if isinstance(decision.rule_id, int) else None
    return Preview(
        contact=contact,
        notification=notification,
        decision=decision,
        rule=rule,
        timezone=compiled["timezone"],
        host_known=(found.host_row is not None) if found else Host.objects.filter(name=host).exists(),
        note=_gate_note(compiled, type),
    )


# --- who would be notified ---------------------------------------------------------------------


@dataclass
class ChannelDecision:
    """One notification command of a contact: its channel and what happens to it."""

    channel: str
    command: str
    notify: bool
    reason: str
    rule: NotificationRule | None = None


@dataclass
class ContactDecisions:
    """One contact of the object, why it is a contact, and each of its channels."""

    contact: str
    user: str | None
    via: list[str]
    sent_by_naemon: bool
    naemon_reason: str
    channels: list[ChannelDecision] = field(default_factory=list)


@dataclass
class WhoAnswer:
    """The object asked about and its contacts' decisions."""

    target: NotificationObject
    state: str
    type: str
    time: dt.datetime
    contacts: list[ContactDecisions]


def _contacts_of(row: Host | Service) -> dict[int, list[str]]:
    """Contact id → how it is a contact of ``row`` (directly or through contact groups)."""
    via: dict[int, list[str]] = defaultdict(list)
    for pk in row.contacts.values_list("pk", flat=True):
        via[pk].append("contact")
    for group, pk in row.contact_groups.values_list("name", "members__pk"):
        if pk is not None:
            via[pk].append(f"contact group {group}")
    return via


def object_contacts(target: NotificationObject) -> dict[int, list[str]]:
    """The contacts Naemon notifies for the object.

    A service without contacts and contact groups inherits its host's (Naemon's implied
    inheritance). Templates in the registry carry no contacts, so nothing comes from them.
    """
    if target.service_row is not None:
        via = _contacts_of(target.service_row)
        if via or target.host_row is None:
            return via
        inherited = _contacts_of(target.host_row)
        return {pk: [f"host {target.host}: {how}" for how in hows] for pk, hows in inherited.items()}
    return _contacts_of(target.host_row) if target.host_row is not None else {}


def naemon_sends(options: str, *, service: bool, state: str, type: str) -> tuple[bool, str]:
    """Whether a contact's notification options let Naemon run its command at all (periods aside)."""
    letters = {part.strip() for part in options.split(",")}
    if "n" in letters:
        return False, "the contact's notification options are 'n' (none)"
    if type == "CUSTOM":
        return True, ""
    letter = _TYPE_OPTION.get(type)
    if letter is None:  # PROBLEM, ACKNOWLEDGEMENT: the state decides
        letter = (_SERVICE_STATE_OPTION if service else _HOST_STATE_OPTION).get(state)
    if letter is not None and letter not in letters:
        return (
            False,
            f"the contact's {'service' if service else 'host'} notification options ({options}) lack '{letter}'",
        )
    return True, ""


def who_would_be_notified(
    *, host: str, service: str | None, state: str, type: str, time: dt.datetime | None = None
) -> WhoAnswer:
    """For every contact of the object and each of its channels: notify or suppress, and why."""
    target = lookup_object(host, service)
    if target.host_row is None:
        raise UnknownObject("host", f"No host {host!r} in the registry.")
    if service and target.service_row is None:
        raise UnknownObject("service", f"No service {service!r} on host {host!r} or its host groups.")
    when = time or dt.datetime.now(dt.UTC)
    via = object_contacts(target)
    is_service = target.service is not None
    commands_field = "service_notification_commands" if is_service else "host_notification_commands"
    contacts = list(
        Contact.objects.filter(pk__in=via)
        .select_related("user")
        .prefetch_related(commands_field)
        .order_by("name")
    )
    prefs = _preferences_by_user(c.user_id for c in contacts if c.user_id is not None)
    compiled: dict[int, tuple[engine.CompiledContact | None, str]] = {}
    for user_id, data in prefs.items():
        try:
            compiled[user_id] = (
                engine.compile_contact(data["rules"], default=data["default"], timezone=data["timezone"]),
                "",
            )
        except engine.RuleError as exc:
            compiled[user_id] = (None, f"preferences do not compile ({exc}): the filter sends (fail open)")
    rules = {
        rule.pk: rule
        for rule in NotificationRule.objects.filter(user_id__in=prefs).only(
            "pk", "user_id", "position", "action", "comment"
        )
    }

    answers = []
    for contact in contacts:
        options = contact.service_notification_options if is_service else contact.host_notification_options
        sends, naemon_reason = naemon_sends(options, service=is_service, state=state, type=type)
        answer = ContactDecisions(
            contact=contact.name,
            user=contact.user.get_username() if contact.user else None,
            via=via[contact.pk],
            sent_by_naemon=sends,
            naemon_reason=naemon_reason,
        )
        commands: list[Command] = sorted(getattr(contact, commands_field).all(), key=lambda c: c.name)
        for command in commands:
            answer.channels.append(
                _channel_decision(contact, command, target, state, type, when, compiled, rules)
            )
        answers.append(answer)
    return WhoAnswer(target=target, state=state, type=type, time=when, contacts=answers)


def _channel_decision(
    contact: Contact,
    command: Command,
    target: NotificationObject,
    state: str,
    type: str,
    when: dt.datetime,
    compiled: dict[int, tuple[engine.CompiledContact | None, str]],
    rules: dict[int, NotificationRule],
) -> ChannelDecision:
    if not command.channel:
        return ChannelDecision("", command.name, True, "command has no channel: not filtered, always sent")
    if contact.user_id is None:
        return ChannelDecision(
            command.channel, command.name, True, "contact not linked to a portal user: no preferences, sent"
        )
    prefs, error = compiled[contact.user_id]
    if prefs is None:
        return ChannelDecision(command.channel, command.name, True, error)
    notification = engine.Notification(
        contact=contact.name,
        channel=command.channel,
        type=type,
        host=target.host,
        state=state,
        hostgroups=target.hostgroups,
        service=target.service,
        servicegroups=target.servicegroups,
        time=when,
    )
    decision = decide(prefs, notification)
    reason = decision.reason
    note = _gate_note(prefs, type)
    if note and decision.notify and decision.rule_id is not None:
        reason += f"; {note[0].lower()}{note[1:]}"
    rule = rules.get(decision.rule_id) if isinstance(decision.rule_id, int) else None
    return ChannelDecision(command.channel, command.name, decision.notify, reason, rule)


# --- API helpers -----------------------------------------------------------------------------------


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
            from preferences.tasks import publish_on_commit  # bulk_update sends no signals

            publish_on_commit()
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
