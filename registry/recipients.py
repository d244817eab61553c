"""Who would be told about a host or service: the one owner of that question.

Ownership decides the default recipients (docs/notifications.md): a team is a contact group
(``team-<name>``, its members' contacts), and an object owned by a team gets that group in its
``contact_groups`` unless its ``notify_owners`` is off; the contacts and contact groups named on
the object add to it.

- A host is owned by its team and its host groups' teams.
- A service by its host's owners, its host groups' teams and its service groups' teams.

Naemon gives a service without contacts and contact groups of its own its host's (implied
inheritance). Owners' groups add to what a service would have had, never replace it: a
service whose owners' groups are all its host's keeps inheriting (nothing rendered of its
own); one with owners beyond its host's gets its host's contacts and groups written out plus
its own owners'. A host nobody is assigned to gets the default contact group
(registry/render.py), and so do its services that inherit.

The state loader (registry/state.py) renders with ``TeamGroups`` and ``service_lists``;
``recipients``/``recipients_of`` expand the same lists into contacts, for the forms ("who would
be told") and the API's read-only ``recipients`` field, so page and config never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from monitoring_portal.models import Team
from registry.models import TEAM_GROUP_PREFIX, Contact, ContactGroup, Host, HostGroup, Service, ServiceGroup
from registry.render import Row
from registry.render_defaults import DEFAULT_CONTACT_GROUP

#: How a recipient is reached when nobody is assigned to a host (registry/render.py's default group).
DEFAULT_VIA = "default group"


def team_group(team: str) -> str:
    """The contact group a team is rendered as."""
    return TEAM_GROUP_PREFIX + team


@dataclass(frozen=True)
class Recipient:
    """A contact Naemon would notify about an object, and every way it is one."""

    contact: str
    via: tuple[str, ...]


class TeamGroups:
    """Teams as contact groups, and the teams of host and service groups: a few small queries.

    A team is a group only while one of its (active) members has a contact: an empty group
    would notify nobody, and an owned host without it falls back to the default group. A
    stored contact group of the same name (made before the prefix was reserved) wins: the
    team's is then neither rendered nor added.
    """

    def __init__(
        self,
        *,
        taken: set[str] | None = None,
        hostgroup_teams: dict[int, int] | None = None,
        servicegroup_teams: dict[int, int] | None = None,
    ) -> None:
        """``taken``: the stored contact groups' names; ``*_teams``: group id -> team id; read if not given."""
        self.names: dict[int, str] = {}
        members: dict[int, set[str]] = defaultdict(set)
        # One query for the teams and their members' contacts (a left join: teams without any too).
        for pk, name, contact, active in Team.objects.values_list(
            "pk", "name", "members__naemon_contact__name", "members__is_active"
        ):
            self.names[pk] = name
            if contact is not None and active:
                members[pk].add(contact)
        if taken is None:
            taken = set(
                ContactGroup.objects.filter(name__startswith=TEAM_GROUP_PREFIX).values_list("name", flat=True)
            )
        self.members: dict[str, list[str]] = {
            team_group(self.names[pk]): sorted(names)
            for pk, names in members.items()
            if team_group(self.names[pk]) not in taken
        }
        self.group_names: dict[int, str] = {
            pk: team_group(name) for pk, name in self.names.items() if team_group(name) in self.members
        }
        if hostgroup_teams is None:
            hostgroup_teams = dict(HostGroup.objects.filter(team__isnull=False).values_list("pk", "team_id"))
        self.hostgroup_teams = hostgroup_teams
        if servicegroup_teams is None:
            servicegroup_teams = dict(
                ServiceGroup.objects.filter(team__isnull=False).values_list("pk", "team_id")
            )
        self.servicegroup_teams = servicegroup_teams

    def rows(self) -> list[Row]:
        """The teams' contact groups, as the renderer takes them."""
        by_group = {group: pk for pk, group in self.group_names.items()}
        return [
            {"name": group, "alias": f"Team {self.names[by_group[group]]}", "members": members}
            for group, members in sorted(self.members.items())
        ]

    def host_teams(self, team_id: int | None, hostgroup_ids: Iterable[int]) -> set[int]:
        """A host's owners: its team and its host groups' teams."""
        teams = {self.hostgroup_teams[g] for g in hostgroup_ids if g in self.hostgroup_teams}
        if team_id is not None:
            teams.add(team_id)
        return teams

    def service_teams(
        self, host_teams: set[int], hostgroup_ids: Iterable[int], servicegroup_ids: Iterable[int]
    ) -> set[int]:
        """A service's owners: its host's, its host groups' teams and its service groups' teams."""
        teams = set(host_teams)
        teams.update(self.hostgroup_teams[g] for g in hostgroup_ids if g in self.hostgroup_teams)
        teams.update(self.servicegroup_teams[g] for g in servicegroup_ids if g in self.servicegroup_teams)
        return teams

    def groups(self, team_ids: Iterable[int]) -> list[str]:
        """The contact groups of these teams (those that are groups), sorted."""
        return sorted({self.group_names[t] for t in team_ids if t in self.group_names})


