"""The registry's state for one node, read from the database: the renderer's input.

``load_state(node)`` reads what the node monitors (see registry/render.py for what a master
and a poller get) as plain rows, in a handful of queries whatever the number of objects;
``load_snapshot`` does it in one consistent snapshot of the database; ``render_node`` loads
and renders in one call. The renderer itself (registry/render.py) knows no database.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from registry import models as m
from registry.check_settings import DIRECTIVE_FIELDS
from registry.choices import NodeRole
from registry.cluster import Role, Topology, topology
from registry.delegates import Delegation, rendered_delegations
from registry.recipients import TeamGroups, service_lists
from registry.recipients import host_groups as with_owner_groups
from registry.relations import load_relations
from registry.render import SHARE_VARIABLE, STALE_COMMAND, ClusterPart, Rendered, Row, State, render_state

_CHECK_FIELDS = (
    "check_command_id",
    "check_interval",
    "retry_interval",
    "max_check_attempts",
    "check_period_id",
    "active_checks_enabled",
    "passive_checks_enabled",
    "notifications_enabled",
    "notification_interval",
    "notification_period_id",
    "notification_options",
    "notes",
    # Issue 16's directives (registry/check_settings.py), references by id.
    *("event_handler_id" if name == "event_handler" else name for name in DIRECTIVE_FIELDS),
)


def _json_text() -> dict[str, Any]:
    """The JSON fields as their text: decoding it here (cached) is much cheaper than per row in the ORM."""
    return {
        "args_json": Cast("check_command_args", TextField()),
        "vars_json": Cast("custom_variables", TextField()),
    }


@functools.lru_cache(maxsize=8192)
def _decode(text: str | None) -> Any:
    # Shared between rows that hold the same JSON: the renderer only reads them.
    return json.loads(text) if text else None


def _tuples(queryset: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list() query straight from the cursor.

    Around the ORM's per-row converters, which cost more than the rendering: every column
    read this way is a plain int, str, bool (0/1 on SQLite) or NULL, or JSON cast to text.
    A server-side cursor on PostgreSQL (as QuerySet.iterator() uses): the reply comes a batch
    at a time instead of a million rows at once in the client's memory.
    """
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(20000):
            yield from batch


_REFS = {"check_command_id": "check_command", "event_handler_id": "event_handler"}
_PERIOD_REFS = {"check_period_id": "check_period", "notification_period_id": "notification_period"}
#: Distinct check settings kept per query: a site where every object has its own (notes, say)
#: must not keep a second copy of them all.
_SETTINGS_CACHE = 65536


def _rows(
    queryset: Any,
    fields: tuple[str, ...],
    settings: tuple[str, ...],
    refs: tuple[dict[int, str], dict[int, str]],
) -> Iterator[Row]:
    """Rows as dicts of ``fields``, then ``settings`` (check settings) with names for ids and JSON decoded.

    Most objects share their check settings (a million services, a few distinct templates'
    worth): the settings' part of a row is built once per distinct tuple of values, so the
    references, the JSON and the NULLs are dealt with once, not once per row.
    """
    # No ORDER BY: the renderer sorts in Python (and ordering by a join would add columns).
    annotated = (
        queryset.order_by().annotate(**_json_text()).values_list(*fields, *settings, "args_json", "vars_json")
    )
    commands, periods = refs
    width = len(fields)
    parts: dict[tuple[Any, ...], Row] = {}
    for values in _tuples(annotated):
        key = values[width:]
        part = parts.get(key)
        if part is None:
            if len(parts) >= _SETTINGS_CACHE:
                parts.clear()
            part = parts[key] = _settings(settings, key, commands, periods)
        # NULL means "inherit": leaving the key out keeps a million rows smaller (row.get() is None).
        # zip stops at the last of ``fields``: the settings' columns are in ``part``.
        row = {k: v for k, v in zip(fields, values, strict=False) if v is not None}
        row.update(part)
        yield row


def _settings(
    names: tuple[str, ...], values: tuple[Any, ...], commands: dict[int, str], periods: dict[int, str]
) -> Row:
    """One distinct tuple of check settings as the renderer takes it (names for ids, JSON decoded)."""
    part: Row = {}
    for name, value in zip(names, values[: len(names)], strict=True):
        if value is None:
            continue
        if name in _REFS:
            part[_REFS[name]] = commands.get(value)
        elif name in _PERIOD_REFS:
            part[_PERIOD_REFS[name]] = periods.get(value)
        else:
            part[name] = value
    for key, text in zip(("check_command_args", "custom_variables"), values[len(names) :], strict=True):
        decoded = _decode(text)
        if decoded:
            part[key] = decoded
    return part


