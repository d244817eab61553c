"""LDAP sign-in (django-auth-ldap): bind, user search, group search, the shared group map.

django-auth-ldap wants ``AUTH_LDAP_*`` settings holding python-ldap objects; the portal's
settings stay plain environment values (``LDAP_*``) and this module builds the library's
configuration from them, so python-ldap is only touched where LDAP is used.
"""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth import get_user_model
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import GroupOfNamesType, LDAPSearch, LDAPSettings, PosixGroupType

from monitoring_portal.signin import apply_group_map

logger = logging.getLogger(__name__)

POSIX_GROUP = "posixGroup"
GROUP_OF_NAMES = "groupOfNames"
GROUP_TYPES = (POSIX_GROUP, GROUP_OF_NAMES)


def library_settings() -> dict[str, Any]:
    """django-auth-ldap's settings, from the portal's LDAP_* settings."""
    group_class = settings.LDAP_GROUP_TYPE
    group_type = PosixGroupType() if group_class == POSIX_GROUP else GroupOfNamesType()
    options: dict[Any, Any] = {ldap.OPT_NETWORK_TIMEOUT: settings.LDAP_TIMEOUT_SECONDS}
    return {
        "SERVER_URI": settings.LDAP_SERVER_URI,
        "START_TLS": settings.LDAP_START_TLS,
        "CONNECTION_OPTIONS": options,
        "BIND_DN": settings.LDAP_BIND_DN,
        "BIND_PASSWORD": settings.LDAP_BIND_PASSWORD,
        "USER_SEARCH": LDAPSearch(settings.LDAP_USER_BASE, ldap.SCOPE_SUBTREE, settings.LDAP_USER_FILTER),
        "USER_ATTR_MAP": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
        "GROUP_SEARCH": LDAPSearch(
            settings.LDAP_GROUP_BASE, ldap.SCOPE_SUBTREE, f"(objectClass={group_class})"
        ),
        "GROUP_TYPE": group_type,
        # Django's own permissions are not given by directory groups: the group map decides.
        "FIND_GROUP_PERMS": False,
        "ALWAYS_UPDATE_USER": True,
    }


class PortalLDAPBackend(LDAPBackend):
    """Users mirrored from the directory on each login; roles and teams from the group map."""

    _settings: Any = None

    @property
    def settings(self) -> Any:
        if self._settings is None:
            self._settings = LDAPSettings(self.settings_prefix, library_settings())
        return self._settings

    @settings.setter
    def settings(self, value: Any) -> None:
        self._settings = value

    def authenticate_ldap_user(self, ldap_user: Any, password: str) -> Any:
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None:
            apply_group_map(user, settings.LDAP_GROUP_MAP, ldap_user.group_names)
        return user

    def sync_user(self, username: str) -> bool:
        """Mirror one user from the directory without a login; False when it has no such user."""
        user = self.populate_user(username)
        if user is None:
            return False
        apply_group_map(user, settings.LDAP_GROUP_MAP, user.ldap_user.group_names)
        return True


def sync_directory_users() -> int:
    """Mirror every portal user the directory knows (names, roles, teams); returns their count.

    Users the directory does not know (local break-glass accounts, OIDC users) are left alone.
    """
    backend = PortalLDAPBackend()
    synced = 0
    for username in get_user_model().objects.filter(is_active=True).values_list("username", flat=True):
        if backend.sync_user(username):
            synced += 1
    logger.info("LDAP sync mirrored %d user(s)", synced)
    return synced
