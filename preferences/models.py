"""Notification preferences: per user a profile (default, time zone) and an ordered list of rules.

The rules are plain data for ``preferences.engine``: ``validate_rule`` decides what is
valid (``clean()`` and the API serializer both call it), ``as_rule()`` hands a row to the
engine. Any change is published to the Naemon nodes' snapshots after the transaction
commits (the receivers in ``preferences.signals``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from preferences import engine

RULE_LIST_FIELDS = ("hosts", "hostgroups", "services", "servicegroups", "states", "types", "channels", "days")
RULE_FIELDS = ("enabled", "action", "comment", *RULE_LIST_FIELDS, "start", "end")


class Action(models.TextChoices):
    NOTIFY = "notify", "notify"
    SUPPRESS = "suppress", "suppress"


def _rule_error(exc: engine.RuleError) -> ValidationError:
    return ValidationError({exc.field: [exc.message]})


def default_timezone() -> str:
    """The site's time zone: where a user who never chose one most likely is."""
    return str(settings.TIME_ZONE or "UTC")


class NotificationProfile(models.Model):
    """A user's default (when no rule matches) and the time zone their rules' time windows use."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_profile"
    )
    default = models.CharField(
        max_length=8,
        choices=Action.choices,
        default=Action.NOTIFY,
        help_text="What happens when no rule matches: notify (Naemon's behaviour) or suppress.",
    )
    timezone = models.CharField(
        max_length=64,
        default=default_timezone,
        help_text="IANA time zone of the rules' time windows, e.g. Europe/Paris.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "notification profile"

    def __str__(self) -> str:
        return f"notification profile of {self.user}"

    def clean(self) -> None:
        try:
            engine.validate_timezone(self.timezone)
        except engine.RuleError as exc:
            raise _rule_error(exc) from None


class NotificationRuleQuerySet(models.QuerySet["NotificationRule"]):
    def in_order(self) -> NotificationRuleQuerySet:
        """First match wins: the order the engine tries the rules in."""
        return self.order_by("user_id", "position", "pk")


class NotificationRule(models.Model):
    """One rule of a user's ordered list: criteria (empty = any) and notify or suppress."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    position = models.PositiveIntegerField(
        default=0, help_text="Lower first; the first matching rule decides."
    )
    enabled = models.BooleanField(default=True)
    comment = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    hosts = models.JSONField(default=list, blank=True, help_text="Host names or globs (web-*).")
    hostgroups = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True, help_text="Service descriptions or globs.")
    servicegroups = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True, help_text="Host and/or service states.")
    types = models.JSONField(default=list, blank=True, help_text="Notification types (PROBLEM, RECOVERY, …).")
    channels = models.JSONField(
        default=list, blank=True, help_text="Channels of notification commands (email, sms)."
    )
    days = models.JSONField(default=list, blank=True, help_text="mon … sun; empty: every day.")
    start = models.CharField(max_length=5, default="00:00", help_text="HH:MM in the user's time zone.")
    end = models.CharField(max_length=5, default="24:00", help_text="HH:MM; 24:00 = end of day.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = NotificationRuleQuerySet.as_manager()

    class Meta:
        ordering = ["user_id", "position", "pk"]
        indexes = [models.Index(fields=["user", "position"])]

    def __str__(self) -> str:
        return f"rule {self.pk} of {self.user}: {self.action}{f' ({self.comment})' if self.comment else ''}"

    def as_rule(self) -> dict[str, Any]:
        """The rule as the engine takes it (``id`` = primary key)."""
        return {"id": self.pk, **{field: getattr(self, field) for field in RULE_FIELDS}}

    def clean(self) -> None:
        """Validate with the engine and store its normalised form (upper-case states, …)."""
        try:
            normal = engine.validate_rule({field: getattr(self, field) for field in RULE_FIELDS})
        except engine.RuleError as exc:
            raise _rule_error(exc) from None
        for field in RULE_FIELDS:
            setattr(self, field, normal[field])  # type: ignore[literal-required]