def _pairs(queryset: Any, left: str, right: str) -> dict[int, list[int]]:
    """An m2m/through table as left id -> [right ids] in the table's order."""
    result: dict[int, list[int]] = defaultdict(list)
    for a, b in _tuples(queryset.values_list(left, right)):
        result[a].append(b)
    return result


_NONE: list[int] = []
_NONE_NAMES: list[str] = []


def _names(ids: Iterable[int], names: dict[int, str], *, keep_order: bool = False) -> list[str]:
    if ids is _NONE:
        return _NONE_NAMES  # shared: rows are only read
    found = [names[i] for i in ids if i in names]
    return found if keep_order or len(found) < 2 else sorted(found)


def load_state(node: m.NaemonNode) -> State:
    """Read what ``node`` monitors from the database, in a handful of queries (no per-object queries)."""
    periods = dict(m.TimePeriod.objects.values_list("pk", "name"))
    commands = dict(m.Command.objects.values_list("pk", "name"))
    refs = (commands, periods)
    state = State()
    state.timeperiods = [dict(r) for r in m.TimePeriod.objects.values("pk", "name", "alias", "ranges")]
    excludes = _pairs(m.TimePeriodExclude.objects, "period_id", "excluded_id")
    for period in state.timeperiods:
        period["exclude"] = _names(excludes.get(period.pop("pk"), _NONE), periods)
    state.commands = [
        dict(r) for r in m.Command.objects.values("name", "command_line", "channel", "free_form_args")
    ]

    host_cmds = _pairs(m.Contact.host_notification_commands.through.objects, "contact_id", "command_id")
    service_cmds = _pairs(m.Contact.service_notification_commands.through.objects, "contact_id", "command_id")
    for values in m.Contact.objects.values(
        "pk",
        "name",
        "alias",
        "email",
        "pager",
        "host_notification_period_id",
        "service_notification_period_id",
        "host_notification_options",
        "service_notification_options",
        "user__is_staff",
    ):
        row: Row = dict(values)
        pk = row.pop("pk")
        row["staff"] = bool(row.pop("user__is_staff"))
        row["host_notification_period"] = periods.get(row.pop("host_notification_period_id"))
        row["service_notification_period"] = periods.get(row.pop("service_notification_period_id"))
        row["host_notification_commands"] = _names(host_cmds.get(pk, []), commands)
        row["service_notification_commands"] = _names(service_cmds.get(pk, []), commands)
        state.contacts.append(row)
    contacts = dict(m.Contact.objects.values_list("pk", "name"))
    cg_members = _pairs(m.ContactGroup.members.through.objects, "contactgroup_id", "contact_id")
    for group in m.ContactGroup.objects.values("pk", "name", "alias"):
        row = dict(group)
        row["members"] = _names(cg_members.get(row.pop("pk"), []), contacts)
        state.contactgroups.append(row)
    contactgroups = dict(m.ContactGroup.objects.values_list("pk", "name"))
    servicegroups = dict(m.ServiceGroup.objects.values_list("pk", "name"))
    state.servicegroups = [dict(r) for r in m.ServiceGroup.objects.values("pk", "name", "alias")]
    sg_members = _pairs(m.ServiceGroupMember.objects, "group_id", "member_id")
    for sgroup in state.servicegroups:
        sgroup["servicegroup_members"] = _names(sg_members.get(sgroup.pop("pk"), _NONE), servicegroups)

    for model, use_model, rows, extra in (
        (m.HostTemplate, m.HostTemplateUse, state.host_templates, ()),
        (m.ServiceTemplate, m.ServiceTemplateUse, state.service_templates, ("is_volatile",)),
    ):
        names = dict(model.objects.values_list("pk", "name"))
        uses = _pairs(use_model.objects.order_by("template_id", "position", "pk"), "template_id", "uses_id")
        for row in _rows(model.objects.all(), ("pk", "name"), (*_CHECK_FIELDS, *extra), refs):
            row["use"] = _names(uses.get(row.pop("pk"), _NONE), names, keep_order=True)
            rows.append(row)

    poller = node.role == NodeRole.POLLER
    host_qs = m.Host.objects.for_node(node)
    hostgroup_rows = {
        r["pk"]: r for r in m.HostGroup.objects.values("pk", "name", "alias", "node_id", "team_id")
    }
    # Teams are contact groups; what a team owns notifies it (registry/recipients.py).
    teams = TeamGroups(
        taken={row["name"] for row in state.contactgroups},
        hostgroup_teams={pk: r["team_id"] for pk, r in hostgroup_rows.items() if r["team_id"]},
    )
    state.contactgroups.extend(teams.rows())
    owned = {pk for pk, r in hostgroup_rows.items() if r["node_id"] == node.pk}
    hostgroups = {pk: r["name"] for pk, r in hostgroup_rows.items()}

    hosts_through: Any = m.Host.hostgroups.through.objects
    parents_through: Any = m.Host.parents.through.objects
    contacts_through: Any = m.Host.contacts.through.objects
    cgroups_through: Any = m.Host.contact_groups.through.objects
    uses_qs: Any = m.HostUse.objects.order_by("host_id", "position", "pk")
    if poller:
        ids = host_qs.values("pk")
        hosts_through = hosts_through.filter(host_id__in=ids)
        parents_through = parents_through.filter(from_host_id__in=ids)
        contacts_through = contacts_through.filter(host_id__in=ids)
        cgroups_through = cgroups_through.filter(host_id__in=ids)
        uses_qs = uses_qs.filter(host_id__in=ids)
    host_groups = _pairs(hosts_through, "host_id", "hostgroup_id")
    host_parents = _pairs(parents_through, "from_host_id", "to_host_id")
    host_contacts = _pairs(contacts_through, "host_id", "contact_id")
    host_cgroups = _pairs(cgroups_through, "host_id", "contactgroup_id")
    host_uses = _pairs(uses_qs, "host_id", "template_id")
    host_templates = dict(m.HostTemplate.objects.values_list("pk", "name"))

    host_rows = list(
        _rows(host_qs, ("pk", "name", "alias", "address", "team_id", "notify_owners"), _CHECK_FIELDS, refs)
    )
    host_names = {r["pk"]: r["name"] for r in host_rows}
    referenced: set[int] = set()
    owners: dict[int, frozenset[int]] = {}
    rendered_lists: dict[int, tuple[list[str], list[str]]] = {}
    for row in host_rows:
        pk = row.pop("pk")
        groups = host_groups.get(pk, _NONE)
        referenced.update(groups)
        row["use"] = _names(host_uses.get(pk, _NONE), host_templates, keep_order=True)
        row["hostgroups"] = _names(groups, hostgroups)
        # On a poller, a parent monitored elsewhere is not defined here: leave it out.
        row["parents"] = _names(host_parents.get(pk, _NONE), host_names)
        row["contacts"] = _names(host_contacts.get(pk, _NONE), contacts)
        row["contact_groups"] = _names(host_cgroups.get(pk, _NONE), contactgroups)
        owners[pk] = frozenset(teams.host_teams(row.pop("team_id", None), groups))
        if row.pop("notify_owners"):
            row["contact_groups"] = with_owner_groups(row["contact_groups"], teams.groups(owners[pk]))
        rendered_lists[pk] = (row["contacts"], row["contact_groups"])
        state.hosts.append(row)
    rendered_groups = (owned | referenced) if poller else set(hostgroup_rows)
    # hostgroup_members only on masters: they hold every group. A poller's groups are never in
    # such a link (registry/serializers/objects.py), so its services see the same hosts.
    hg_members = {} if poller else _pairs(m.HostGroupMember.objects, "group_id", "member_id")
    state.hostgroups = [
        {
            "name": hostgroup_rows[pk]["name"],
            "alias": hostgroup_rows[pk]["alias"],
            "hostgroup_members": _names(hg_members.get(pk, _NONE), hostgroups),
        }
        for pk in rendered_groups
    ]

    ownership = _Ownership(teams, owners, rendered_lists)
    _load_services(
        node,
        state,
        poller,
        host_names,
        owned,
        hostgroups,
        servicegroups,
        contacts,
        contactgroups,
        ownership,
        refs,
    )
    _add_delegates(state, rendered_delegations())
    _apply_cluster(node, state, topology())
    state.relations = load_relations()
    return state


