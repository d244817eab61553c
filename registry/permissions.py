"""Who may change what in the registry (shared by the REST API and the pages).

Everyone logged in may read. Staff may write everything. Otherwise:

- hosts: members of the host's team or of one of its host groups' teams;
- services: through their host, or (services on host groups) through those groups' teams;
- host and service groups: members of the group's team (only staff place a group on a poller);
- a contact: the user it belongs to (not its creation or deletion);
- nodes, commands, time periods, templates, contact groups: staff only.

A write is allowed when the caller owns the object before the change (if it existed) and
after it: nobody can create an object for, or hand an object over to, a team they are not in.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from registry.models import Contact, Host, HostGroup, Service, ServiceGroup

# Models that team members may create and change (subject to ownership).
TEAM_WRITABLE: tuple[type[models.Model], ...] = (Host, Service, HostGroup, ServiceGroup)


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
    return set()


def may_change(user: Any, obj: models.Model) -> bool:
    """May this user change or delete this object (as it is now)?"""
    if not getattr(user, "is_authenticated", False):
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
    return bool(user.is_staff or issubclass(model, TEAM_WRITABLE))


def check_change(user: Any, obj: models.Model) -> None:
    """Raise PermissionDenied unless the user may change the object."""
    if not may_change(user, obj):
        raise PermissionDenied(_denied_message(user, obj))


def check_owner_after_write(user: Any, obj: models.Model) -> None:
    """After a create or change, the caller must still own the object (else it is rolled back)."""
    if may_change(user, obj):
        return
    kind = obj._meta.verbose_name
    if isinstance(obj, Contact):
        raise PermissionDenied("You may only change your own contact, and not give it to another user.")
    raise PermissionDenied(
        f"After this write the {kind} would not belong to any of your teams; "
        "set its team (or host groups) to one of your teams."
    )


def hostgroup_ids(obj: models.Model | None) -> set[int]:
    """Host groups of a host or a host-group service (they confer ownership)."""
    if isinstance(obj, Host | Service):
        return set(obj.hostgroups.values_list("pk", flat=True))
    return set()


def check_groups_joined(user: Any, before: set[int], obj: models.Model) -> None:
    """Joining a host group makes its team co-owner: only into groups of one's own teams (or none).

    Without this, anyone could put their host into another team's group and thereby
    change what that team's pollers monitor and what its members are notified about.
    """
    if getattr(user, "is_staff", False):
        return
    joined = hostgroup_ids(obj) - before
    if not joined:
        return
    foreign = HostGroup.objects.filter(pk__in=joined, team__isnull=False).exclude(team__in=team_ids(user))
    names = sorted(foreign.values_list("name", flat=True))
    if names:
        raise PermissionDenied(
            f"Host group(s) {', '.join(names)} belong to another team; only its members or staff may add to them."
        )


def _denied_message(user: Any, obj: models.Model) -> str:
    kind = obj._meta.verbose_name
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
