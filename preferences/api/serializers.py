"""Serializers of the preferences API; rules are validated by the rule engine itself."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone as django_timezone
from rest_framework import serializers

from monitoring_portal.models import Team
from monitoring_portal.rest import StrictTypesMixin
from preferences import coverage, engine, rulebook
from preferences.models import (
    RULE_FIELDS,
    NotificationDecision,
    NotificationProfile,
    NotificationRule,
    Rotation,
    RotationOverride,
    Silence,
)
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
    warnings = serializers.SerializerMethodField(
        help_text="Why this rule cannot change any decision (shadowed by an earlier rule, equal to the default)."
    )
    oncall_team = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="Only while you are on call for this team (or its fallback while nobody is); null: always.",
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
            "oncall_team",
            "created_at",
            "updated_at",
            "warnings",
        ]
        read_only_fields = ["position", "created_at", "updated_at"]

    def get_warnings(self, rule: NotificationRule) -> list[str]:
        # Computed over the owner's whole list, once per owner and answer (context is per request).
        cache = self.context.setdefault("rule_warnings", {}) if isinstance(self.context, dict) else {}
        if rule.user_id not in cache:
            from preferences import compiled, lint

            rules = list(NotificationRule.objects.filter(user_id=rule.user_id).in_order())
            found = lint.rule_warnings([r.as_rule() for r in rules], compiled.profile_of(rule.user).default)
            cache[rule.user_id] = {r.pk: w for r, w in zip(rules, found, strict=True)}
        return list(cache[rule.user_id].get(rule.pk, []))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = {f: getattr(self.instance, f) for f in RULE_FIELDS} if self.instance is not None else {}
        data.update({f: attrs[f] for f in RULE_FIELDS if f in attrs})
        try:
            normal = rulebook.validate_rule(data)
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
            return rulebook.validate_timezone(value)
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
    local_time = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default_timezone=UTC,
        help_text="Wall-clock time in the profile's time zone (YYYY-MM-DDTHH:MM), instead of ``time``.",
    )

    def validate_local_time(self, value: Any) -> Any:
        # The wall clock as typed: the view places it in the profile's time zone.
        return None if value is None else value.replace(tzinfo=None)


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
    local_time = serializers.CharField(help_text="The time evaluated, in the profile's time zone.")

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
            "local_time": _local(n.time, result.timezone),
        }


def _local(when: Any, zone: str) -> str:
    """``Fri 2026-12-04 09:00 (Europe/Paris)``: the wall clock the rules' windows saw."""
    local = when.astimezone(engine._zone(zone))
    return f"{local:%a %Y-%m-%d %H:%M} ({zone})"


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


class ExplanationStepSerializer(serializers.Serializer):
    """One rule tried: the deciding one (``matched``) or why an earlier one did not match."""

    rule = serializers.IntegerField(allow_null=True, help_text="The rule's stable id; null: the default.")
    matched = serializers.BooleanField()
    code = serializers.CharField(
        help_text="channel, type, state, host, hostgroup, service, window, matched, …"
    )
    text = serializers.CharField()


class ExplanationSerializer(serializers.Serializer):
    steps = ExplanationStepSerializer(many=True, default=list)  # a row stored without one: no steps
    source = serializers.CharField(  # type: ignore[assignment]  # the key, not Field.source
        required=False, help_text="snapshot: the rules the node used; rules now"
    )
    note = serializers.CharField(required=False)


class NotificationDecisionSerializer(serializers.ModelSerializer):
    """One decision of a node's notify-filter, explained."""

    user = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        slug_field="username", read_only=True, allow_null=True
    )
    rule = serializers.IntegerField(source="rule_id", read_only=True, allow_null=True)
    explanation = ExplanationSerializer(read_only=True)

    class Meta:
        model = NotificationDecision
        fields = [
            "id",
            "time",
            "node_name",
            "contact",
            "user",
            "host",
            "service",
            "state",
            "type",
            "channel",
            "decision",
            "rule",
            "rule_comment",
            "reason",
            "explanation",
            "notification_id",
        ]
        read_only_fields = fields


