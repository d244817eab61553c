"""Serializers of the status API: live rows (read-only), node health, actions and their record.

Live rows are the dicts of ``livestatus.status``; every field is listed here, so a new
key there does not become public API by accident. Action requests are validated here for
types and ranges; names and text are validated by the command helpers when the command
is built (``livestatus.actions``), so the rules are the same as on the pages.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from livestatus import status as live
from livestatus.actions import MAX_DOWNTIME_SECONDS, ActionInvalid, downtime_window
from livestatus.availability import WINDOWS
from livestatus.client import UnsafeValueError, check_value
from livestatus.detail import HISTORY_ROWS, HISTORY_SECONDS
from livestatus.models import ActionLog, NodeOutcome
from monitoring_portal.rest import StrictTypesMixin

# -- live state -------------------------------------------------------------------------


class UnreachableSerializer(serializers.Serializer):
    """A node that did not answer."""

    node = serializers.CharField()
    error = serializers.CharField()


class _LiveRowSerializer(serializers.Serializer):
    """What hosts, services and problems have in common."""

    node = serializers.CharField(help_text="The node this row came from.")
    host = serializers.CharField()
    state = serializers.IntegerField(help_text="0-2 for hosts (UP, DOWN, UNREACHABLE), 0-3 for services.")
    state_label = serializers.CharField(help_text="UP, DOWN, OK, CRITICAL, ..., or PENDING (never checked).")
    severity = serializers.CharField(
        help_text="ok, warning, unknown, unreachable, critical, down or pending."
    )
    pending = serializers.BooleanField(help_text="Not checked yet.")
    hard = serializers.BooleanField(help_text="Hard state (confirmed by max_attempts checks).")
    output = serializers.CharField()
    last_check = serializers.DateTimeField(allow_null=True)
    last_state_change = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds since the last state change."
    )
    attempt = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    acknowledged = serializers.BooleanField()
    in_downtime = serializers.BooleanField()
    flapping = serializers.BooleanField()
    hostgroups = serializers.ListField(child=serializers.CharField())


class HostStatusSerializer(_LiveRowSerializer):
    """A host as its node sees it."""

    alias = serializers.CharField()
    address = serializers.CharField()
    num_services = serializers.IntegerField()


class ServiceStatusSerializer(_LiveRowSerializer):
    """A service as its node sees it."""

    service = serializers.CharField()
    servicegroups = serializers.ListField(child=serializers.CharField())


class ProblemSerializer(_LiveRowSerializer):
    """A host that is not UP or a service that is not OK (``service`` empty for a host)."""

    kind = serializers.ChoiceField(choices=["host", "service"])
    service = serializers.CharField(allow_blank=True)
    servicegroups = serializers.ListField(child=serializers.CharField())


class DowntimeSerializer(serializers.Serializer):
    """A scheduled downtime; ``id`` and ``node`` are what ``actions/delete-downtime/`` needs."""

    id = serializers.IntegerField()
    node = serializers.CharField()
    host = serializers.CharField()
    service = serializers.CharField(allow_blank=True)
    author = serializers.CharField()
    comment = serializers.CharField()
    entry_time = serializers.DateTimeField(allow_null=True)
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)
    fixed = serializers.BooleanField()
    duration = serializers.IntegerField()
    triggered_by = serializers.IntegerField()
    nodes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Every node holding a copy of this downtime (each under its own id; `id` is `node`'s).",
    )


# -- one object ----------------------------------------------------------------------------

#: How many history rows the detail endpoint returns unless asked (at most ``HISTORY_ROWS``).
DEFAULT_HISTORY_LIMIT = 100


class ObjectNameField(serializers.CharField):
    """A host name or service description that a query and a command can carry.

    Refused as the actions refuse them: control characters (a line break would end a
    header line) and ``;`` (it would shift the arguments of a command).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            check_value(value, self.field_name or "name")
        except UnsafeValueError as exc:
            raise serializers.ValidationError(exc.message) from None
        if ";" in value:
            raise serializers.ValidationError(f"may not contain ';': {value[:60]!r}")
        return value


