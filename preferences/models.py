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
from django.utils.translation import gettext_lazy as _

from preferences import engine, rulebook

RULE_LIST_FIELDS = ("hosts", "hostgroups", "services", "servicegroups", "states", "types", "channels", "days")
RULE_FIELDS = ("enabled", "action", "comment", *RULE_LIST_FIELDS, "start", "end")


class Action(models.TextChoices):
    NOTIFY = "notify", _("notify")
    SUPPRESS = "suppress", _("suppress")


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
            rulebook.validate_timezone(self.timezone)
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
    # PROTECT: deleting the team must not silently turn "only while on call" into "always".
    oncall_team = models.ForeignKey(
        "monitoring_portal.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Only while I am on call for this team (or its fallback while nobody is).",
    )
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
        rule = {"id": self.pk, **{field: getattr(self, field) for field in RULE_FIELDS}}
        if self.oncall_team_id is not None:
            rule["oncall_team"] = self.oncall_team.name  # type: ignore[union-attr]
        return rule

    def clean(self) -> None:
        """Validate with the engine and store its normalised form (upper-case states, …)."""
        try:
            normal = rulebook.validate_rule({field: getattr(self, field) for field in RULE_FIELDS})
        except engine.RuleError as exc:
            raise _rule_error(exc) from None
        for field in RULE_FIELDS:
            setattr(self, field, normal[field])  # type: ignore[literal-required]


class NotificationDecision(models.Model):
    """One decision of a node's notify-filter, kept ``NOTIFICATION_HISTORY_DAYS`` (the history page).

    Collected from the node's decision log with the Redis counters (``preferences.history``);
    ``digest`` (the node and the line's bytes) makes collecting a line twice store it once.
    ``rule_id`` is the deciding rule's primary key as the filter logged it, not a foreign key:
    the rule may be edited or deleted later, the history keeps what decided and its comment
    then. ``explanation``: ``preferences.history.explain_record``.
    """

    time = models.DateTimeField(db_index=True)
    node = models.ForeignKey("registry.NaemonNode", null=True, on_delete=models.SET_NULL, related_name="+")
    node_name = models.CharField(max_length=200, blank=True)
    contact = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notification_decisions",
    )
    host = models.CharField(max_length=255)
    service = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=32, blank=True)
    type = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=100, blank=True)
    decision = models.CharField(max_length=8, choices=Action.choices)
    rule_id = models.PositiveIntegerField(null=True, blank=True)
    rule_comment = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    notification_id = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-time", "-pk"]
        indexes = [
            models.Index(fields=["user", "-time"], name="prefs_decision_user_time"),
            models.Index(fields=["host", "service", "-time"], name="prefs_decision_object_time"),
            models.Index(fields=["contact", "-time"], name="prefs_decision_contact_time"),
        ]

    def __str__(self) -> str:
        target = f"{self.host}/{self.service}" if self.service else self.host
        return f"{self.decision} {self.type} {target} to {self.contact} at {self.time:%Y-%m-%d %H:%M:%S}"


class SilenceQuerySet(models.QuerySet["Silence"]):
    def active(self, at: Any = None) -> SilenceQuerySet:
        """Silences in force at ``at`` (default now): not ended early, not yet over."""
        from django.utils import timezone

        now = at or timezone.now()
        return self.filter(ends_at__gt=now, created_at__lte=now).filter(
            models.Q(ended_at__isnull=True) | models.Q(ended_at__gt=now)
        )