class NotAttemptedQuerySerializer(serializers.Serializer):
    host = serializers.CharField(max_length=255)
    service = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    hours = serializers.IntegerField(
        min_value=1, max_value=24 * 31, default=24, help_text="How far back the core's log is read."
    )


class NotAttemptedRowSerializer(serializers.Serializer):
    node = serializers.CharField()
    at = serializers.DateTimeField()
    state = serializers.CharField()
    code = serializers.CharField(help_text="downtime, disabled, period, no_contacts, … or unknown")
    reason = serializers.CharField()


class NotAttemptedSerializer(serializers.Serializer):
    rows = NotAttemptedRowSerializer(many=True)
    unreadable = serializers.ListField(
        child=serializers.CharField(), help_text="Nodes whose log could not be read, and why."
    )


# -- preferences as code and replay (``preferences.export``, ``preferences.replay``) ------------


class DocumentRuleSerializer(serializers.Serializer):
    """A rule in a document or a draft: no id, only what differs from the defaults."""

    action = serializers.ChoiceField(choices=list(engine.ACTIONS))
    comment = serializers.CharField(required=False)
    enabled = serializers.BooleanField(required=False, help_text="Default true.")
    hosts = _names("Host names or globs (web-*).")
    hostgroups = _names("Host group names or globs.")
    services = _names("Service descriptions or globs.")
    servicegroups = _names("Service group names or globs.")
    states = _choices(engine.STATES, "Host and/or service states.")
    types = _choices(engine.NOTIFICATION_TYPES, "Notification types.")
    channels = _names("Channels (email, sms, …).")
    days = _choices(engine.WEEKDAYS, "Days of the time window; empty: every day.")
    start = serializers.CharField(required=False, help_text="HH:MM (default 00:00).")
    end = serializers.CharField(required=False, help_text="HH:MM (default 24:00).")


class PreferencesDocumentSerializer(serializers.Serializer):
    """Your whole profile: the same document as JSON or YAML (for the schema; ``preferences.export`` validates)."""

    version = serializers.IntegerField(required=False, help_text="1")
    default = serializers.ChoiceField(
        choices=list(engine.ACTIONS), required=False, help_text="Default notify."
    )
    timezone = serializers.CharField(help_text="IANA time zone of the rules' time windows.")
    rules = DocumentRuleSerializer(
        many=True, required=False, help_text="In order; matched by content on import."
    )


class ReplayRequestSerializer(serializers.Serializer):
    """A draft: the whole list (``rules``) or one rule (``rule``, replacing ``replaces`` or added last)."""

    rules = DocumentRuleSerializer(many=True, required=False, help_text="The whole draft list, in order.")
    rule = DocumentRuleSerializer(required=False, help_text="One draft rule.")
    replaces = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The id of your rule that ``rule`` replaces; absent: added last.",
    )
    default = serializers.ChoiceField(
        choices=list(engine.ACTIONS), required=False, help_text="Draft default."
    )


class ReplayDifferenceSerializer(serializers.Serializer):
    decision = serializers.IntegerField(
        source="decision_id", help_text="The stored decision (history) replayed."
    )
    time = serializers.DateTimeField()
    host = serializers.CharField()
    service = serializers.CharField()
    state = serializers.CharField()
    type = serializers.CharField()
    channel = serializers.CharField()
    before = serializers.CharField(help_text="What your rules now decide.")
    after = serializers.CharField(help_text="What the draft decides.")
    rule = serializers.CharField(source="reason", help_text="Why the draft decides so (rule or default).")


class ReplaySerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    timezone = serializers.CharField()
    replayed = serializers.IntegerField(help_text="PROBLEM and RECOVERY decisions replayed.")
    fewer = serializers.IntegerField(help_text="Notifications you would not have received.")
    more = serializers.IntegerField(help_text="Notifications you would have received in addition.")
    summary = serializers.CharField()
    differences = ReplayDifferenceSerializer(many=True, help_text="At most 500, oldest first.")


# -- silences and on-call rotations ---------------------------------------------------------------

SILENCE_MATCHERS = engine.SILENCE_FIELDS


class SilenceSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """Mute what the matchers match (a rule's object criteria; empty = anything) until ``ends_at``.

    Created, then only ended early (``ended_at``, or DELETE) or re-commented: to change what
    it mutes or until when, end it and create another, so that the history's "silence #id"
    always means one thing.
    """

    user = serializers.SlugRelatedField(slug_field="username", read_only=True)  # type: ignore[var-annotated]
    hosts = _names("Host names or globs (web-*).")
    hostgroups = _names("Host group names or globs.")
    services = _names("Service descriptions or globs; only service notifications match.")
    servicegroups = _names("Service group names or globs; only service notifications match.")
    states = _choices(engine.STATES, "Host and/or service states.")
    types = _choices(
        engine.NOTIFICATION_TYPES,
        "Notification types; a RECOVERY/ACKNOWLEDGEMENT is muted only if listed (else it follows its PROBLEM).",
    )
    channels = _names("Channels of notification commands (email, sms, …).")
    active = serializers.SerializerMethodField(help_text="Whether it mutes now.")

    class Meta:
        model = Silence
        fields = ["id", "user", *SILENCE_MATCHERS, "comment", "created_at", "ends_at", "ended_at", "active"]
        read_only_fields = ["created_at"]

    def get_active(self, silence: Silence) -> bool:
        now = django_timezone.now()
        return bool(silence.created_at <= now < silence.effective_end)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        now = django_timezone.now()
        if isinstance(self.initial_data, dict):  # a typo ("day", "hostgroup") must not widen a silence
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Unknown field for a silence."]})
        if self.instance is not None:
            fixed = [f for f in (*SILENCE_MATCHERS, "ends_at") if f in attrs]
            if fixed:
                raise serializers.ValidationError(
                    {fixed[0]: ["A silence cannot be changed, only ended early: end it and create another."]}
                )
            ended = attrs.get("ended_at")
            if ended is not None:
                if ended > self.instance.ends_at:
                    raise serializers.ValidationError({"ended_at": ["After the silence's end (ends_at)."]})
                attrs["ended_at"] = max(ended, now)  # the past cannot be un-muted
            return attrs
        if "ended_at" in attrs:
            raise serializers.ValidationError({"ended_at": ["Set only to end an existing silence early."]})
        ends_at = attrs.get("ends_at")
        if ends_at is None:
            raise serializers.ValidationError({"ends_at": ["This field is required."]})
        if ends_at <= now:
            raise serializers.ValidationError({"ends_at": ["Must be in the future."]})
        if (ends_at - now).total_seconds() > engine.MAX_SILENCE_SECONDS:
            days = engine.MAX_SILENCE_SECONDS // 86400
            raise serializers.ValidationError({"ends_at": [f"At most {days} days from now."]})
        try:  # the rules' own validator: the same names, states, types and channels are valid
            normal = rulebook.validate_silence({f: attrs[f] for f in SILENCE_MATCHERS if f in attrs})
        except engine.RuleError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return {**attrs, **{f: normal[f] for f in SILENCE_MATCHERS}}  # type: ignore[literal-required]


class RotationOverrideSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """For a period, ``user`` (null: nobody) is on call instead of the schedule."""

    user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), allow_null=True)

    class Meta:
        model = RotationOverride
        fields = ["id", "user", "starts_at", "ends_at", "comment"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at."]})
        return attrs


class RotationSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A team's on-call rotation; ``overrides`` replace the existing ones when given."""

    team = serializers.SlugRelatedField(slug_field="name", queryset=Team.objects.all())
    members = serializers.ListField(
        child=serializers.CharField(), allow_empty=True, help_text="User names, in rotation order."
    )
    fallback = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="Whose 'while I am on call' rules match while nobody is on call.",
    )
    period = serializers.ChoiceField(choices=["daily", "weekly"], default="weekly")
    overrides = RotationOverrideSerializer(many=True, required=False)
    on_call = serializers.SerializerMethodField(help_text="Who is on call now (null: nobody).")
    next = serializers.SerializerMethodField(help_text="The next change: {at, user}; null if none ahead.")

    class Meta:
        model = Rotation
        fields = [
            "id",
            "team",
            "members",
            "start",
            "handoff",
            "timezone",
            "period",
            "fallback",
            "overrides",
            "on_call",
            "next",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def _compiled(self, rotation: Rotation) -> engine.Rotation:
        return rulebook.compile_rotation(rotation.as_rotation())

    def get_on_call(self, rotation: Rotation) -> str | None:
        return engine.on_call(self._compiled(rotation), django_timezone.now().timestamp())

    def get_next(self, rotation: Rotation) -> dict[str, Any] | None:
        change = engine.next_on_call(self._compiled(rotation), django_timezone.now().timestamp())
        if change is None:
            return None
        from datetime import datetime

        return {"at": datetime.fromtimestamp(change[0], UTC).isoformat(), "user": change[1]}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        team = attrs.get("team") or (self.instance.team if self.instance is not None else None)
        members = attrs.get("members")
        if members is not None and team is not None:
            if len(set(members)) != len(members):
                raise serializers.ValidationError({"members": ["Each member may appear only once."]})
            strangers = sorted(set(members) - set(team.members.values_list("username", flat=True)))
            if strangers:
                raise serializers.ValidationError(
                    {"members": [f"Not members of {team}: {', '.join(strangers)}."]}
                )
        data = {
            "timezone": attrs.get("timezone", getattr(self.instance, "timezone", "UTC")),
            "start": str(attrs.get("start", getattr(self.instance, "start", ""))),
            "handoff": attrs.get("handoff", getattr(self.instance, "handoff", "09:00")),
            "period": attrs.get("period", getattr(self.instance, "period", "weekly")),
        }
        try:  # the engine's own validator, as on the node
            rulebook.compile_rotation(data)
        except engine.RuleError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Rotation:
        overrides = validated_data.pop("overrides", [])
        rotation = Rotation.objects.create(**validated_data)
        for item in overrides:
            RotationOverride.objects.create(rotation=rotation, **item)
        return rotation

    def update(self, instance: Rotation, validated_data: dict[str, Any]) -> Rotation:
        overrides = validated_data.pop("overrides", None)
        rotation: Rotation = super().update(instance, validated_data)
        if overrides is not None:
            rotation.overrides.all().delete()
            for item in overrides:
                RotationOverride.objects.create(rotation=rotation, **item)
        return rotation


# --- coverage gaps ---------------------------------------------------------------------------


class CoverageQuerySerializer(serializers.Serializer):
    """The coverage report's filters (query parameters)."""

    reason = serializers.ChoiceField(
        choices=list(coverage.REASONS), required=False, help_text="Only this reason."
    )
    team = serializers.SlugRelatedField(
        slug_field="name", queryset=Team.objects.all(), required=False, help_text="Objects this team owns."
    )
    host = serializers.CharField(
        max_length=255, required=False, help_text="Objects on this host (exact name)."
    )


class CoverageReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    summary = serializers.CharField()
    detail = serializers.CharField()
    fix_url = serializers.CharField(help_text="The page where it is fixed.")


class CoverageGapSerializer(serializers.Serializer):
    """One object nobody would be told about; a service on host groups is one row per host."""

    kind = serializers.CharField(help_text="host or service")
    host = serializers.CharField()
    service = serializers.CharField(allow_null=True)
    service_id = serializers.IntegerField(allow_null=True)
    recipients = serializers.ListField(
        child=serializers.CharField(), help_text="Its contacts, before their rules."
    )
    reasons = CoverageReasonSerializer(many=True)

    @staticmethod
    def of(gap: coverage.Gap) -> dict[str, Any]:
        t = gap.target
        fixes = gap.fixes()
        return {
            "kind": t.kind,
            "host": t.host,
            "service": t.service,
            "service_id": t.service_id,
            "recipients": [r.contact for r in t.recipients],
            "reasons": [
                {"reason": r, "summary": coverage.REASONS[r], "detail": detail, "fix_url": fixes[r]}
                for r, detail in gap.reasons.items()
            ],
        }
