"""DRF authentication with personal API tokens: ``Authorization: Bearer <token>``.

Read-only tokens are enforced here, not in a permission class: every API view authenticates
through this class, while a view that sets its own ``permission_classes`` (several do) would
silently drop a default permission. Refusing an unsafe method at authentication cannot be
forgotten by a new view.

Scoped tokens (``TokenScope``) are gated here the same way: an unsafe method with one is
refused unless the view lists the scope in its ``token_scopes``, so a new write endpoint is
closed to them until someone decides otherwise. Where a view does list it, the permission
functions (``registry.permissions``, ``livestatus.actions``) check the object against the
scope, through ``token_of(user)``: the token rides on the user object for the request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from monitoring_portal.models import APIToken, TokenScope

# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Looks the token up by its SHA-256; revoked, expired and unknown tokens get 401."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, APIToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        try:
            token = APIToken.objects.select_related("user").get(digest=APIToken.hash(secret))
        except APIToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.is_active:
            raise exceptions.AuthenticationFailed("Token revoked or expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        if token.read_only and request.method not in permissions.SAFE_METHODS:
            # 403, not 401: the credentials are valid, they just do not allow writes.
            raise exceptions.PermissionDenied(
                f"This token is read-only: {request.method} is not allowed with it."
            )
        if token.scope != TokenScope.FULL and request.method not in permissions.SAFE_METHODS:
            context = getattr(request, "parser_context", None) or {}
            if token.scope not in getattr(context.get("view"), "token_scopes", ()):
                raise exceptions.PermissionDenied(
                    f"This token is limited to {token.scope_label}: {request.method} is not allowed here with it."
                )
        token.user._portal_token = token  # type: ignore[attr-defined]  # read by token_of()
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_GRANULARITY:
            APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer token in the OpenAPI schema."""

    target_class = "monitoring_portal.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Personal API token from your profile page.",
        }
