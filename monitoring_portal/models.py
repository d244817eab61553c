"""Accounts: teams and personal API tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

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
        cls, user: Any, name: str, expires_at: datetime | None = None, *, read_only: bool = False
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
        )
        return token, secret

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def revoke(self) -> None:
        """Revoke now; a revoked token never authenticates again."""
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
