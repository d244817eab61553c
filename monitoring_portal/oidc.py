"""OpenID Connect sign-in (mozilla-django-oidc): discovery, users from claims, IdP logout.

Only the issuer is configured: the endpoints come from its discovery document
(``/.well-known/openid-configuration``), fetched when first needed and kept per issuer, so a
provider that moves an endpoint needs no portal change and a password login never waits on it.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import resolve_url
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from monitoring_portal.signin import apply_group_map

DISCOVERY_TIMEOUT_SECONDS = 10
# mozilla-django-oidc's endpoint settings and the discovery field each one comes from.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


@functools.cache
def _discovery(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=DISCOVERY_TIMEOUT_SECONDS)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        # Not cached (functools.cache keeps only returns): the next sign-in tries again.
        raise ImproperlyConfigured(f"OIDC_ISSUER: cannot read {url}: {exc}") from exc
    if document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise ImproperlyConfigured(f"OIDC_ISSUER: {url} names issuer {document.get('issuer')!r}")
    return document


def discovery() -> dict[str, Any]:
    """The configured issuer's discovery document."""
    if not settings.OIDC_OP_ISSUER:
        raise ImproperlyConfigured("OIDC_ISSUER is not set")
    return _discovery(settings.OIDC_OP_ISSUER)


def oidc_setting(attr: str, *default: Any) -> Any:
    """A mozilla-django-oidc setting; endpoints not set explicitly come from discovery."""
    if attr in _DISCOVERED and not getattr(settings, attr, None):
        return discovery()[_DISCOVERED[attr]]
    return import_from_settings(attr, *default)


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """Users from ID-token/userinfo claims; roles and teams from the groups claim."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The base class reads every endpoint here; Django builds every backend for each password
        # login too, so the endpoints are read lazily (the properties below) instead.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return str(oidc_setting("OIDC_OP_TOKEN_ENDPOINT"))

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return str(oidc_setting("OIDC_OP_USER_ENDPOINT"))

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return str(oidc_setting("OIDC_OP_JWKS_ENDPOINT"))

    def get_username(self, claims: dict[str, Any]) -> str:
        return str(claims.get(settings.OIDC_USERNAME_CLAIM) or "")

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        # A user name is what the portal keys people on; without one nobody can be matched.
        return bool(self.get_username(claims))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        # By user name, not by e-mail (the library's default): two people may share a mailbox,
        # and a changed address must not make a second account.
        return self.UserModel.objects.filter(username=self.get_username(claims))

    def create_user(self, claims: dict[str, Any]) -> Any:
        user = self.UserModel.objects.create_user(self.get_username(claims))
        return self.update_user(user, claims)

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        name = str(claims.get("name") or "")
        first, _, last = name.partition(" ")
        user.first_name = str(claims.get("given_name") or first)[:150]
        user.last_name = str(claims.get("family_name") or last)[:150]
        user.email = str(claims.get("email") or "")
        user.save(update_fields=["first_name", "last_name", "email"])
        groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        apply_group_map(user, settings.OIDC_GROUP_MAP, [str(group) for group in groups])
        return user


class PortalOIDCAuthenticationRequestView(OIDCAuthenticationRequestView):
    """The redirect to the IdP, with its authorization endpoint from discovery."""

    get_settings = staticmethod(oidc_setting)


def end_session_url(request: Any) -> str:
    """Where logout sends the browser: the IdP's end_session_endpoint when it has one."""
    after = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    if not id_token or not settings.OIDC_OP_ISSUER:
        return after  # a password session: nothing to end elsewhere
    endpoint = discovery().get("end_session_endpoint")
    if not endpoint:
        return after
    query = {
        "id_token_hint": id_token,
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(after),
    }
    return f"{endpoint}?{urlencode(query)}"