def _add_delegates(state: State, delegations: list[Delegation]) -> None:
    """Hand-overs (registry/delegates.py): ``bob--for--alice`` wherever alice is a contact, with bob's channels.

    Wherever: the objects' ``contacts`` and the contact groups alice is a member of (team groups
    included); a service that inherits its host's contacts gets the delegate through Naemon's
    inheritance. The row is bob's, renamed, with alice's staff flag: the default contact group
    (staff) takes the delegate when it takes alice, never because bob is staff.
    """
    rows = {row["name"]: row for row in state.contacts}
    covering: dict[str, list[str]] = defaultdict(list)
    for delegation in delegations:
        source, covered = rows.get(delegation.delegate), rows.get(delegation.contact)
        if source is None or covered is None:
            continue
        alias = f"{source.get('alias') or delegation.delegate} for {delegation.contact}"
        state.contacts.append(
            {**source, "name": delegation.name, "alias": alias, "staff": covered.get("staff")}
        )
        covering[delegation.contact].append(delegation.name)
    if not covering:
        return

    def extended(names: list[str]) -> list[str]:
        added = [name for contact in names for name in covering.get(contact, ())]
        return sorted({*names, *added}) if added else names  # a new list: rows may share theirs

    for group in state.contactgroups:
        group["members"] = extended(group.get("members") or [])
    for row in (*state.hosts, *state.services):
        if row.get("contacts"):
            row["contacts"] = extended(row["contacts"])


