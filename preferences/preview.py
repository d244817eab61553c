"""Who would be notified, and how: the notify-filter's engine on the rules in the database.

- ``preview``: what one user's rules decide for one notification (the API's ``test/``).
- ``who_would_be_notified``: for a host or service, its contacts, their channels and what
  each contact's rules decide (the API's ``who/``).
- ``lookup_object``: a host or service's names and groups from the registry, as a
  notification carries them.

Both decide with the same engine and the same compiled rules (``preferences.compiled``) as
the notify-filter on the nodes, its node-side record of sent problems unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User

from preferences import engine, rulebook
from preferences.compiled import compile_user, preferences_by_user
from preferences.models import NotificationRule
from registry.models import Command, Contact, Host, Service
from registry.recipients import Recipient, recipients

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


def object_contacts(target: NotificationObject) -> dict[int, list[str]]:
    """The contacts Naemon notifies for the object, and how: what the renderer gives it.

    ``registry.recipients`` owns that question (team groups, explicit contacts and groups,
    the default group, a service's inheritance of its host's contacts). A service on host
    groups with nobody of its own inherits from the host asked about.
    """
    if target.host_row is None:
        return {}
    if target.service_row is None:
        found = recipients(target.host_row)
    elif target.service_row.host_id is not None:
        found = recipients(target.service_row)
    else:
        found = [r for r in recipients(target.service_row) if not all(v.startswith("host ") for v in r.via)]
        if not found:
            found = [
                Recipient(r.contact, tuple(f"host {target.host}: {how}" for how in r.via))
                for r in recipients(target.host_row)
            ]
    pks = dict(Contact.objects.filter(name__in=[r.contact for r in found]).values_list("name", "pk"))
    return {pks[r.contact]: list(r.via) for r in found if r.contact in pks}


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
    prefs = preferences_by_user(c.user_id for c in contacts if c.user_id is not None)
    compiled: dict[int, tuple[engine.CompiledContact | None, str]] = {}
    for user_id, data in prefs.items():
        try:
            compiled[user_id] = (
                rulebook.compile_contact(
                    data["rules"],
                    default=data["default"],
                    timezone=data["timezone"],
                    silences=data.get("silences", ()),  # as the node has them
                    oncall=data.get("oncall"),
                ),
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
