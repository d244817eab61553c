"""The group map shared by OpenID Connect and LDAP sign-in: IdP/directory groups → roles and teams.

Written in the environment as ``group=role:NAME`` or ``group=team:NAME`` entries separated by
commas, e.g. ``OIDC_GROUP_MAP="portal-admins=role:admin,cc-ops=role:operator,team-storage=team:storage"``.
A group may appear in several entries. Django-free, so that the parser is checked on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ROLE = "role"
TEAM = "team"


@dataclass(frozen=True)
class Grants:
    """What a user's groups give them: roles and team names."""

    roles: frozenset[str]
    teams: frozenset[str]


@dataclass(frozen=True)
class GroupMap:
    """Parsed mapping entries as (group, kind, target)."""

    entries: tuple[tuple[str, str, str], ...] = ()

    @property
    def managed_teams(self) -> frozenset[str]:
        """The teams whose membership the map owns: others stay as an admin set them."""
        return frozenset(target for _, kind, target in self.entries if kind == TEAM)

    @property
    def manages_roles(self) -> bool:
        """A map without role entries leaves roles to the admin instead of clearing them."""
        return any(kind == ROLE for _, kind, _ in self.entries)

    def grants(self, groups: Iterable[str]) -> Grants:
        """The roles and teams that ``groups`` give; group names compare exactly."""
        have = set(groups)
        roles = {target for group, kind, target in self.entries if kind == ROLE and group in have}
        teams = {target for group, kind, target in self.entries if kind == TEAM and group in have}
        return Grants(frozenset(roles), frozenset(teams))


def parse(text: str, *, roles: Iterable[str], name: str = "GROUP_MAP") -> GroupMap:
    """Parse ``text``; a malformed entry or an unknown role raises ValueError naming ``name``."""
    known = tuple(roles)
    entries: list[tuple[str, str, str]] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        group, equals, grant = entry.rpartition("=")
        kind, colon, target = grant.partition(":")
        group, kind, target = group.strip(), kind.strip(), target.strip()
        if not equals or not colon or not group or not target:
            raise ValueError(f"{name}: {entry!r} is not GROUP=role:NAME or GROUP=team:NAME")
        if kind not in (ROLE, TEAM):
            raise ValueError(f"{name}: {entry!r}: the kind must be 'role' or 'team', not {kind!r}")
        if kind == ROLE and target not in known:
            raise ValueError(f"{name}: {entry!r}: unknown role {target!r}; known: {', '.join(known)}")
        entries.append((group, kind, target))
    return GroupMap(tuple(entries))
