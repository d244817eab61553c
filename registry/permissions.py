"""Who may change what in the registry (shared by the REST API and the pages).

Everyone logged in may read (the viewer role is the baseline; ``monitoring_portal.roles``).
Staff (admin) may write everything; operators act on everything (``livestatus.actions``) but
write nothing here unless they are also team members. Otherwise:

- hosts: members of the host's team or of one of its host groups' teams;
- services: through their host, or (services on host groups) through those groups' teams;
- host and service groups: members of the group's team (only staff place a group on a poller);
- a contact: the user it belongs to (not its creation or deletion);
- nodes, commands, time periods, templates, contact groups: staff only.

A write is allowed when the caller owns the object before the change (if it existed) and
after it: nobody can create an object for, or hand an object over to, a team they are not in.
Nor can they reach into another team's through memberships: what a host or service joins
(groups, contacts, contact groups) is checked by ``check_memberships_joined``.

An API token narrows its user, never widens: a read-only or actions-only token writes
nothing here, and a host-groups token writes only hosts, services and host groups in its
host groups (and joins no other host group), checked on the object before and after the write.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from monitoring_portal import roles
from monitoring_portal.models import APIToken, Team, TokenScope, token_of
from registry.models import Contact, ContactGroup, Host, HostGroup, Service, ServiceGroup
from registry.relations import ESCALATION_MODELS, RELATION_MODELS, Relation

# Models that team members may create and change (subject to ownership).
TEAM_WRITABLE: tuple[type[models.Model], ...] = (Host, Service, HostGroup, ServiceGroup, *RELATION_MODELS)
# Models that a host-groups token may write (those that live in host groups).
HOSTGROUP_SCOPED: tuple[type[models.Model], ...] = (Host, Service, HostGroup)


def may_read(user: Any) -> bool:
    """May this user read the registry and the status pages (every signed-in user: a viewer)?"""
    return bool(getattr(user, "is_authenticated", False))


def may_redeploy(user: Any) -> bool:
    """May this user ask for a node's config to be deployed again (operators and staff)?"""
    token = token_of(user)
    if token is not None and not token.allows_actions():
        return False
    return roles.is_operator(user)


def scope_hostgroups(obj: models.Model) -> set[str] | None:
    """The host groups an object lives in, for host-groups tokens (None: it lives in none)."""
    if isinstance(obj, Host):
        return {g.name for g in obj.hostgroups.all()}
    if isinstance(obj, Service):
        if obj.host is not None:
            return {g.name for g in obj.host.hostgroups.all()}
        return {g.name for g in obj.hostgroups.all()}
    if isinstance(obj, HostGroup):
        return {obj.name}
    return None


def _token_denial(token: APIToken | None, obj: models.Model | None, model: type[models.Model]) -> str | None:
    """Why the request's token may not write this object (or, ``obj`` None, objects of this kind)."""
    if token is None:
        return None
    if obj is None:
        groups = token.hostgroups if issubclass(model, HOSTGROUP_SCOPED) else None
    else:
        groups = scope_hostgroups(obj)
    if token.allows_registry_write(groups):
        return None
    return f"This token is limited to {token.scope_label}: it may not change this {model._meta.verbose_name}."


def checks_memberships(user: Any) -> bool:
    """Whether a write by this user must check what the object joins (staff with a full token: no)."""
    token = token_of(user)
    return not getattr(user, "is_staff", False) or (token is not None and token.scope != TokenScope.FULL)


