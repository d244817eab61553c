"""Coverage gaps, the registry's part: objects about which Naemon itself would tell nobody.

A PROBLEM in an object's worst state (DOWN for a host, CRITICAL for a service) reaches nobody when:

- ``notifications_disabled``: its ``notifications_enabled`` is off, or its ``notification_options``
  are ``n`` or lack that state, on the object or through its templates (Naemon's order: the
  object, then each template it uses, depth-first, first one set wins);
- ``period_never``: its notification period (same inheritance; unset is the portal's 24x7) is a
  time period without any range, so Naemon never finds a time to notify;
- ``node_disabled``: the node that would notify for it (``registry.cluster``) is disabled, or
  no enabled node notifies for it;
- ``no_contacts``: ``registry.recipients`` (the one owner of "who would be told") finds nobody;
- ``no_channel``: none of its contacts would have a notification command run for that PROBLEM
  (no command, notification options without that state or ``n``, or a period without ranges).

Everything here needs the registry only, so the deploy pipeline can warn about the objects a
deployment adds (``deployment_warnings``) without importing preferences (.importlinter); each
person's rules are the other half, in ``preferences.coverage``, which reads ``Survey.reached``.

A service on host groups is one object per member host (Naemon creates one per host, and each
inherits that host's contacts when it has none of its own). Bounded queries however many objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from registry import cluster
from registry.models import (
    Contact,
    Host,
    HostGroup,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    Service,
    ServiceGroup,
    ServiceTemplate,
    ServiceTemplateUse,
    ServiceUse,
    TimePeriod,
)
from registry.recipients import Recipient, recipients_of

#: Every reason, in the order a row lists them (the first is what to fix first), with its label.
REASONS: dict[str, str] = {
    "notifications_disabled": "notifications disabled on the object",
    "period_never": "notification period never applies",
    "node_disabled": "the node that notifies is disabled",
    "no_contacts": "no contacts",
    "no_channel": "no contact has a channel",
    "rules_suppress": "every recipient's rules suppress its problems",
}
#: The registry's reasons (all but the rules').
REGISTRY_REASONS = tuple(r for r in REASONS if r != "rules_suppress")

WORST_STATE = {"host": "DOWN", "service": "CRITICAL"}
_WORST_LETTER = {"host": "d", "service": "c"}


@dataclass
class Target:
    """One object Naemon notifies about: a host, a service on a host, or a service on host groups on one host."""

    kind: str  # "host" or "service"
    host: str
    service: str | None
    host_id: int
    service_id: int | None
    hostgroups: tuple[str, ...]
    servicegroups: tuple[str, ...]
    teams: frozenset[int]  # who owns it (registry/permissions.py), for rights
    recipients: list[Recipient]
    reasons: dict[str, str] = field(default_factory=dict)  # reason -> why, in detail
    #: Contacts Naemon would run a command for on a worst-state PROBLEM: name -> (user id, channels).
    #: A command without a channel is "" (not filtered: always sent).
    reached: dict[str, tuple[int | None, list[str]]] = field(default_factory=dict)


# --- Naemon's template inheritance of the three directives that can silence an object ---------

_FIELDS = ("notifications_enabled", "notification_period_id", "notification_options")


class _Chains:
    """Templates of one kind: their own values and whom they use, in order (three queries)."""

    def __init__(self, kind: str) -> None:
        model: Any = HostTemplate if kind == "host" else ServiceTemplate
        through: Any = HostTemplateUse if kind == "host" else ServiceTemplateUse
        self.values = {row.pop("pk"): row for row in model._default_manager.values("pk", *_FIELDS)}
        self.uses: dict[int, list[int]] = defaultdict(list)
        for template_id, uses_id in through._default_manager.order_by(
            "template_id", "position", "pk"
        ).values_list("template_id", "uses_id"):
            self.uses[template_id].append(uses_id)
        self._cache: dict[tuple[int, str], Any] = {}

    def template_value(self, pk: int, name: str, seen: frozenset[int] = frozenset()) -> Any:
        """The template's own value, else the first of its parents' (depth-first); None: unset."""
        key = (pk, name)
        if key in self._cache:
            return self._cache[key]
        value = self.values.get(pk, {}).get(name)
        if value in (None, ""):
            value = self.first(self.uses.get(pk, ()), name, seen | {pk})
        self._cache[key] = value
        return value

    def first(self, template_ids: Iterable[int], name: str, seen: frozenset[int] = frozenset()) -> Any:
        for pk in template_ids:
            if pk not in seen:
                value = self.template_value(pk, name, seen)
                if value not in (None, ""):
                    return value
        return None

    def resolve(self, own: dict[str, Any], template_ids: list[int]) -> dict[str, Any]:
        return {
            name: own[name] if own[name] not in (None, "") else self.first(template_ids, name)
            for name in _FIELDS
        }


def _uses(through: Any, owner: str, ids: Iterable[int] | None) -> dict[int, list[int]]:
    result: dict[int, list[int]] = defaultdict(list)
    rows = through._default_manager.order_by(f"{owner}_id", "position", "pk")
    if ids is not None:
        rows = rows.filter(**{f"{owner}_id__in": list(ids)})
    for pk, template_id in rows.values_list(f"{owner}_id", "template_id"):
        result[pk].append(template_id)
    return result


def _never(ranges: Any) -> bool:
    """Whether a time period's ranges never cover a minute (no day, or only empty ranges)."""
    if not isinstance(ranges, dict):
        return False
    for times in ranges.values():
        for part in str(times).split(","):
            start, _, end = part.strip().partition("-")
            if start.strip() and end.strip() and start.strip() != end.strip():
                return False
    return True