class DetailQuerySerializer(serializers.Serializer):
    """The object (from the path or the query string) and the options of a detail request."""

    host = ObjectNameField()
    service = ObjectNameField(required=False, default="", allow_blank=True)
    node = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="Ask only this node."
    )
    history_limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_HISTORY_LIMIT,
        min_value=0,
        max_value=HISTORY_ROWS,
        help_text=f"The newest N history rows (default {DEFAULT_HISTORY_LIMIT}, at most {HISTORY_ROWS}).",
    )

    def validate_node(self, value: str) -> str:
        known = live.node_names()
        if value and value not in known:
            raise serializers.ValidationError(
                f"{value!r} is not a node with Livestatus (known: {', '.join(known) or 'none'})."
            )
        return value


class AvailabilityQuerySerializer(DetailQuerySerializer):
    """The object and the window of an availability request."""

    history_limit = None  # type: ignore[assignment]  # not a detail: no history here
    window = serializers.ChoiceField(
        choices=list(WINDOWS), default="24h", help_text="How far back from now: 24h, 7d or 30d."
    )


class AvailabilitySegmentSerializer(serializers.Serializer):
    """A stretch of the window in one state (``state`` "no data": before the log knows the state)."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    state = serializers.CharField()
    seconds = serializers.FloatField()


class AvailabilitySerializer(serializers.Serializer):
    """An object's availability over a window, from its node's log: percent and seconds per state."""

    host = serializers.CharField()
    service = serializers.CharField(allow_blank=True)
    node = serializers.CharField()
    window = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    percent = serializers.DictField(child=serializers.FloatField())
    seconds = serializers.DictField(child=serializers.FloatField())
    timeline = AvailabilitySegmentSerializer(many=True)
    unreachable = UnreachableSerializer(many=True)


class CommentSerializer(serializers.Serializer):
    """A comment on the object (also the ones acknowledgements and downtimes add)."""

    id = serializers.IntegerField()
    node = serializers.CharField()
    author = serializers.CharField(allow_blank=True)
    comment = serializers.CharField(allow_blank=True)
    entry_time = serializers.DateTimeField(allow_null=True)
    entry_type = serializers.CharField(help_text="comment, downtime, flapping or acknowledgement.")
    persistent = serializers.BooleanField()
    expires = serializers.DateTimeField(allow_null=True, help_text="null: does not expire.")
    nodes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Every node holding a copy of this comment; `id` is `node`'s.",
    )


class HistoryDecisionSerializer(serializers.Serializer):
    """The notify-filter's decision about one notification of the history."""

    time = serializers.DateTimeField(allow_null=True)
    decision = serializers.CharField(help_text="notify, suppress, or error (decided to send, could not run).")
    channel = serializers.CharField(allow_blank=True)
    rule_id = serializers.IntegerField(allow_null=True, help_text="The deciding rule, if a rule decided.")
    rule = serializers.CharField(allow_blank=True, help_text="That rule's name (comment) today.")
    reason = serializers.CharField(allow_blank=True)


class HistorySerializer(serializers.Serializer):
    """A state change or notification from the node's ``log`` table."""

    time = serializers.DateTimeField(allow_null=True)
    type = serializers.CharField(help_text="SERVICE ALERT, HOST NOTIFICATION, ...")
    state = serializers.IntegerField()
    output = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True, help_text="The whole log line.")
    contact = serializers.CharField(allow_blank=True, help_text="Notifications: the contact.")
    delivery = serializers.CharField(
        allow_null=True,
        help_text="Notifications: what the notify-filter did with it (the core logs every contact "
        "whose command it ran): 'sent (email)', \"suppressed by alice's rule 'quiet nights'\", "
        "'no decision recorded'. Null for other rows.",
    )
    decision = HistoryDecisionSerializer(
        allow_null=True, help_text="Notifications: the notify-filter's decision it was matched with."
    )


