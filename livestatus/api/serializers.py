"""Serializers of the status API: live rows (read-only), node health, actions and their record.

Live rows are the dicts of ``livestatus.status``; every field is listed here, so a new
key there does not become public API by accident. Action requests are validated here for
types and ranges; names and text are validated by the command helpers when the command
is built (``livestatus.actions``), so the rules are the same as on the pages.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from livestatus.actions import MAX_DOWNTIME_SECONDS, ActionInvalid, downtime_window
from livestatus.models import ActionLog

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


class ActionLogSerializer(serializers.ModelSerializer):
    """One recorded action."""

    host = serializers.CharField(source="host_name")
    service = serializers.CharField(source="service_description")

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
            "duration_ms",
        ]
        read_only_fields = fields


class TargetSerializer(serializers.Serializer):
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
        help_text="A node name; default: the node that owns the host.",
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