def _apply_cluster(node: m.NaemonNode, state: State, topo: Topology) -> None:
    """Give each object this node's role in it (registry/cluster.py): checker, notifier or passive copy.

    A node alone (or whose roles are all "check and notify" with nobody to relay to) renders
    exactly as before. On a master, a service defined on host groups of several owners is
    split into one definition per owner, so that each part has one checker.
    """
    targets = tuple(topo.relay_targets(node.name))
    obsess = bool(targets)
    program, log = node.relay_program()
    state.cluster = ClusterPart(
        relay_targets=targets,
        relay_program=program,
        relay_log=log,
        relay_commands=True,
    )
    host_groups = {}
    members: dict[str, list[str]] = {}
    roles: dict[tuple[str, ...], Role] = {}

    def role(groups: list[str]) -> Role:
        # Per distinct set of host groups, not per object: a million objects, a few hundred sets.
        key = tuple(groups)
        found = roles.get(key)
        if found is None:
            found = roles[key] = topo.role(node.name, key)
        return found

    for row in state.hosts:
        host_groups[row["name"]] = row["hostgroups"]
        for group in row["hostgroups"]:
            members.setdefault(group, []).append(row["name"])
        _apply_role(row, role(row["hostgroups"]), obsess, service=False)
    services: list[Row] = []
    for row in state.services:
        if row.get("host"):
            parts = [(row, host_groups.get(row["host"], []))]
        else:
            by_owner: dict[str | None, list[str]] = {}
            for group in row["hostgroups"]:
                by_owner.setdefault(topo.owner((group,)), []).append(group)
            if len(by_owner) < 2:
                parts = [(row, row["hostgroups"])]
            else:
                parts = [
                    ({**row, "hostgroups": groups}, groups)
                    for _, groups in sorted(by_owner.items(), key=lambda item: item[0] or "")
                ]
                # A host in both a masters' group and a poller's gets the service from the
                # poller's part only: left out of the masters' part (Naemon's "!host").
                polled = {
                    host
                    for owner, groups in by_owner.items()
                    if owner
                    for g in groups
                    for host in members.get(g, ())
                }
                for part, groups in parts:
                    if topo.owner(groups) is None:
                        mine = {host for g in groups for host in members.get(g, ())}
                        if polled & mine:
                            part["exclude_hosts"] = sorted(polled & mine)
        for part, groups in parts:
            _apply_role(part, role(groups), obsess, service=True)
            if not part.get("host") and topo.owner(groups) is None and topo.group_owner:
                # The masters' share although a member host may be a poller's: the notify-filter
                # reads the share from its host groups unless told (--share "$_SERVICEPORTAL_SHARE$").
                part["custom_variables"] = {**(part.get("custom_variables") or {}), SHARE_VARIABLE: "*"}
            services.append(part)
    state.services = services


def _apply_role(row: Row, role: Role, obsess: bool, *, service: bool) -> None:
    if role.checks:
        if obsess:
            row["obsess"] = True  # its results go to the other holders (the relay)
    else:
        # A copy: fed with the checker's results, never checking itself, never relaying them on.
        row["active_checks_enabled"] = False
        row["passive_checks_enabled"] = True
        row["obsess"] = False
        if role.stale is not None and service:
            # A dead poller's services turn UNKNOWN here, naming it, instead of staying green.
            poller, seconds = role.stale
            row["check_freshness"] = True
            row["freshness_threshold"] = seconds
            row["check_command"] = STALE_COMMAND
            row["check_command_args"] = [poller, str(seconds)]
    # Notifications stay as the object says on every copy: each holder's core runs Naemon's
    # notification logic (numbers, "was the problem notified", without which a RECOVERY is
    # dropped after a move), and the notify-filter's cluster gate lets out only the notifier's
    # (preferences/notify_filter.py). ``role.notifies`` is what the gate's snapshot says.