class AvailableActionsSerializer(serializers.Serializer):
    """What the caller may do to the object now: the buttons the detail page shows them."""

    acknowledge = serializers.BooleanField(help_text="A problem that is not acknowledged yet.")
    remove_acknowledgement = serializers.BooleanField()
    downtime = serializers.BooleanField()
    delete_downtime = serializers.BooleanField(help_text="It has downtimes to delete.")
    recheck = serializers.BooleanField()
    comment = serializers.BooleanField()
    enable_notifications = serializers.BooleanField(help_text="Its notifications are off.")
    disable_notifications = serializers.BooleanField(help_text="Its notifications are on.")
    enable_checks = serializers.BooleanField(help_text="Its active checks are off.")
    disable_checks = serializers.BooleanField(help_text="Its active checks are on.")


class ObjectDetailSerializer(_LiveRowSerializer):
    """A host or service with everything its detail page shows."""

    # A CharField, not a ChoiceField: the same enum in two components gets a hashed name.
    kind = serializers.CharField(help_text="host or service.")
    service = serializers.CharField(allow_blank=True, help_text="Empty for a host.")
    nodes = serializers.ListField(
        child=serializers.CharField(), help_text="Every node that knows the object; `node` is the one shown."
    )
    alias = serializers.CharField(default="", help_text="Hosts only.")
    address = serializers.CharField(default="", help_text="Hosts only.")
    servicegroups = serializers.ListField(child=serializers.CharField())
    long_output = serializers.CharField(allow_blank=True)
    perf_data = serializers.CharField(allow_blank=True)
    next_check = serializers.DateTimeField(allow_null=True)
    check_command = serializers.CharField(allow_blank=True)
    acknowledgement_type = serializers.IntegerField(help_text="0 none, 1 normal, 2 sticky.")
    active_checks_enabled = serializers.BooleanField(allow_null=True)
    notifications_enabled = serializers.BooleanField(allow_null=True)
    notes = serializers.CharField(allow_blank=True)
    notes_url = serializers.CharField(allow_blank=True, help_text="A http(s) address, else empty.")
    action_url = serializers.CharField(allow_blank=True, help_text="A http(s) address, else empty.")
    comments = CommentSerializer(many=True, help_text="Newest first.")
    downtimes = DowntimeSerializer(many=True, help_text="By start.")
    history = HistorySerializer(
        many=True,
        allow_null=True,
        help_text=f"Alerts and notifications of the last {HISTORY_SECONDS // 86400} days, newest "
        "first (history_limit rows at most); null when the node has no log table (see history_error).",
    )
    history_error = serializers.CharField(allow_blank=True)
    services = ServiceStatusSerializer(many=True, help_text="A host's services; empty for a service.")
    can = AvailableActionsSerializer()
    denial = serializers.CharField(
        allow_blank=True, help_text="Why the caller may not act on the object; empty when they may."
    )
    unreachable = UnreachableSerializer(
        many=True, help_text="Nodes that did not answer; what they know is missing."
    )


class DeploymentSummarySerializer(serializers.Serializer):
    """The node's latest deployment."""

    id = serializers.IntegerField()
    state = serializers.CharField()
    at = serializers.FloatField(allow_null=True, help_text="Epoch seconds of its last step.")
    reason = serializers.CharField(allow_blank=True)
    triggered_by = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)


class NodeHealthSerializer(serializers.Serializer):
    """One Naemon node: reachable or not (and why), its core, and its last deployment."""

    node = serializers.CharField()
    role = serializers.CharField()
    address = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()
    reachable = serializers.BooleanField(allow_null=True, help_text="null: not asked (disabled, no address).")
    error = serializers.CharField(allow_blank=True)
    program_start = serializers.DateTimeField(allow_null=True)
    version = serializers.CharField(allow_blank=True)
    core = serializers.CharField(allow_blank=True, help_text="Naemon or Icinga 2.")
    livestatus_version = serializers.CharField(allow_blank=True)
    num_hosts = serializers.IntegerField(allow_null=True)
    num_services = serializers.IntegerField(allow_null=True)
    last_deployment = DeploymentSummarySerializer(allow_null=True)