def host_groups(contact_groups: list[str], team_groups: list[str]) -> list[str]:
    """A host's contact groups: the ones named on it and its owners' (when it notifies them)."""
    if not team_groups:
        return contact_groups
    return sorted(set(contact_groups) | set(team_groups))


def service_lists(
    contacts: list[str],
    contact_groups: list[str],
    team_groups: list[str],
    inherited: tuple[list[str], list[str]] | None,
) -> tuple[list[str], list[str]]:
    """A service's own (contacts, contact groups) once its owners' groups are added.

    ``inherited``: its host's rendered (contacts, contact groups); None for a service on host
    groups (each of whose hosts Naemon would inherit from separately).
    """
    if not team_groups:
        return contacts, contact_groups
    if not contacts and not contact_groups and inherited is not None:
        host_contacts, host_contact_groups = inherited
        if set(team_groups) <= set(host_contact_groups):
            return contacts, contact_groups  # it inherits them from its host already
        return list(host_contacts), sorted(set(host_contact_groups) | set(team_groups))
    return contacts, sorted(set(contact_groups) | set(team_groups))


# --- who would be told: the same lists, expanded into contacts -------------------------------


def _related(objs: list[Any], relation: str, attr: str, column: str) -> dict[int, list[Any]]:
    """pk -> ``attr`` of each related object: from the prefetch cache when every object has it, else one query."""
    if all(relation in getattr(o, "_prefetched_objects_cache", {}) for o in objs):
        return {o.pk: [getattr(r, attr) for r in getattr(o, relation).all()] for o in objs}
    result: dict[int, list[Any]] = defaultdict(list)
    if objs:
        field: Any = type(objs[0])._meta.get_field(relation)
        owner = field.m2m_field_name()
        through = field.remote_field.through._default_manager
        for a, b in through.filter(**{f"{owner}_id__in": [o.pk for o in objs]}).values_list(
            f"{owner}_id", column
        ):
            result[a].append(b)
    return result


@dataclass
class _Lists:
    name: str
    contacts: list[str]
    groups: list[str]


class _Groups:
    """Teams and stored contact groups with their members, and the default group: two or three queries."""

    def __init__(self, named: set[str]) -> None:
        stored: dict[str, list[str]] = {}
        wanted = Q(name__in=named) | Q(name__startswith=TEAM_GROUP_PREFIX) | Q(name=DEFAULT_CONTACT_GROUP)
        for group, member in ContactGroup.objects.filter(wanted).values_list("name", "members__name"):
            stored.setdefault(group, [])
            if member is not None:
                stored[group].append(member)
        self.stored = stored
        self.teams = TeamGroups(taken=set(stored), hostgroup_teams={}, servicegroup_teams={})
        self._default: list[str] | None = (
            sorted(stored[DEFAULT_CONTACT_GROUP]) if DEFAULT_CONTACT_GROUP in stored else None
        )

    def members(self, group: str) -> list[str]:
        return self.teams.members.get(group) or self.stored.get(group, [])

    def label(self, group: str) -> str:
        if group in self.teams.members:
            return f"team {group.removeprefix(TEAM_GROUP_PREFIX)}"
        return f"contact group {group}"

    def default(self) -> list[str]:
        """The default group's members, chosen as registry/render.py's _default_contact_group does."""
        if self._default is None:
            self._default = sorted(Contact.objects.filter(user__is_staff=True).values_list("name", flat=True))
        return self._default

    def expand(self, lists: _Lists, *, default: bool, prefix: str = "") -> dict[str, list[str]]:
        """Contact -> how it is reached (``default``: a host with nobody named gets the default group)."""
        found: dict[str, list[str]] = defaultdict(list)
        for name in lists.contacts:
            found[name].append(prefix + "contact")
        for group in lists.groups:
            for name in self.members(group):
                found[name].append(prefix + self.label(group))
        if default and not lists.contacts and not lists.groups:
            for name in self.default():
                found[name].append(prefix + DEFAULT_VIA)
        return found


def _answer(found: dict[str, list[str]]) -> list[Recipient]:
    return [Recipient(name, tuple(dict.fromkeys(found[name]))) for name in sorted(found)]