@dataclass
class _Ownership:
    """The teams, the hosts' owners and rendered contact lists: what a service's owners add to it."""

    teams: TeamGroups
    host_owners: dict[int, frozenset[int]]
    host_lists: dict[int, tuple[list[str], list[str]]]
    #: The owners' contact groups per distinct (host owners, host groups, service groups).
    found: dict[tuple[frozenset[int], tuple[int, ...], tuple[int, ...]], list[str]] = field(
        default_factory=dict
    )

    def add(self, row: Row, host_id: int | None, hostgroups: list[int], servicegroups: list[int]) -> None:
        """Add the service's owners' groups to ``row`` the way registry/recipients.py says."""
        host_owners = self.host_owners.get(host_id, _NOBODY) if host_id is not None else _NOBODY
        key = (host_owners, tuple(hostgroups), tuple(servicegroups))
        groups = self.found.get(key)
        if groups is None:
            teams = self.teams.service_teams(set(host_owners), hostgroups, servicegroups)
            groups = self.found[key] = self.teams.groups(teams)
        if not groups:
            return  # nobody owns it: its lists stay as they are
        inherited = self.host_lists.get(host_id) if host_id is not None else None
        row["contacts"], row["contact_groups"] = service_lists(
            row["contacts"], row["contact_groups"], groups, inherited
        )


_NOBODY: frozenset[int] = frozenset()


def _load_services(
    node: m.NaemonNode,
    state: State,
    poller: bool,
    host_names: dict[int, str],
    owned: set[int],
    hostgroups: dict[int, str],
    servicegroups: dict[int, str],
    contacts: dict[int, str],
    contactgroups: dict[int, str],
    ownership: _Ownership,
    refs: tuple[dict[int, str], dict[int, str]],
) -> None:
    services = m.Service.objects.all()
    if poller:
        services = services.filter(
            Q(host__in=m.Host.objects.for_node(node).values("pk")) | Q(hostgroups__node=node)
        ).distinct()
    ids = services.values("pk")

    def related(through: Any, right: str) -> dict[int, list[int]]:
        qs = through.objects if not poller else through.objects.filter(service_id__in=ids)
        return _pairs(qs, "service_id", right)

    groups = related(m.Service.hostgroups.through, "hostgroup_id")
    sgroups = related(m.Service.servicegroups.through, "servicegroup_id")
    scontacts = related(m.Service.contacts.through, "contact_id")
    scgroups = related(m.Service.contact_groups.through, "contactgroup_id")
    uses_qs = m.ServiceUse.objects.order_by("service_id", "position", "pk")
    uses = _pairs(uses_qs.filter(service_id__in=ids) if poller else uses_qs, "service_id", "template_id")
    templates = dict(m.ServiceTemplate.objects.values_list("pk", "name"))
    # On a poller only the host groups it owns carry services there (filtered below).
    service_fields = ("pk", "description", "host_id", "notify_owners")
    for row in _rows(services, service_fields, ("is_volatile", *_CHECK_FIELDS), refs):
        pk = row.pop("pk")
        host_id = row.pop("host_id", None)
        host = host_names.get(host_id) if host_id is not None else None
        row["host"] = host
        group_ids = groups.get(pk, _NONE)
        if poller and group_ids:
            group_ids = [g for g in group_ids if g in owned]
        row["hostgroups"] = _names(group_ids, hostgroups)
        if host is None and not row["hostgroups"]:
            continue
        row["use"] = _names(uses.get(pk, _NONE), templates, keep_order=True)
        row["servicegroups"] = _names(sgroups.get(pk, _NONE), servicegroups)
        row["contacts"] = _names(scontacts.get(pk, _NONE), contacts)
        row["contact_groups"] = _names(scgroups.get(pk, _NONE), contactgroups)
        if row.pop("notify_owners"):
            ownership.add(row, host_id, groups.get(pk, _NONE), sgroups.get(pk, _NONE))
        state.services.append(row)


def load_snapshot(node: m.NaemonNode) -> State:
    """load_state in one consistent snapshot of the database.

    The loader reads hosts, their templates, groups and services in separate queries: without
    one snapshot, a write committing in between gives a host without its template (a config
    the core rejects). PostgreSQL: a REPEATABLE READ, READ ONLY transaction; SQLite: any
    transaction reads one snapshot. Inside a caller's transaction, that one is used as it is.
    """
    if connection.in_atomic_block:
        return load_state(node)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return load_state(node)


def render_node(node: m.NaemonNode) -> Rendered:
    """Render the latest registry state for ``node`` (one consistent snapshot of it)."""
    return render_state(load_snapshot(node), node.notify_paths(), node_name=node.name)
