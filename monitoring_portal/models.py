"""Accounts: teams and personal API tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "mpt_"  # noqa: S105 - a public marker so leaked tokens are recognisable


class Team(models.Model):
    """A group of engineers that owns monitored objects (through host groups)."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TokenScope(models.TextChoices):
    """What a token may change, within what its user may (a scope never adds a right)."""

    FULL = "full", _("everything its user may do")
    ACTIONS = "actions", _("operator actions only")
    HOSTGROUPS = "hostgroups", _("registry writes in given host groups only")


#: The most host groups one token may name (a longer list is a sign of the wrong tool: use a team).
MAX_TOKEN_HOSTGROUPS = 50


def scope_problem(read_only: bool, scope: str, hostgroups: list[str]) -> tuple[str, str] | None:
    """(field, message) if these token settings do not fit together, else None (form and API)."""
    if scope not in TokenScope.values:
        return "scope", f"Unknown scope {scope!r}; choose one of {', '.join(TokenScope.values)}."
    if read_only and scope != TokenScope.FULL:
        return "scope", "A read-only token changes nothing: leave its scope at full."
    if scope == TokenScope.HOSTGROUPS and not hostgroups:
        return "hostgroups", "A host-groups token needs at least one host group."
    if scope != TokenScope.HOSTGROUPS and hostgroups:
        return "hostgroups", "Host groups apply only to a token with scope hostgroups."
    if len(hostgroups) > MAX_TOKEN_HOSTGROUPS:
        return "hostgroups", f"At most {MAX_TOKEN_HOSTGROUPS} host groups per token."
    return None


def token_of(user: Any) -> APIToken | None:
    """The API token this request's user authenticated with (None: a session, or no token)."""
    return getattr(user, "_portal_token", None)


class APITokenQuerySet(models.QuerySet["APIToken"]):
    def active(self) -> APITokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class APIToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'ansible on bastion1'.")
    # The first characters, so a user can tell tokens apart in lists and logs.
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    read_only = models.BooleanField(
        default=False,
        help_text="Only safe methods (GET, HEAD, OPTIONS): for inventories, dashboards and read-only scripts.",
    )

    scope = models.CharField(
        max_length=16,
        choices=TokenScope.choices,
        default=TokenScope.FULL,
        help_text="actions: only operator actions (acknowledge, downtime, re-check, comment) besides reads; "
        "hostgroups: only registry writes of hosts, services and host groups in `hostgroups`.",
    )
    hostgroups = models.JSONField(
        default=list,
        blank=True,
        help_text="With scope hostgroups: the names of the host groups whose hosts and services it may write.",
    )

    objects = APITokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @staticmethod
    def hash(secret: str) -> str:
        """Tokens are 256-bit random, so a plain SHA-256 is enough (no slow KDF needed)."""
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()

    @classmethod
    def issue(
        cls,
        user: Any,
        name: str,
        expires_at: datetime | None = None,
        *,
        read_only: bool = False,
        scope: str = TokenScope.FULL,
        hostgroups: Iterable[str] = (),
    ) -> tuple[APIToken, str]:
        """Create a token and return it with its secret (the only time the secret exists)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            digest=cls.hash(secret),
            expires_at=expires_at,
            read_only=read_only,
            scope=scope,
            hostgroups=sorted(set(hostgroups)),
        )
        return token, secret

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def scope_label(self) -> str:
        """What the token may change, as the profile page shows it."""
        if self.read_only:
            return "read-only"
        if self.scope == TokenScope.HOSTGROUPS:
            return "registry writes in " + ", ".join(self.hostgroups)
        if self.scope == TokenScope.ACTIONS:
            return "actions only"
        return "read-write"

    def allows_actions(self) -> bool:
        """May this token send operator actions (its user's rights permitting)?"""
        return not self.read_only and self.scope in (TokenScope.FULL, TokenScope.ACTIONS)

    def allows_registry_write(self, hostgroups: Iterable[str] | None) -> bool:
        """May this token write a registry object in these host groups (None: an object outside any)?"""
        if self.read_only or self.scope == TokenScope.ACTIONS:
            return False
        if self.scope == TokenScope.FULL:
            return True
        return hostgroups is not None and bool(set(hostgroups) & set(self.hostgroups))

    def revoke(self) -> None:
        """Revoke now; a revoked token never authenticates again."""
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
