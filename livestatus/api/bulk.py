"""POST /api/v1/livestatus/actions/bulk/: one action on a selection (``livestatus.bulk``).

The answer lists every target's outcome (``results``: sent, failed, refused, invalid, with
the recorded action when one was sent) and counts them. Status: 200 when at least one
target was sent; otherwise 502 when one was recorded but failed on its node, 403 when the
caller may act on none of them, 400 when none could be sent for another reason. An
invalid request (a line break in a name or the comment, an unknown kind, a downtime
without an end) is a 400 naming the field, and nothing is sent for any target.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from livestatus import bulk
from livestatus.actions import MAX_DOWNTIME_SECONDS, ActionInvalid, Target, downtime_window
from livestatus.api.serializers import ActionLogSerializer, ObjectNameField, UnreachableSerializer
from livestatus.models import ActionKind
from monitoring_portal.models import APIToken, TokenScope
from monitoring_portal.rest import StrictTypesMixin

#: Keys of the request that select objects; the rest are the action's arguments.
_SELECTION = ("kind", "targets", "hostgroup", "with_services")
#: Kinds whose command carries a comment.
_WITH_COMMENT = (ActionKind.ACKNOWLEDGE, ActionKind.DOWNTIME, ActionKind.COMMENT)


class BulkTargetSerializer(StrictTypesMixin, serializers.Serializer):
    """One selected object: a host, or a service when ``service`` is set."""

    host = ObjectNameField()
    service = ObjectNameField(required=False, default="", allow_blank=True, help_text="Empty: the host.")


class BulkActionSerializer(StrictTypesMixin, serializers.Serializer):
    """The action, the selection, and the action's arguments (as the single actions take them)."""

    kind = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in bulk.BULK_KINDS])
    targets = BulkTargetSerializer(many=True, required=False, default=list)
    hostgroup = ObjectNameField(
        required=False, default="", allow_blank=True, help_text="Downtime: every host the nodes list in it."
    )
    with_services = serializers.BooleanField(
        default=False, help_text="Downtime: each selected host and every service the nodes list for it."
    )
    comment = serializers.CharField(max_length=1024, required=False, help_text="One line.")
    sticky = serializers.BooleanField(required=False, help_text="Acknowledge: until OK/UP again.")
    notify = serializers.BooleanField(required=False, help_text="Acknowledge: notify the contacts.")
    persistent = serializers.BooleanField(required=False, help_text="Keep the comment after a restart.")
    fixed = serializers.BooleanField(required=False, help_text="Downtime: as in actions/downtime/.")
    start = serializers.DateTimeField(required=False, allow_null=True, help_text="Downtime. Default: now.")
    end = serializers.DateTimeField(required=False, allow_null=True, help_text="Downtime.")
    duration = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_DOWNTIME_SECONDS, help_text="Seconds."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["kind"]
        if kind in _WITH_COMMENT and not (attrs.get("comment") or "").strip():
            raise ValidationError({"comment": ["A comment is required."]})
        if not attrs["targets"] and not attrs["hostgroup"]:
            raise ValidationError({"targets": ["Select at least one object (or a host group)."]})
        if kind == ActionKind.DOWNTIME:
            try:
                downtime_window(
                    start=attrs.get("start"),
                    end=attrs.get("end"),
                    duration=attrs.get("duration"),
                    fixed=attrs.get("fixed", True),
                )
            except ActionInvalid as exc:
                raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from None
        return attrs

    def params(self) -> dict[str, Any]:
        """The action's arguments, only those sent (each kind keeps its own defaults)."""
        return {key: value for key, value in self.validated_data.items() if key not in _SELECTION}


class TargetOutcomeSerializer(serializers.Serializer):
    """How one target ended."""

    host = serializers.CharField(source="target.host")
    service = serializers.CharField(source="target.service")
    result = serializers.ChoiceField(
        choices=[bulk.Result.SENT, bulk.Result.FAILED, bulk.Result.REFUSED, bulk.Result.INVALID]
    )
    error = serializers.CharField(allow_blank=True)
    action = ActionLogSerializer(source="entry", allow_null=True, help_text="The record; null: nothing sent.")


class BulkResultSerializer(serializers.Serializer):
    """Every target's outcome, and the counts a page shows ("3 acknowledged, 1 refused")."""

    kind = serializers.CharField()
    results = TargetOutcomeSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    unreachable = UnreachableSerializer(many=True, help_text="Nodes not asked while expanding a selection.")


def _via(request: Request) -> str:
    if isinstance(request.auth, APIToken):
        return f"api (token {request.auth.name})"
    return "api"


def _status(counts: dict[str, int]) -> int:
    if counts[bulk.Result.SENT]:
        return status.HTTP_200_OK
    if counts[bulk.Result.FAILED]:
        return status.HTTP_502_BAD_GATEWAY
    if counts[bulk.Result.REFUSED] and not counts[bulk.Result.INVALID]:
        return status.HTTP_403_FORBIDDEN
    return status.HTTP_400_BAD_REQUEST


class BulkActionView(APIView):
    """One action on a selection; each target permission-checked and recorded on its own."""

    # Actions-only tokens may POST here; livestatus.actions checks who may act on what.
    token_scopes = (TokenScope.ACTIONS,)

    @extend_schema(
        summary="One action on a selection of objects",
        request=BulkActionSerializer,
        responses={
            200: OpenApiResponse(BulkResultSerializer, description="At least one target was sent."),
            400: OpenApiResponse(description="Invalid request: nothing sent for any target."),
            403: OpenApiResponse(BulkResultSerializer, description="The caller may act on none of them."),
            502: OpenApiResponse(BulkResultSerializer, description="None sent; some failed on their node."),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = BulkActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kind = data["kind"]
        try:
            targets, unreachable = bulk.expand(
                kind,
                [Target(t["host"], t["service"]) for t in data["targets"]],
                hostgroup=data["hostgroup"],
                with_services=data["with_services"],
            )
            outcomes = bulk.perform_bulk(request.user, kind, targets, serializer.params(), via=_via(request))
        except ActionInvalid as exc:
            raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from None
        counts = {result: 0 for result in (bulk.Result.SENT, bulk.Result.FAILED, bulk.Result.REFUSED)}
        counts[bulk.Result.INVALID] = 0
        for outcome in outcomes:
            counts[outcome.result] += 1
        body = BulkResultSerializer(
            {"kind": kind, "results": outcomes, "counts": counts, "unreachable": unreachable}
        ).data
        return Response(body, status=_status(counts))
