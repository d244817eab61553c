"""The hand-over API (``/api/v1/preferences/handovers/``): mine and the ones to me.

Apart from ``serializers.py``/``views.py`` for their size only. Everyone lists the hand-overs
they give and those they receive (staff: everyone's); creates their own; ends only their own
(DELETE ends it now and keeps it, listed as ended). Validation: ``preferences.handovers.check``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone as django_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from monitoring_portal.rest import StrictTypesMixin, check_query_parameters
from preferences import handovers
from preferences.models import HandOver


class HandOverSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """From ``starts_at`` (default now) to ``ends_at``, ``colleague`` gets what ``user`` would (a holiday).

    Created, then only ended early (DELETE): to change it, end it and create another.
    """

    user = serializers.SlugRelatedField(slug_field="username", read_only=True)  # type: ignore[var-annotated]
    colleague = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), help_text="Who receives them (a user name)."
    )
    starts_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    ends_at = serializers.DateTimeField(source="effective_end", help_text="When it ends (or ended early).")
    active = serializers.SerializerMethodField(help_text="Whether it hands over now.")

    class Meta:
        model = HandOver
        fields = [
            "id",
            "user",
            "colleague",
            "starts_at",
            "ends_at",
            "ended_at",
            "comment",
            "created_at",
            "active",
        ]
        read_only_fields = ["ended_at", "created_at"]

    def get_active(self, handover: HandOver) -> bool:
        return bool(handover.starts_at <= django_timezone.now() < handover.effective_end)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict):  # a typo must not pass for "not given"
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({unknown[0]: ["Unknown field for a hand-over."]})
        now = django_timezone.now()
        attrs["ends_at"] = attrs.pop("effective_end")
        attrs.setdefault("starts_at", now)
        problems = handovers.check(
            self.context["request"].user, attrs["colleague"], attrs["starts_at"], attrs["ends_at"], now=now
        )
        if problems:
            raise serializers.ValidationError({field: [message] for field, message in problems.items()})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> HandOver:
        return handovers.create(
            self.context["request"].user,
            validated_data["colleague"],
            validated_data["starts_at"],
            validated_data["ends_at"],
            validated_data.get("comment", ""),
        )


class OwnHandOversOnly(permissions.IsAuthenticated):
    """Read what the queryset shows (given, received; staff: all); end only your own."""

    message = "Only the one who handed over may end a hand-over."

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or obj.user_id == request.user.pk


@extend_schema(
    parameters=[
        OpenApiParameter("active", OpenApiTypes.BOOL, description="Only those handing over now (or not)."),
        OpenApiParameter("to_me", OpenApiTypes.BOOL, description="Only those to me (or only mine)."),
    ]
)
class HandOverViewSet(viewsets.ModelViewSet):
    """Hand-overs I give and receive: from a date to a date, a colleague gets what I would. DELETE ends one now."""

    queryset = HandOver.objects.none()
    serializer_class = HandOverSerializer
    permission_classes = [OwnHandOversOnly]
    filter_backends: list[Any] = []  # two boolean parameters, checked in get_queryset
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[HandOver]:
        if getattr(self, "swagger_fake_view", False):
            return HandOver.objects.none()
        user: Any = self.request.user  # authenticated: the permission class says so
        queryset = HandOver.objects.select_related("user", "colleague")
        if not user.is_staff:
            queryset = queryset.filter(Q(user=user) | Q(colleague=user))
        if self.action == "list":
            check_query_parameters(
                self.request, {"active", "to_me", "limit", "offset"}, booleans={"active", "to_me"}
            )
            params = self.request.query_params
            if params.get("to_me") == "true":
                queryset = queryset.filter(colleague=user)
            elif params.get("to_me") == "false":
                queryset = queryset.filter(user=user)
            now = django_timezone.now()
            active = HandOver.objects.not_over(now).filter(starts_at__lte=now).values("pk")
            if params.get("active") == "true":
                queryset = queryset.filter(pk__in=active)
            elif params.get("active") == "false":
                queryset = queryset.exclude(pk__in=active)
        return queryset

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action not in (None, "list"):
            check_query_parameters(request, set())

    def perform_destroy(self, instance: HandOver) -> None:
        handovers.end(instance)
