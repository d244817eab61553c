"""``GET …/<name>/history/`` on every object viewset: the object's audit rows (monitoring_portal.audit).

Who may read an object's history is who may read the object: every signed-in user (viewers
included). A contact's diff may carry an e-mail address or pager number, but the contact
itself is readable by the same people with the same values, so its past values tell them
nothing of another kind. What history does not show is the address a change came from
(personal data of whoever made it): that is on the staff-only audit page (/audit/).
"""

from __future__ import annotations

from typing import Any

from auditlog.models import LogEntry
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from monitoring_portal import audit
from monitoring_portal.rest import check_query_parameters

ACTIONS = {
    LogEntry.Action.CREATE: "create",
    LogEntry.Action.UPDATE: "update",
    LogEntry.Action.DELETE: "delete",
    LogEntry.Action.ACCESS: "access",
}


class AuditEntrySerializer(serializers.ModelSerializer):
    """One change: when, what, who (user and token), from where, and the field-level diff."""

    action = serializers.SerializerMethodField(help_text="create, update or delete.")
    kind = serializers.SerializerMethodField(help_text="The object's kind, e.g. registry.host.")
    object = serializers.CharField(
        source="object_repr", read_only=True, help_text="The object, as named then."
    )
    user = serializers.SerializerMethodField(
        help_text="Who made the change (null: nobody signed in, e.g. a task)."
    )
    token = serializers.SerializerMethodField(help_text="The API token's name, when one was used.")
    source = serializers.SerializerMethodField(  # type: ignore[assignment]  # a field, not Field.source
        help_text="api, page, admin, task or system."
    )
    client = serializers.SerializerMethodField(help_text="ansible or puppet, from the User-Agent.")
    task = serializers.SerializerMethodField(help_text="The Celery task that made the change.")
    changes = serializers.SerializerMethodField(
        help_text="Field -> [old, new]; a membership change is {type: m2m, operation, objects}."
    )

    class Meta:
        model = LogEntry
        fields = [
            "timestamp",
            "action",
            "kind",
            "object",
            "user",
            "token",
            "source",
            "client",
            "task",
            "changes",
        ]
        read_only_fields = fields

    def get_action(self, entry: LogEntry) -> str:
        return ACTIONS.get(entry.action, str(entry.action))

    def get_kind(self, entry: LogEntry) -> str:
        return audit.kind_of(entry)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_user(self, entry: LogEntry) -> str | None:
        return entry.actor.get_username() if entry.actor is not None else None

    def _data(self, entry: LogEntry, key: str) -> str | None:
        data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
        value = data.get(key)
        return value if isinstance(value, str) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_token(self, entry: LogEntry) -> str | None:
        return self._data(entry, "token")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_source(self, entry: LogEntry) -> str | None:
        return self._data(entry, "source")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_client(self, entry: LogEntry) -> str | None:
        return self._data(entry, "client")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_task(self, entry: LogEntry) -> str | None:
        return self._data(entry, "task")

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, entry: LogEntry) -> Any:
        return entry.changes or {}


class HistoryMixin:
    """Adds ``history/`` to a viewset whose objects are addressed by ``lookup_field``."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The object's name."
            )
        ],
        responses=AuditEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The object's changes, newest first: who, when, from where, and what changed."""
        check_query_parameters(request, {"limit", "offset"})
        view: Any = self
        page = view.paginate_queryset(audit.history_of(view.get_object()))
        return view.get_paginated_response(AuditEntrySerializer(page, many=True).data)