# -- actions -------------------------------------------------------------------------------


class DeliverySerializer(serializers.Serializer):
    """How an action ended on one node."""

    node = serializers.CharField()
    ok = serializers.BooleanField(help_text="The node took it (or had nothing to do: `nothing`).")
    outcome = serializers.ChoiceField(choices=NodeOutcome.choices)
    error = serializers.CharField(allow_blank=True)


class ActionLogSerializer(serializers.ModelSerializer):
    """One recorded action: ``node``/``outcome``/``error`` are the first node's (the checker's),
    ``deliveries`` every node's, in the order they were sent."""

    host = serializers.CharField(source="host_name")
    service = serializers.CharField(source="service_description")
    deliveries = DeliverySerializer(many=True, read_only=True)
    complete = serializers.BooleanField(
        read_only=True, help_text="Every node took it; false: see `deliveries` (queued copies are retried)."
    )

    class Meta:
        model = ActionLog
        fields = [
            "id",
            "created_at",
            "username",
            "via",
            "kind",
            "host",
            "service",
            "node",
            "arguments",
            "command",
            "outcome",
            "error",
            "deliveries",
            "complete",
            "duration_ms",
        ]
        read_only_fields = fields


class TargetSerializer(StrictTypesMixin, serializers.Serializer):
    """The object to act on and, optionally, the node to send to."""

    host = serializers.CharField(max_length=255)
    service = serializers.CharField(
        max_length=255, required=False, default="", allow_blank=True, help_text="Empty or absent: the host."
    )
    node = serializers.CharField(
        max_length=255,
        required=False,
        default="",
        allow_blank=True,
        help_text="The node the request was made from (a downtime id is that node's); it gets the "
        "command too. Default: none; the command goes to every node holding the object, its checker first "
        "(a re-check to the checker only, or to this node).",
    )

    def params(self) -> dict[str, Any]:
        """The action's arguments for ``livestatus.actions.perform``."""
        return {
            name: value
            for name, value in self.validated_data.items()
            if name not in ("host", "service", "node")
        }


class AcknowledgeSerializer(TargetSerializer):
    comment = serializers.CharField(max_length=1024, help_text="One line.")
    sticky = serializers.BooleanField(default=True, help_text="Until the object is OK/UP again.")
    notify = serializers.BooleanField(default=True, help_text="Notify the contacts.")
    persistent = serializers.BooleanField(default=False, help_text="Keep the comment after a restart.")


class DowntimeRequestSerializer(TargetSerializer):
    comment = serializers.CharField(max_length=1024, help_text="One line.")
    fixed = serializers.BooleanField(
        default=True,
        help_text="true: from start to end (or start + duration). false (flexible): starts when the "
        "object goes down between start and end, then lasts duration seconds.",
    )
    start = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now."
    )
    end = serializers.DateTimeField(required=False, allow_null=True, default=None)
    duration = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=MAX_DOWNTIME_SECONDS,
        help_text="Seconds.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            downtime_window(
                start=attrs["start"], end=attrs["end"], duration=attrs["duration"], fixed=attrs["fixed"]
            )
        except ActionInvalid as exc:
            raise serializers.ValidationError({exc.field or "non_field_errors": [str(exc)]}) from None
        return attrs


class CommentRequestSerializer(TargetSerializer):
    comment = serializers.CharField(max_length=1024, help_text="One line.")
    persistent = serializers.BooleanField(default=True, help_text="Keep it after a restart.")


class DeleteDowntimeSerializer(TargetSerializer):
    downtime_id = serializers.IntegerField(min_value=0, help_text="The id from downtimes/.")
