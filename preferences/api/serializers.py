"""Serializers of the preferences API; rules are validated by the rule engine itself."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone as django_timezone
from rest_framework import serializers

from monitoring_portal.rest import StrictTypesMixin
from preferences import engine
from preferences.models import RULE_FIELDS, NotificationProfile, NotificationRule
from preferences.preview import ChannelDecision, ContactDecisions, Preview, WhoAnswer


def _names(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), required=False, help_text=help_text)


def _choices(values: tuple[str, ...], help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=list(values)), required=False, help_text=help_text
    )


class NotificationRuleSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """One rule. Empty lists match anything; the first enabled matching rule decides."""

    user = serializers.SlugRelatedField(slug_field="username", read_only=True)  # type: ignore[var-annotated]
    hosts = _names("Host names or globs (web-*).")
    hostgroups = _names("Host group names or globs.")
    services = _names("Service descriptions or globs; only service notifications match.")
    servicegroups = _names("Service group names or globs; only service notifications match.")
    states = _choices(engine.STATES, "Host and/or service states.")
    types = _choices(engine.NOTIFICATION_TYPES, "Notification types.")
    channels = _names("Channels of notification commands (email, sms, …).")
    days = _choices(engine.WEEKDAYS, "Days the time window starts on; empty: every day.")
    start = serializers.CharField(required=False, help_text="HH:MM in the user's time zone (default 00:00).")
    end = serializers.CharField(
        required=False, help_text="HH:MM; 24:00 is the end of the day (default 24:00)."
    )

    class Meta:
        model = NotificationRule
        fields = [
            "id",
            "user",
            "position",
            "enabled",
            "action",
            "comment",
            "hosts",
            "hostgroups",
            "services",
            "servicegroups",
            "states",
            "types",
            "channels",
            "days",
            "start",
            "end",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["position", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = {f: getattr(self.instance, f) for f in RULE_FIELDS} if self.instance is not None else {}
        data.update({f: attrs[f] for f in RULE_FIELDS if f in attrs})
        try:
            normal = engine.validate_rule(data)
        except engine.RuleError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return {**attrs, **{f: normal[f] for f in RULE_FIELDS}}  # type: ignore[literal-required]


class ReorderSerializer(StrictTypesMixin, serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), allow_empty=True, help_text="All your rule ids, in the new order."
    )


class NotificationProfileSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """Your default (when no rule matches) and the time zone of your rules' time windows."""

    user = serializers.CharField(source="user.username", read_only=True)
    # A plain string in the schema: an enum would repeat the rules' ActionEnum under another name.
    default = serializers.CharField(
        required=False,
        help_text="notify (Naemon's behaviour) or suppress: what happens when no rule matches.",
    )
    # A user who never saved a profile reads the defaults, which were never stored.
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="null until first saved."
    )

    class Meta:
        model = NotificationProfile
        fields = ["user", "default", "timezone", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate_default(self, value: str) -> str:
        if value not in engine.ACTIONS:
            raise serializers.ValidationError(f"Expected one of {', '.join(engine.ACTIONS)}.")
        return value

    def validate_timezone(self, value: str) -> str:
        try:
            return engine.validate_timezone(value)
        except engine.RuleError as exc:
            raise serializers.ValidationError(exc.message) from None


def _state(value: str, allowed: tuple[str, ...], what: str) -> str:
    state = value.strip().upper()
    if state not in allowed:
        raise serializers.ValidationError({"state": [f"{what}: expected one of {', '.join(allowed)}."]})
    return state


class NotificationQuerySerializer(serializers.Serializer):
    """A notification to evaluate: a host notification without ``service``, else a service one."""

    host = serializers.CharField(max_length=255)
    service = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    state = serializers.CharField(
        help_text="Host state (UP, DOWN, UNREACHABLE) or service state (OK, WARNING, …)."
    )
    type = serializers.CharField(
        default="PROBLEM", help_text="Notification type: " + ", ".join(engine.NOTIFICATION_TYPES)
    )
    time = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; default now.")

    def validate_type(self, value: str) -> str:
        kind = value.strip().upper()
        if kind not in engine.NOTIFICATION_TYPES:
            raise serializers.ValidationError(f"Expected one of {', '.join(engine.NOTIFICATION_TYPES)}.")
        return kind

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("service"):
            attrs["state"] = _state(attrs["state"], engine.SERVICE_STATES, "a service notification's state")
        else:
            attrs["service"] = None
            attrs["state"] = _state(attrs["state"], engine.HOST_STATES, "a host notification's state")
        if attrs.get("time") is not None and django_timezone.is_naive(attrs["time"]):
            attrs["time"] = django_timezone.make_aware(attrs["time"])
        return attrs


# A body (JSON types checked); its parent reads query strings, where every value is text.
class PreviewRequestSerializer(StrictTypesMixin, NotificationQuerySerializer):
    """``POST test/``: what would your (or, for staff, ``user``'s) rules do with this notification?"""

    channel = serializers.CharField(
        max_length=32, help_text="The channel of the notification command (email, sms)."
    )
    hostgroups = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The notification's host groups; default: the host's groups in the registry.",
    )
    servicegroups = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The notification's service groups; default: the service's groups in the registry.",
    )
    user = serializers.CharField(required=False, help_text="Staff only: whose rules to evaluate (username).")