def team_ids(user: Any) -> set[int]:
    """Ids of the caller's teams (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_registry_team_ids", None)
    if cached is None:
        cached = set(user.teams.values_list("id", flat=True))
        user._registry_team_ids = cached
    return cached


def owning_team_ids(obj: models.Model) -> set[int]:
    """Ids of the teams that own an object (empty: staff only)."""
    if isinstance(obj, Host):
        return obj.owning_teams()
    if isinstance(obj, Service):
        if obj.host is not None:
            return obj.host.owning_teams()
        return {g.team_id for g in obj.hostgroups.all() if g.team_id}
    if isinstance(obj, HostGroup | ServiceGroup):
        return {obj.team_id} if obj.team_id else set()
    if isinstance(obj, Relation):
        return relation_owners(obj)
    return set()


def relation_owners(obj: Relation) -> set[int]:
    """A dependency or escalation is its dependent object's: that object's owners write it."""
    dependent = obj.dependent()
    return owning_team_ids(dependent) if dependent is not None else set()


def may_change(user: Any, obj: models.Model) -> bool:
    """May this user change or delete this object (as it is now)?"""
    if not getattr(user, "is_authenticated", False):
        return False
    if _token_denial(token_of(user), obj, type(obj)) is not None:
        return False
    if user.is_staff:
        return True
    if isinstance(obj, Contact):
        return obj.user_id is not None and obj.user_id == user.pk
    if not isinstance(obj, TEAM_WRITABLE):
        return False
    return bool(owning_team_ids(obj) & team_ids(user))


def may_create(user: Any, model: type[models.Model]) -> bool:
    """May this user create objects of this kind at all (ownership is checked after the write)?"""
    if not getattr(user, "is_authenticated", False):
        return False
    if _token_denial(token_of(user), None, model) is not None:
        return False
    if user.is_staff:
        return True
    # A viewer or operator in no team could never own what they create: no "Add" for them.
    return issubclass(model, TEAM_WRITABLE) and bool(team_ids(user))


def check_change(user: Any, obj: models.Model) -> None:
    """Raise PermissionDenied unless the user may change the object."""
    if not may_change(user, obj):
        raise PermissionDenied(_denied_message(user, obj))


def check_owner_after_write(user: Any, obj: models.Model) -> None:
    """After a create or change, the caller must still own the object (else it is rolled back)."""
    if may_change(user, obj):
        return
    kind = obj._meta.verbose_name
    scoped = _token_denial(token_of(user), obj, type(obj))
    if scoped is not None:
        raise PermissionDenied(scoped)
    if isinstance(obj, Contact):
        raise PermissionDenied("You may only change your own contact, and not give it to another user.")
    raise PermissionDenied(
        f"After this write the {kind} would not belong to any of your teams; "
        "set its team (or host groups) to one of your teams."
    )


# What a host or service belongs to or notifies, by relation: joining one of these reaches
# another team's objects or people (a group's team co-owns its hosts, notification rules match
# host and service groups, contacts are told), so each is checked when it is joined.
MEMBERSHIPS: dict[type[models.Model], tuple[str, ...]] = {
    Host: ("hostgroups", "contacts", "contact_groups"),
    Service: ("hostgroups", "servicegroups", "contacts", "contact_groups"),
    # An escalation notifies its contacts: the same rule as naming them on the object.
    **{model: ("contacts", "contact_groups") for model in ESCALATION_MODELS},
}

# The same rules for the API's field descriptions (check_memberships_joined enforces them).
MAY_JOIN_HELP = {
    "servicegroups": "Non-staff may add a service only to groups of their own teams.",
    "contacts": "Non-staff may add only themselves, members of their teams, and their teams' contacts.",
    "contact_groups": "Non-staff may add only groups whose members they could add as contacts.",
}

# (object's model, object's pk, relation, related object's pk)
Membership = tuple[type[models.Model], int, str, int]


def memberships(obj: models.Model | None) -> set[Membership]:
    """The memberships of a host (and of its services) or of a service, as stored now."""
    found: set[Membership] = set()
    if isinstance(obj, Host):
        found |= _memberships(Host, {"pk": obj.pk})
        found |= _memberships(Service, {"host_id": obj.pk})
    elif isinstance(obj, Service):
        found |= _memberships(Service, {"pk": obj.pk})
    elif isinstance(obj, ESCALATION_MODELS):
        found |= _memberships(type(obj), {"pk": obj.pk})
    return found


def _memberships(model: type[models.Model], which: dict[str, Any]) -> set[Membership]:
    found: set[Membership] = set()
    for relation in MEMBERSHIPS[model]:
        field: Any = model._meta.get_field(relation)
        rows = field.remote_field.through._default_manager.filter(
            **{f"{field.m2m_field_name()}__{key}": value for key, value in which.items()}
        ).values_list(field.m2m_column_name(), field.m2m_reverse_name())
        found.update((model, owner, relation, target) for owner, target in rows)
    return found


def check_memberships_joined(user: Any, before: set[Membership], obj: models.Model) -> None:
    """Refuse memberships the caller may not add; keeping or removing existing ones is free.

    - a host group: one of the caller's teams' groups, or one without a team (joining a
      group makes its team co-owner of the host);
    - a service group: one the caller may change (their team's; staff's, without a team),
      since other teams' notification rules match on it;
    - a contact: the caller, a member of one of their teams, or a contact of one of their teams;
    - a contact group: one whose members are all such contacts.

    Staff may add anything; a host-groups token only its host groups (whoever its user).
    ``before``: ``memberships()`` of the object before the write.
    """
    if not checks_memberships(user):
        return
    joined = memberships(obj) - before
    token = token_of(user)
    if token is not None and token.scope == TokenScope.HOSTGROUPS:
        groups = {t for _, _, relation, t in joined if relation == "hostgroups"}
        names = set(HostGroup.objects.filter(pk__in=groups).values_list("name", flat=True))
        if names - set(token.hostgroups):
            raise PermissionDenied(
                f"hostgroups: this token may add only to host groups {', '.join(token.hostgroups)}, "
                f"not {', '.join(sorted(names - set(token.hostgroups)))}."
            )
    if getattr(user, "is_staff", False):
        return
    relations = {relation for _, _, relation, _ in joined}
    # One query per relation, however many services a host write brings.
    refused = {r: _refused(user, r, {t for _, _, rel, t in joined if rel == r}) for r in relations}
    # (a service of the written host: its pk, else 0; relation) -> names refused
    found: dict[tuple[int, str], set[str]] = {}
    for model, pk, relation, target in joined:
        if target in refused[relation]:
            service = pk if model is Service and not isinstance(obj, Service) else 0
            found.setdefault((service, relation), set()).add(refused[relation][target])
    if not found:
        return
    descriptions = dict(Service.objects.filter(pk__in={s for s, _ in found}).values_list("pk", "description"))
    problems = []
    for (service, relation), names in sorted(
        found.items(), key=lambda item: (descriptions.get(item[0][0], ""), item[0][1])
    ):
        field = f"services ({descriptions[service]}): {relation}" if service else relation
        problems.append(f"{field}: " + REFUSALS[relation].format(names=", ".join(sorted(names))))
    raise PermissionDenied(" ".join(problems))


REFUSALS = {
    "hostgroups": "Host group(s) {names} belong to another team; only its members or staff may add to them.",
    "servicegroups": "Service group(s) {names} belong to another team (or to none); only the members "
    "of the group's team (staff, for a group without a team) may add services to them.",
    "contacts": "Contact(s) {names} are not you, a member of one of your teams or a contact of one "
    "of your teams; only staff may add them.",
    "contact_groups": "Contact group(s) {names} have members who are not of your teams; only staff "
    "may add them.",
}


def allowed_contacts(user: Any) -> Q:
    """The contacts a team member may name on their objects: themselves, teammates, their teams' contacts."""
    teams = team_ids(user)
    members = Team.members.through.objects.filter(team_id__in=teams).values("user_id")
    return Q(user_id=user.pk) | Q(user_id__in=members) | Q(team_id__in=teams)


