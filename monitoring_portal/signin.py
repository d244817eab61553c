"""Sign-in pages and what OIDC and LDAP sign-in share: applying the group map to a user."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import transaction
from mozilla_django_oidc.views import OIDCLogoutView

from monitoring_portal import roles
from monitoring_portal.groupmap import GroupMap
from monitoring_portal.models import Team

logger = logging.getLogger(__name__)


@transaction.atomic
def apply_group_map(user: Any, group_map: GroupMap, groups: Iterable[str]) -> None:
    """Make the user's roles and mapped team memberships what their groups say.

    Only teams named in the map are touched, so a membership an admin gave by hand stays; roles
    are set only when the map has role entries.
    """
    grants = group_map.grants(groups)
    teams = {team.name: team for team in Team.objects.filter(name__in=group_map.managed_teams)}
    for missing in sorted(group_map.managed_teams - teams.keys()):
        logger.warning("group map names team %r, which does not exist", missing)
    for name, team in teams.items():
        if name in grants.teams:
            team.members.add(user)
        else:
            team.members.remove(user)
    if group_map.manages_roles:
        roles.set_roles(user, grants.roles)


def sso_enabled() -> bool:
    """Whether an OpenID Connect provider is configured (the login page then offers it)."""
    return bool(settings.OIDC_OP_ISSUER)


def sso_only(view: Any) -> Any:
    """Wrap an OIDC view: 404 while single sign-on is not configured (not a 500 from the library)."""
    from functools import wraps

    from django.http import HttpResponseNotFound

    @wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
        if not sso_enabled():
            return HttpResponseNotFound(
                "Single sign-on is not configured on this portal (OIDC_ISSUER).\n", content_type="text/plain"
            )
        return view(request, *args, **kwargs)

    return wrapped


def sso_urlpatterns() -> list[Any]:
    """mozilla-django-oidc's URLs (names kept), each answering 404 while SSO is not configured."""
    from django.urls import URLPattern
    from mozilla_django_oidc import urls as oidc_urls

    return [
        URLPattern(pattern.pattern, sso_only(pattern.callback), pattern.default_args, pattern.name)
        for pattern in oidc_urls.urlpatterns
        if isinstance(pattern, URLPattern)
    ]


def password_form_enabled() -> bool:
    """Whether the login page takes passwords: local ones (LOCAL_LOGIN) or the directory's (LDAP)."""
    return bool(settings.LOCAL_LOGIN or settings.LDAP_SERVER_URI)


class LoginView(auth_views.LoginView):
    """The login page: the password form (local or LDAP passwords) and the SSO button."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = sso_enabled()
        context["password_form"] = password_form_enabled()
        return context

    def post(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not password_form_enabled():
            # No backend takes a password: refuse before any of them (or the lockout) sees one.
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().post(request, *args, **kwargs)


class LogoutView(OIDCLogoutView):
    """Log out here, and at the IdP too when the session came from one that can end sessions."""

    http_method_names = ["post"]
