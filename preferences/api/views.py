"""REST API of notification preferences: your rules, your profile, previews, who would be notified.

Everyone sees and changes only their own rules and profile (another user's rule is a 404);
staff may read everyone's (``?user=<username>``) but change only their own. Previews use
the notify-filter's engine on the rules in the database.
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring_portal.rest import StrictFilterBackend, check_query_parameters
from preferences import compiled, engine, preview, rules
from preferences.api import serializers as s
from preferences.filtersets import NotificationRuleFilterSet, query_values
from preferences.models import NotificationRule


class OwnRulesOnly(permissions.IsAuthenticated):
    """Read what the queryset shows (your own; staff: all); write only your own."""

    message = "You may change only your own notification rules."

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or obj.user_id == request.user.pk


def _user_named(request: Request, username: str | None) -> Any:
    """The user a staff member asks about (``user`` parameter); non-staff only themselves."""
    if not username or username == request.user.get_username():
        return request.user
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may look at another user's notification preferences.")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"user": [f"No user {username!r}."]})
    return user


class NotificationRuleViewSet(viewsets.ModelViewSet):
    """Your notification rules, in order: the first enabled rule that matches decides."""

    queryset = NotificationRule.objects.none()  # the real one depends on the caller
    serializer_class = s.NotificationRuleSerializer
    permission_classes = [OwnRulesOnly]
    filter_backends = [StrictFilterBackend]
    filterset_class = NotificationRuleFilterSet

    def get_queryset(self) -> QuerySet[NotificationRule]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return NotificationRule.objects.none()
        queryset = NotificationRule.objects.select_related("user").in_order()
        if self.request.user.is_staff:
            return queryset
        return queryset.filter(user=self.request.user)  # type: ignore[misc]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # The list's filter backend answers unknown parameters itself; an unknown method (no
        # action) must reach DRF's 405, not be refused for its query string.
        if self.action not in (None, "list"):
            check_query_parameters(request, set())

    def perform_create(self, serializer: s.NotificationRuleSerializer) -> None:  # type: ignore[override]
        with transaction.atomic():
            user = self.request.user
            serializer.save(user=user, position=rules.next_position(user))  # type: ignore[arg-type]

    @extend_schema(request=s.ReorderSerializer, responses={200: s.NotificationRuleSerializer(many=True)})
    # Not paginated: the answer is every rule, in the new order (and the schema says a list).
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def reorder(self, request: Request) -> Response:
        """Put all your rules in a new order: ``{"ids": [3, 1, 2]}`` (a bare list works too)."""
        payload = {"ids": request.data} if isinstance(request.data, list) else request.data
        serializer = s.ReorderSerializer(data=payload)
        serializer.is_valid(raise_exception=True)
        try:
            ordered = rules.reorder(request.user, serializer.validated_data["ids"])  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValidationError({"ids": [str(exc)]}) from None
        return Response(s.NotificationRuleSerializer(ordered, many=True, context={"request": request}).data)


class ProfileView(APIView):
    """Your default (when no rule matches) and time zone; staff may read anyone's (``?user=``)."""

    @extend_schema(
        parameters=[OpenApiParameter("user", OpenApiTypes.STR, description="Staff only: whose profile.")],
        responses=s.NotificationProfileSerializer,
    )
    def get(self, request: Request) -> Response:
        check_query_parameters(request, {"user"})
        user = _user_named(request, request.query_params.get("user"))
        return Response(s.NotificationProfileSerializer(compiled.profile_of(user)).data)

    @extend_schema(request=s.NotificationProfileSerializer, responses=s.NotificationProfileSerializer)
    def put(self, request: Request) -> Response:
        return self._write(request, partial=False)

    @extend_schema(request=s.NotificationProfileSerializer, responses=s.NotificationProfileSerializer)
    def patch(self, request: Request) -> Response:
        return self._write(request, partial=True)

    def _write(self, request: Request, *, partial: bool) -> Response:
        check_query_parameters(request, set())
        with transaction.atomic():
            profile = compiled.profile_of(request.user)  # type: ignore[arg-type]
            serializer = s.NotificationProfileSerializer(profile, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            serializer.save(user=request.user)
        return Response(serializer.data)


class PreviewView(APIView):
    """What would happen to this notification? The notify-filter's engine on the rules in the database."""

    @extend_schema(request=s.PreviewRequestSerializer, responses=s.PreviewSerializer)
    def post(self, request: Request) -> Response:
        check_query_parameters(request, set())
        serializer = s.PreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = _user_named(request, data.get("user"))
        try:
            result = preview.preview(
                user,
                host=data["host"],
                service=data["service"],
                state=data["state"],
                type=data["type"],
                channel=data["channel"],
                hostgroups=data["hostgroups"],
                servicegroups=data["servicegroups"],
                time=data.get("time"),
            )
        except engine.RuleError as exc:  # a stored rule the engine rejects: say so rather than 500
            raise ValidationError({"rules": [f"Your rules do not compile: {exc}"]}) from None
        return Response(s.PreviewSerializer.of(result))


class WhoView(APIView):
    """Who would be notified? Every contact of a host or service, each channel's decision and rule."""

    @extend_schema(parameters=[s.NotificationQuerySerializer], responses=s.WhoSerializer)
    def get(self, request: Request) -> Response:
        check_query_parameters(request, set(s.NotificationQuerySerializer().fields))
        serializer = s.NotificationQuerySerializer(data=query_values(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            answer = preview.who_would_be_notified(
                host=data["host"],
                service=data["service"],
                state=data["state"],
                type=data["type"],
                time=data.get("time"),
            )
        except preview.UnknownObject as exc:
            raise NotFound({exc.field: [exc.message]}) from None
        return Response(s.WhoSerializer.of(answer, request.user))


@cache
def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones() | {"UTC"})


class ChoicesView(APIView):
    """The fixed values of rules (states, types, days), the channels in use and the time zones."""

    @extend_schema(responses=s.ChoicesSerializer)
    def get(self, request: Request) -> Response:
        check_query_parameters(request, set())
        return Response(
            {
                "actions": list(engine.ACTIONS),
                "host_states": list(engine.HOST_STATES),
                "service_states": list(engine.SERVICE_STATES),
                "types": list(engine.NOTIFICATION_TYPES),
                "days": list(engine.WEEKDAYS),
                "channels": rules.channel_choices(),
                "timezones": _timezones(),
            }
        )


class NameChoicesView(APIView):
    """Names in the registry for a rule's criteria, e.g. ``choices/hostgroups/?q=web`` (at most ``limit``)."""

    kind = "hosts"

    @extend_schema(parameters=[s.NameQuerySerializer], responses=s.NamesSerializer)
    def get(self, request: Request) -> Response:
        check_query_parameters(request, set(s.NameQuerySerializer().fields))
        serializer = s.NameQuerySerializer(data=query_values(request))
        serializer.is_valid(raise_exception=True)
        names = rules.name_choices(
            self.kind, serializer.validated_data["q"], serializer.validated_data["limit"]
        )
        return Response({"results": names}, status=status.HTTP_200_OK)