class RuleRefSerializer(serializers.Serializer):
    """The rule that decided (null: the user's default)."""

    id = serializers.IntegerField()
    position = serializers.IntegerField()
    comment = serializers.CharField(
        help_text="The owner's comment; empty in who-would-be-notified answers for anyone but its owner and staff."
    )
    action = serializers.CharField()


def rule_ref(
    rule: NotificationRule | None, viewer: User | AnonymousUser | None = None
) -> dict[str, Any] | None:
    """The rule's reference; with a ``viewer``, its comment only if the viewer owns it or is staff.

    A comment is the owner's note ("on holiday until the 12th"): not for everyone who
    asks who would be notified.
    """
    if rule is None:
        return None
    shown = viewer is None or viewer.is_staff or (viewer.is_authenticated and rule.user_id == viewer.pk)
    comment = rule.comment if shown else ""
    return {"id": rule.pk, "position": rule.position, "comment": comment, "action": rule.action}


class PreviewSerializer(serializers.Serializer):
    """The engine's answer, as the notify-filter would give it."""

    decision = serializers.CharField(help_text="notify or suppress.")
    notify = serializers.BooleanField()
    rule = RuleRefSerializer(allow_null=True)
    reason = serializers.CharField()
    note = serializers.CharField(help_text="What else decides (RECOVERY only after a sent PROBLEM).")
    contact = serializers.CharField(help_text="The Naemon contact name used (else the username).")
    timezone = serializers.CharField()
    host_known = serializers.BooleanField(help_text="Whether the host is in the registry.")
    host = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    hostgroups = serializers.ListField(child=serializers.CharField())
    servicegroups = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()
    type = serializers.CharField()
    channel = serializers.CharField()
    time = serializers.DateTimeField()

    @staticmethod
    def of(result: Preview) -> dict[str, Any]:
        n = result.notification
        return {
            "decision": "notify" if result.decision.notify else "suppress",
            "notify": result.decision.notify,
            "rule": rule_ref(result.rule),
            "reason": result.decision.reason,
            "note": result.note,
            "contact": result.contact,
            "timezone": result.timezone,
            "host_known": result.host_known,
            "host": n.host,
            "service": n.service,
            "hostgroups": list(n.hostgroups),
            "servicegroups": list(n.servicegroups),
            "state": n.state,
            "type": n.type,
            "channel": n.channel,
            "time": n.time,
        }


class ChannelDecisionSerializer(serializers.Serializer):
    channel = serializers.CharField(help_text="Empty: a command without channel (not filtered).")
    command = serializers.CharField()
    decision = serializers.CharField(help_text="notify or suppress.")
    rule = RuleRefSerializer(allow_null=True)
    reason = serializers.CharField()

    @staticmethod
    def of(item: ChannelDecision, viewer: User | AnonymousUser) -> dict[str, Any]:
        return {
            "channel": item.channel,
            "command": item.command,
            "decision": "notify" if item.notify else "suppress",
            "rule": rule_ref(item.rule, viewer),
            "reason": item.reason,
        }


class ContactDecisionsSerializer(serializers.Serializer):
    contact = serializers.CharField()
    user = serializers.CharField(allow_null=True, help_text="The portal user whose preferences apply.")
    via = serializers.ListField(child=serializers.CharField())
    sent_by_naemon = serializers.BooleanField(
        help_text="Whether the contact's notification options let Naemon notify it at all (periods not considered)."
    )
    naemon_reason = serializers.CharField()
    channels = ChannelDecisionSerializer(many=True)

    @staticmethod
    def of(item: ContactDecisions, viewer: User | AnonymousUser) -> dict[str, Any]:
        return {
            "contact": item.contact,
            "user": item.user,
            "via": item.via,
            "sent_by_naemon": item.sent_by_naemon,
            "naemon_reason": item.naemon_reason,
            "channels": [ChannelDecisionSerializer.of(c, viewer) for c in item.channels],
        }


class WhoSerializer(serializers.Serializer):
    """Who would be notified: every contact of the object and what each channel does."""

    host = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    hostgroups = serializers.ListField(child=serializers.CharField())
    servicegroups = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()
    type = serializers.CharField()
    time = serializers.DateTimeField()
    contacts = ContactDecisionsSerializer(many=True)

    @staticmethod
    def of(answer: WhoAnswer, viewer: User | AnonymousUser) -> dict[str, Any]:
        """The answer as ``viewer`` may see it (other users' rule comments hidden)."""
        return {
            "host": answer.target.host,
            "service": answer.target.service,
            "hostgroups": answer.target.hostgroups,
            "servicegroups": answer.target.servicegroups,
            "state": answer.state,
            "type": answer.type,
            "time": answer.time,
            "contacts": [ContactDecisionsSerializer.of(c, viewer) for c in answer.contacts],
        }


class ChoicesSerializer(serializers.Serializer):
    """Fixed values of rules and the channels in use."""

    actions = serializers.ListField(child=serializers.CharField())
    host_states = serializers.ListField(child=serializers.CharField())
    service_states = serializers.ListField(child=serializers.CharField())
    types = serializers.ListField(child=serializers.CharField())
    days = serializers.ListField(child=serializers.CharField())
    channels = serializers.ListField(child=serializers.CharField())
    timezones = serializers.ListField(child=serializers.CharField())


class NameQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Substring, case-insensitive."
    )
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=200)


class NamesSerializer(serializers.Serializer):
    results = serializers.ListField(child=serializers.CharField())