def recipients_of(
    objects: Iterable[Host | Service], groups_cache: dict[frozenset[str], Any] | None = None
) -> dict[tuple[str, int], list[Recipient]]:
    """Who would be told about each of these stored hosts and services, by ("host"|"service", pk).

    Reads what the objects have prefetched (the API's querysets prefetch their relations), and
    otherwise a bounded number of queries however many objects. ``groups_cache``: the contact
    groups, teams and default group read for one request, by the groups named (a write asks
    before and after its change; it changes none of them).
    """
    objs = list(objects)
    services = [o for o in objs if isinstance(o, Service)]
    hosts = {o.pk: o for o in objs if isinstance(o, Host)}
    s_groups = _related(services, "hostgroups", "pk", "hostgroup_id")
    # A service on host groups with nothing of its own inherits from each host of its groups.
    bare = [s for s in services if s.host_id is None]
    group_hosts: dict[int, list[int]] = defaultdict(list)
    wanted = {g for s in bare for g in s_groups.get(s.pk, ())}
    if wanted:
        for host_id, group_id in Host.hostgroups.through.objects.filter(hostgroup_id__in=wanted).values_list(
            "host_id", "hostgroup_id"
        ):
            group_hosts[group_id].append(host_id)
    for s in services:
        if s.host is not None and s.host_id not in hosts:
            hosts[s.host.pk] = s.host
    missing = {h for hs in group_hosts.values() for h in hs} - set(hosts)
    hosts.update({h.pk: h for h in Host.objects.filter(pk__in=missing)} if missing else {})
    host_list = list(hosts.values())
    h_groups = _related(host_list, "hostgroups", "team_id", "hostgroup__team_id")
    h_contacts = _related(host_list, "contacts", "name", "contact__name")
    h_cgroups = _related(host_list, "contact_groups", "name", "contactgroup__name")
    s_teams = _related(services, "servicegroups", "team_id", "servicegroup__team_id")
    s_hgteams = _related(services, "hostgroups", "team_id", "hostgroup__team_id")
    s_contacts = _related(services, "contacts", "name", "contact__name")
    s_cgroups = _related(services, "contact_groups", "name", "contactgroup__name")
    named = {g for gs in h_cgroups.values() for g in gs} | {g for gs in s_cgroups.values() for g in gs}
    key = frozenset(named)
    cached = groups_cache.get(key) if groups_cache is not None else None
    groups = cached if cached is not None else _Groups(named)
    if groups_cache is not None:
        groups_cache[key] = groups
    teams = groups.teams

    lists: dict[int, _Lists] = {}
    owners: dict[int, set[int]] = {}
    for pk, host in hosts.items():
        owners[pk] = {t for t in [host.team_id, *h_groups.get(pk, ())] if t is not None}
        own = teams.groups(owners[pk]) if host.notify_owners else []
        lists[pk] = _Lists(
            host.name, sorted(h_contacts.get(pk, ())), host_groups(sorted(h_cgroups.get(pk, ())), own)
        )
    answer: dict[tuple[str, int], list[Recipient]] = {}
    for o in objs:
        if isinstance(o, Host):
            answer[("host", o.pk)] = _answer(groups.expand(lists[o.pk], default=True))
    for s in services:
        host_owners = owners.get(s.host_id, set()) if s.host_id is not None else set()
        own_teams = host_owners | {
            t for t in [*s_hgteams.get(s.pk, ()), *s_teams.get(s.pk, ())] if t is not None
        }
        inherited = lists.get(s.host_id) if s.host_id is not None else None
        contacts, cgroups = service_lists(
            sorted(s_contacts.get(s.pk, ())),
            sorted(s_cgroups.get(s.pk, ())),
            teams.groups(own_teams) if s.notify_owners else [],
            (inherited.contacts, inherited.groups) if inherited is not None else None,
        )
        if contacts or cgroups:
            found = groups.expand(_Lists("", contacts, cgroups), default=False)
        else:
            # Nothing of its own: Naemon gives it its host's (each host's, on host groups).
            found = defaultdict(list)
            inherit = (
                [s.host_id]
                if s.host_id is not None
                else sorted({h for g in s_groups.get(s.pk, ()) for h in group_hosts.get(g, ())})
            )
            for h in inherit:
                for name, hows in groups.expand(
                    lists[h], default=True, prefix=f"host {lists[h].name}: "
                ).items():
                    found[name].extend(hows)
        answer[("service", s.pk)] = _answer(found)
    return answer


def recipients(obj: Host | Service) -> list[Recipient]:
    """Who Naemon would notify about this (stored) host or service, and how."""
    kind = "host" if isinstance(obj, Host) else "service"
    return recipients_of([obj])[(kind, obj.pk)]