def _silenced_by_options(options: str, kind: str) -> bool:
    letters = {part.strip() for part in options.split(",") if part.strip()}
    return bool(letters) and ("n" in letters or _WORST_LETTER[kind] not in letters)


class _Contacts:
    """Every contact's channels and whether Naemon would run them for a worst-state PROBLEM (four queries)."""

    def __init__(self, never_periods: set[int]) -> None:
        self.rows: dict[str, dict[str, Any]] = {
            row["name"]: dict(row)
            for row in Contact.objects.values(
                "pk",
                "name",
                "user_id",
                "host_notification_options",
                "service_notification_options",
                "host_notification_period_id",
                "service_notification_period_id",
            )
        }
        self.channels: dict[str, dict[int, list[str]]] = {}
        for kind in ("host", "service"):
            through: Any = getattr(Contact, f"{kind}_notification_commands").through
            found: dict[int, list[str]] = defaultdict(list)
            for contact_id, channel in through.objects.values_list("contact_id", "command__channel"):
                found[contact_id].append(channel or "")
            self.channels[kind] = found
        self.never = never_periods

    def reached(self, name: str, kind: str) -> tuple[tuple[int | None, list[str]] | None, str]:
        """(user id, channels) if Naemon would run a command of this contact, else (None, why not)."""
        row = self.rows.get(name)
        if row is None:
            return None, f"{name}: not a contact"
        channels = self.channels[kind].get(row["pk"], [])
        if not channels:
            return None, f"{name}: no {kind} notification command"
        options = row[f"{kind}_notification_options"] or ""
        if _silenced_by_options(options, kind):
            return None, f"{name}: {kind} notification options {options!r} exclude {WORST_STATE[kind]}"
        if row[f"{kind}_notification_period_id"] in self.never:
            return None, f"{name}: {kind} notification period has no time ranges"
        return (row["user_id"], sorted(set(channels))), ""


@dataclass
class Survey:
    """The objects looked at, each with its registry reasons and the contacts Naemon would run."""

    targets: list[Target]