class Silence(models.Model):
    """A personal silence: mute what the matchers match until ``ends_at`` (or ``ended_at``, if ended early).

    The matchers are a rule's object criteria (``engine.SILENCE_FIELDS``), validated by the
    same engine. Compiled into the user's snapshot entry with its end as epoch seconds, so it
    ends on the nodes at ``ends_at`` whether or not the portal is running.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="silences")
    hosts = models.JSONField(default=list, blank=True)
    hostgroups = models.JSONField(default=list, blank=True)
    services = models.JSONField(default=list, blank=True)
    servicegroups = models.JSONField(default=list, blank=True)
    states = models.JSONField(default=list, blank=True)
    types = models.JSONField(default=list, blank=True)
    channels = models.JSONField(default=list, blank=True)
    comment = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Set when ended early.")

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "ends_at"], name="prefs_silence_user_ends")]

    def __str__(self) -> str:
        return f"silence {self.pk} of {self.user} until {self.ends_at:%Y-%m-%d %H:%M}"

    @property
    def effective_end(self) -> Any:
        """When it stops muting: its end, or earlier if ended early."""
        return min(self.ends_at, self.ended_at) if self.ended_at is not None else self.ends_at

    def matchers(self) -> dict[str, list[str]]:
        return {field: list(getattr(self, field)) for field in engine.SILENCE_FIELDS}

    def as_silence(self) -> dict[str, Any]:
        """The silence as ``rulebook.compile_silence`` takes it."""
        return {
            "id": self.pk,
            "comment": self.comment,
            "start": self.created_at.timestamp(),
            "until": self.effective_end.timestamp(),
            **self.matchers(),
        }


class Period(models.TextChoices):
    DAILY = "daily", "daily"
    WEEKLY = "weekly", "weekly"


class Rotation(models.Model):
    """A team's on-call rotation: members in order, one shift per day or week, changing at ``handoff``.

    Compiled into the snapshot entries of the contacts whose rules name the team
    (``NotificationRule.oncall_team``): the engine works out on the node who is on call
    (``engine.on_call``). While nobody is (no members, before ``start``, an override to
    nobody), the ``fallback`` user's "while I am on call" rules match instead.
    """

    team = models.OneToOneField("monitoring_portal.Team", on_delete=models.CASCADE, related_name="rotation")
    members = models.JSONField(default=list, blank=True, help_text="User names, in rotation order.")
    start = models.DateField(help_text="Local date of the first shift (the first member's).")
    handoff = models.CharField(max_length=5, default="09:00", help_text="HH:MM local time of each hand-off.")
    timezone = models.CharField(max_length=64, default=default_timezone)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.WEEKLY)
    fallback = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"on-call rotation of {self.team}"

    def as_rotation(self, overrides: list[RotationOverride] | None = None) -> dict[str, Any]:
        """The rotation as ``rulebook.compile_rotation`` takes it."""
        rows = self.overrides.select_related("user").all() if overrides is None else overrides
        return {
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "handoff": self.handoff,
            "period": self.period,
            "members": list(self.members),
            "fallback": self.fallback.get_username() if self.fallback is not None else "",
            "overrides": [
                [o.starts_at.timestamp(), o.ends_at.timestamp(), o.user.get_username() if o.user else ""]
                for o in rows
            ],
        }


class RotationOverride(models.Model):
    """For a period, ``user`` (or nobody, if empty) is on call instead of the schedule; newest first wins."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"override of {self.rotation.team}: {self.user or 'nobody'} {self.starts_at} to {self.ends_at}"


class HandOverQuerySet(models.QuerySet["HandOver"]):
    def not_over(self, at: Any = None) -> HandOverQuerySet:
        """Hand-overs in force at ``at`` (default now) or still to come: not ended early, not yet over."""
        from django.utils import timezone

        now = at or timezone.now()
        return self.filter(ends_at__gt=now).filter(
            models.Q(ended_at__isnull=True) | models.Q(ended_at__gt=now)
        )


class HandOver(models.Model):
    """From ``starts_at`` to ``ends_at`` (or ``ended_at``, if ended early), ``colleague`` gets what ``user`` would.

    Saved through ``preferences.handovers``, which keeps the registry's ``ContactDelegate``
    (``delegate``) in step: the registry renders the colleague's contact ``bob--for--alice``
    wherever the user's contact is one, and the snapshot decides in time on the node.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="handovers")
    colleague = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="handovers_to_me"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Set when ended early.")
    comment = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delegate = models.OneToOneField(
        "registry.ContactDelegate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = HandOverQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["user", "ends_at"], name="prefs_handover_user_ends")]

    def __str__(self) -> str:
        return f"hand-over {self.pk} of {self.user} to {self.colleague} from {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def effective_end(self) -> Any:
        """When it stops: its end, or earlier if ended early (never before its start)."""
        if self.ended_at is None:
            return self.ends_at
        return max(min(self.ends_at, self.ended_at), self.starts_at)
