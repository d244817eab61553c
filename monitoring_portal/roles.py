"""Portal roles: viewer, operator, team member, admin (issue 17).

- **viewer**: reads everything (status, registry, rules' existence) and changes nothing.
  Every signed-in user is at least a viewer: reading is the baseline of a monitoring portal.
- **operator** (the control room): may act on every object (acknowledge, downtime, re-check,
  comment, redeploy a node) but cannot change the registry.
- **team member**: writes and acts on the objects of the user's teams (``Team.members``).
- **admin**: Django's ``is_staff``; everything.

Viewer and operator are stored as Django groups (``portal:viewer``, ``portal:operator``) so
the admin, django-auth-ldap's group mirroring and the OIDC claim mapping all use Django's own
mechanism; admin stays ``is_staff`` so Django's admin keeps working unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
GROUP_PREFIX = "portal:"
# The roles kept as Django groups (admin is is_staff).
GROUP_ROLES = (VIEWER, OPERATOR)


def group_name(role: str) -> str:
    return GROUP_PREFIX + role


def roles_of(user: Any) -> set[str]:
    """The user's explicit roles (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_portal_roles", None)
    if cached is None:
        names = user.groups.filter(name__startswith=GROUP_PREFIX).values_list("name", flat=True)
        cached = {name[len(GROUP_PREFIX) :] for name in names}
        if user.is_staff:
            cached.add(ADMIN)
        user._portal_roles = cached
    return set(cached)


def is_operator(user: Any) -> bool:
    """May act (ack, downtime, re-check, comment, redeploy) on every object."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff or OPERATOR in roles_of(user))


def set_roles(user: Any, roles: Iterable[str]) -> None:
    """Make the user's roles exactly ``roles`` (used by the LDAP and OIDC mappings and the admin).

    Unknown role names raise ValueError: a typo in a mapping must not silently grant nothing.
    """
    from django.contrib.auth.models import Group

    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}; known: {', '.join(ROLES)}")
    for role in GROUP_ROLES:
        group, _ = Group.objects.get_or_create(name=group_name(role))
        if role in wanted:
            user.groups.add(group)
        else:
            user.groups.remove(group)
    is_admin = ADMIN in wanted
    if bool(user.is_staff) != is_admin:
        user.is_staff = is_admin
        user.save(update_fields=["is_staff"])
    if hasattr(user, "_portal_roles"):
        del user._portal_roles