def survey(
    hosts: QuerySet[Host] | None = None,
    services: QuerySet[Service] | None = None,
) -> Survey:
    """Look at these hosts and services (default: all) as Naemon would notify about them.

    Bounded number of queries whatever the number of objects (about thirty).
    """
    hosts = Host.objects.all() if hosts is None else hosts
    services = Service.objects.all() if services is None else services
    host_objs = list(hosts.only("pk", "name", "team_id", "notify_owners", *_FIELDS).order_by("name"))
    service_objs = list(services.select_related("host").order_by("host__name", "description", "pk"))
    periods = dict(TimePeriod.objects.values_list("pk", "ranges"))
    never = {pk for pk, ranges in periods.items() if _never(ranges)}
    period_names = dict(TimePeriod.objects.filter(pk__in=never).values_list("pk", "name"))
    topo = cluster.topology()
    groups = {pk: (name, team) for pk, name, team in HostGroup.objects.values_list("pk", "name", "team_id")}
    sgroups = dict(ServiceGroup.objects.values_list("pk", "name"))
    host_groups: dict[int, list[int]] = defaultdict(list)
    group_members: dict[int, list[int]] = defaultdict(list)
    for host_id, group_id in Host.hostgroups.through.objects.values_list("host_id", "hostgroup_id"):
        host_groups[host_id].append(group_id)
        group_members[group_id].append(host_id)
    s_hostgroups: dict[int, list[int]] = defaultdict(list)
    for service_id, group_id in Service.hostgroups.through.objects.filter(
        service_id__in=[s.pk for s in service_objs]
    ).values_list("service_id", "hostgroup_id"):
        s_hostgroups[service_id].append(group_id)
    s_servicegroups: dict[int, list[str]] = defaultdict(list)
    for service_id, group_id in Service.servicegroups.through.objects.filter(
        service_id__in=[s.pk for s in service_objs]
    ).values_list("service_id", "servicegroup_id"):
        s_servicegroups[service_id].append(sgroups[group_id])
    # Hosts a service on host groups lands on: what Naemon creates one service of per host.
    member_ids = {
        h for s in service_objs if s.host_id is None for g in s_hostgroups[s.pk] for h in group_members[g]
    }
    known_hosts = {h.pk: h for h in host_objs} | {
        s.host.pk: s.host for s in service_objs if s.host is not None
    }
    missing = member_ids - set(known_hosts)
    if missing:
        known_hosts.update({h.pk: h for h in Host.objects.filter(pk__in=missing)})

    chains = {"host": _Chains("host"), "service": _Chains("service")}
    host_uses = _uses(HostUse, "host", known_hosts)
    service_uses = _uses(ServiceUse, "service", [s.pk for s in service_objs])
    contacts = _Contacts(never)
    answer = recipients_of([*host_objs, *service_objs])

    def host_names(host_id: int) -> tuple[str, ...]:
        return tuple(sorted(groups[g][0] for g in host_groups.get(host_id, ())))

    def host_teams(host: Host) -> frozenset[int]:
        teams = {groups[g][1] for g in host_groups.get(host.pk, ()) if groups[g][1] is not None}
        return frozenset(teams | ({host.team_id} if host.team_id else set()))

    def object_reasons(target: Target, settings: dict[str, Any]) -> None:
        kind = target.kind
        if settings["notifications_enabled"] is False:
            target.reasons["notifications_disabled"] = "notifications_enabled is off"
        elif settings["notification_options"] and _silenced_by_options(
            settings["notification_options"], kind
        ):
            target.reasons["notifications_disabled"] = (
                f"notification_options {settings['notification_options']!r} exclude {WORST_STATE[kind]}"
            )
        if settings["notification_period_id"] in never:
            name = period_names.get(settings["notification_period_id"], "?")
            target.reasons["period_never"] = f"notification period {name!r} has no time ranges"
        notifier = topo.notifier(target.hostgroups if kind == "host" else host_names(target.host_id))
        if notifier is None:
            target.reasons["node_disabled"] = "no enabled node notifies for it"
        elif not topo.nodes[notifier].enabled:
            target.reasons["node_disabled"] = f"node {notifier!r} is disabled"
        if not target.recipients:
            target.reasons["no_contacts"] = "nobody is a contact"
            return
        why_not = []
        for recipient in target.recipients:
            reached, why = contacts.reached(recipient.contact, kind)
            if reached is None:
                why_not.append(why)
            else:
                target.reached[recipient.contact] = reached
        if not target.reached:
            target.reasons["no_channel"] = "; ".join(why_not)

    targets: list[Target] = []
    for host in host_objs:
        target = Target(
            kind="host",
            host=host.name,
            service=None,
            host_id=host.pk,
            service_id=None,
            hostgroups=host_names(host.pk),
            servicegroups=(),
            teams=host_teams(host),
            recipients=answer[("host", host.pk)],
        )
        own = {name: getattr(host, name) for name in _FIELDS}
        object_reasons(target, chains["host"].resolve(own, host_uses.get(host.pk, [])))
        targets.append(target)
    for service in service_objs:
        own = {name: getattr(service, name) for name in _FIELDS}
        settings = chains["service"].resolve(own, service_uses.get(service.pk, []))
        found = answer[("service", service.pk)]
        common = dict(
            kind="service",
            service=service.description,
            service_id=service.pk,
            servicegroups=tuple(sorted(s_servicegroups.get(service.pk, ()))),
        )
        if service.host is not None:
            instances = [(service.host, found, host_teams(service.host))]
        else:
            # Recipients of its own (the same on every host), or each host's (recipients.py marks
            # what is inherited from a host "host <name>: ...").
            own_recipients = [r for r in found if not all(v.startswith("host ") for v in r.via)]
            teams = frozenset(groups[g][1] for g in s_hostgroups[service.pk] if groups[g][1] is not None)
            instances = []
            for host_id in sorted(
                {h for g in s_hostgroups[service.pk] for h in group_members[g]},
                key=lambda h: known_hosts[h].name,
            ):
                host = known_hosts[host_id]
                prefix = f"host {host.name}: "
                mine = own_recipients or [
                    Recipient(r.contact, tuple(v for v in r.via if v.startswith(prefix)))
                    for r in found
                    if any(v.startswith(prefix) for v in r.via)
                ]
                instances.append((host, mine, teams))
        for host, recipients, teams in instances:
            target = Target(
                host=host.name,
                host_id=host.pk,
                hostgroups=host_names(host.pk),
                teams=teams,
                recipients=recipients,
                **common,  # type: ignore[arg-type]
            )
            object_reasons(target, settings)
            targets.append(target)
    return Survey(targets)


def deployment_warnings(host_names: Iterable[str], *, limit: int = 20) -> list[str]:
    """Warnings for a deployment that adds these hosts: those (and their services) nobody would be told about.

    The registry's reasons only: whose rules suppress what is preferences' to say (the
    coverage page). At most ``limit`` lines, and one saying how many more.
    """
    names = sorted(set(host_names))
    if not names:
        return []
    hosts = Host.objects.filter(name__in=names)
    services = Service.objects.filter(host__name__in=names)
    lines = []
    for target in survey(hosts, services).targets:
        if target.reasons:
            what = (
                f"Host {target.host!r}"
                if target.kind == "host"
                else f"Service {target.host}/{target.service!r}"
            )
            lines.append(
                f"Coverage: {what} would notify nobody: "
                + "; ".join(f"{REASONS[r]} ({why})" for r, why in target.reasons.items())
            )
    if len(lines) > limit:
        lines = [*lines[:limit], f"Coverage: and {len(lines) - limit} more objects that would notify nobody."]
    return lines