def _refused(user: Any, relation: str, targets: set[int]) -> dict[int, str]:
    """Of these, the ones the caller may not join: pk -> name."""
    teams = team_ids(user)
    queryset: models.QuerySet[Any]
    if relation == "hostgroups":
        queryset = HostGroup.objects.filter(team__isnull=False).exclude(team__in=teams)
    elif relation == "servicegroups":
        queryset = ServiceGroup.objects.exclude(team__in=teams)
    elif relation == "contacts":
        queryset = Contact.objects.exclude(allowed_contacts(user))
    elif relation == "contact_groups":
        strangers = Contact.objects.exclude(allowed_contacts(user))
        queryset = ContactGroup.objects.filter(members__in=strangers).distinct()
    else:
        raise ValueError(f"no rule for joining {relation}")
    return dict(queryset.filter(pk__in=targets).values_list("pk", "name"))


def _denied_message(user: Any, obj: models.Model) -> str:
    kind = obj._meta.verbose_name
    scoped = _token_denial(token_of(user), obj, type(obj))
    if scoped is not None:
        return scoped
    if isinstance(obj, TEAM_WRITABLE) and getattr(user, "is_authenticated", False):
        return f"This {kind} is not owned by one of your teams."
    return f"Only staff may change {obj._meta.verbose_name_plural}."


class RegistryPermission(permissions.BasePermission):
    """Read: authenticated. Write: staff, team owners, or (contacts) the contact's own user."""

    message = "You may not change these objects."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        model = _model_of(view)
        scoped = _token_denial(token_of(user), None, model) if model is not None else None
        if scoped is not None:
            self.message = scoped
            return False
        if user.is_staff or model is None:
            return bool(user.is_staff)
        if issubclass(model, TEAM_WRITABLE):
            return True
        # Users may update their own contact (checked per object), not create or delete contacts.
        if issubclass(model, Contact) and request.method in ("PUT", "PATCH"):
            return True
        self.message = f"Only staff may change {model._meta.verbose_name_plural}."
        return False

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        if not may_change(request.user, obj):
            self.message = _denied_message(request.user, obj)
            return False
        return True


def _model_of(view: APIView) -> type[models.Model] | None:
    model = getattr(view, "write_model", None)
    if model is None:
        queryset = getattr(view, "queryset", None)
        model = getattr(queryset, "model", None)
    return model
