"""REST API of notification preferences: your rules, your profile, previews, who would be notified.

Everyone sees and changes only their own rules and profile (another user's rule is a 404);
staff may read everyone's (``?user=<username>``) but change only their own. Previews use
the notify-filter's engine on the rules in the database.
"""

from __future__ import annotations

import time
import zoneinfo
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone as django_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring_portal.rest import (
    JSONParser,
    LimitOffsetPagination,
    StrictFilterBackend,
    check_query_parameters,
)
from preferences import compiled, coverage, engine, export, history, preview, replay, rules
from preferences.api import formats
from preferences.api import serializers as s
from preferences.filtersets import NotificationDecisionFilterSet, NotificationRuleFilterSet, query_values
from preferences.models import NotificationDecision, NotificationRule, Rotation, Silence


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

    @extend_schema(request=s.NotificationRuleSerializer, responses={201: s.NotificationRuleSerializer})
    @action(detail=False, methods=["post"], url_path="only", filter_backends=[], pagination_class=None)
    def only(self, request: Request) -> Response:
        """Only notify me about X: adds a notify rule for X last and sets your default to suppress.

        One transaction. The default rather than a trailing "suppress everything" rule: rules
        added later (last, as every new rule is) would sit behind such a catch-all and never
        decide; a default stays last whatever is added.
        """
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Expected a rule object."]})
        serializer = self.get_serializer(data={**request.data, "action": "notify"})
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            user = request.user
            serializer.save(user=user, position=rules.next_position(user))  # type: ignore[arg-type]
            profile = compiled.profile_of(user)  # type: ignore[arg-type]
            if profile.default != "suppress":
                profile.default = "suppress"
                profile.save()
        return Response(self.get_serializer(serializer.instance).data, status=status.HTTP_201_CREATED)

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
        when = data.get("time")
        if data.get("local_time") is not None:
            # A wall-clock time means one in the profile's zone, whatever zone the browser is in.
            zone = engine._zone(compiled.profile_of(user).timezone)
            when = data["local_time"].replace(tzinfo=zone)
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
                time=when,
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


class NotificationHistoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Every decision of the notify-filter, newest first: yours (staff: everyone's), explained."""

    queryset = NotificationDecision.objects.none()  # the real one depends on the caller
    serializer_class = s.NotificationDecisionSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = NotificationDecisionFilterSet

    def get_queryset(self) -> QuerySet[NotificationDecision]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return NotificationDecision.objects.none()
        return history.visible_to(self.request.user).select_related("user")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action not in (None, "list"):
            check_query_parameters(request, set())

    @extend_schema(parameters=[s.NotAttemptedQuerySerializer], responses=s.NotAttemptedSerializer)
    @action(detail=False, methods=["get"], url_path="not-attempted", filter_backends=[])
    def not_attempted(self, request: Request) -> Response:
        """What the cores did not even try for an object (downtime, disabled, …), from their logs."""
        check_query_parameters(request, set(s.NotAttemptedQuerySerializer().fields))
        query = s.NotAttemptedQuerySerializer(data=query_values(request))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        since = time.time() - data["hours"] * 3600
        answer = history.object_not_attempted(data["host"], data["service"], since)
        return Response(s.NotAttemptedSerializer(answer).data)


#: The document in either format the client asks for (``Accept`` or ``?format=yaml``).
DOCUMENT_RESPONSES = {
    (200, "application/json"): s.PreferencesDocumentSerializer,
    (200, "application/yaml"): s.PreferencesDocumentSerializer,
}


class ExportView(APIView):
    """Your whole profile as one document (JSON or YAML): ``GET`` exports it, ``PUT`` replaces it.

    ``PUT`` is atomic (an invalid document is a 400 naming the bad field's path and changes
    nothing) and idempotent (the same document again writes nothing). Rules carry no ids: they
    are matched by content (``preferences.export``). JSON or YAML by ``Accept``/``Content-Type``
    (``application/yaml``) or ``?format=yaml``.
    """

    renderer_classes = [JSONRenderer, formats.YAMLRenderer]
    parser_classes = [JSONParser, formats.YAMLParser, formats.LegacyYAMLParser, formats.TextYAMLParser]

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON, as everywhere in the API and as the schema says, whatever was asked
        # (JSON is YAML too: a YAML client reads them as they are).
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(responses=DOCUMENT_RESPONSES)
    def get(self, request: Request) -> Response:
        check_query_parameters(request, set())
        return Response(export.export_user(request.user))  # type: ignore[arg-type]

    @extend_schema(request=s.PreferencesDocumentSerializer, responses=DOCUMENT_RESPONSES)
    def put(self, request: Request) -> Response:
        check_query_parameters(request, set())
        try:
            document = export.parse_document(request.data)
            # Applying checks what depends on the user (a hand-over's overlaps), all or nothing.
            changed = export.apply_document(request.user, document)  # type: ignore[arg-type]
        except export.DocumentError as exc:
            raise ValidationError({exc.path: [exc.message]}) from None
        return Response(
            export.export_user(request.user),  # type: ignore[arg-type]
            headers={"X-Preferences-Changed": "true" if changed else "false"},
        )


class ReplayView(APIView):
    """Replay a draft over your last 7 days of decisions: how many fewer and more notifications.

    Only your own decisions, staff included: the draft is yours, so is the history it meets.
    """

    @extend_schema(request=s.ReplayRequestSerializer, responses=s.ReplaySerializer)
    def post(self, request: Request) -> Response:
        check_query_parameters(request, set())
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["Expected an object with rules or rule."]})
        unknown = sorted(set(body) - {"rules", "rule", "replaces", "default"})
        if unknown:
            raise ValidationError({unknown[0]: ["Unknown field; expected rules, rule, replaces, default."]})
        if ("rules" in body) == ("rule" in body):
            raise ValidationError({"rules": ["Give either rules (the whole list) or rule (one rule)."]})
        default = body.get("default")
        if default is not None and default not in engine.ACTIONS:
            raise ValidationError({"default": [f"Expected one of {', '.join(engine.ACTIONS)}."]})
        replaces = body.get("replaces")
        if replaces is not None and (isinstance(replaces, bool) or not isinstance(replaces, int)):
            raise ValidationError({"replaces": ["Expected the id of one of your rules."]})
        try:
            if "rules" in body:
                draft = export.validate_rules(body["rules"], "rules")
            else:
                draft = export.validate_rules([body["rule"]], "rule")
        except export.DocumentError as exc:
            path = exc.path.replace("rule[0]", "rule", 1) if "rule" in body else exc.path
            raise ValidationError({path: [exc.message]}) from None
        try:
            whole = replay.draft_rules(
                request.user,  # type: ignore[arg-type]
                draft if "rules" in body else None,
                None if "rules" in body else draft[0],
                replaces,
            )
            result = replay.replay(request.user, whole, default=default)  # type: ignore[arg-type]
        except ValueError as exc:  # RuleError too: a stored rule the engine rejects
            raise ValidationError({"replaces" if "no rule" in str(exc) else "rules": [str(exc)]}) from None
        fewer, more = result.fewer, result.more
        data = {
            "since": result.since,
            "until": result.until,
            "timezone": result.timezone,
            "replayed": result.replayed,
            "fewer": fewer,
            "more": more,
            "summary": f"Over the last {replay.DAYS} days you would have received {fewer} fewer and {more} more "
            f"notifications ({result.replayed} replayed).",
            "differences": result.differences,
        }
        return Response(s.ReplaySerializer(data).data)


class OwnSilencesOnly(permissions.IsAuthenticated):
    """Read what the queryset shows (yours; staff: all); end only your own."""

    message = "You may end only your own silences."

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or obj.user_id == request.user.pk


@extend_schema(
    parameters=[OpenApiParameter("active", OpenApiTypes.BOOL, description="Only those muting now (or not).")]
)
class SilenceViewSet(viewsets.ModelViewSet):
    """Your silences (staff: everyone's): mute objects until a time; end one early with PATCH ``ended_at`` or DELETE.

    DELETE ends the silence now rather than removing it: the history's decisions name it
    ("silence #id"), so it stays listed as ended.
    """

    queryset = Silence.objects.none()
    serializer_class = s.SilenceSerializer
    permission_classes = [OwnSilencesOnly]
    filter_backends: list[Any] = []  # one boolean parameter, checked in get_queryset
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Silence]:
        if getattr(self, "swagger_fake_view", False):
            return Silence.objects.none()
        queryset = Silence.objects.select_related("user")
        if not self.request.user.is_staff:
            queryset = queryset.filter(user=self.request.user)  # type: ignore[misc]
        if self.action == "list":
            check_query_parameters(self.request, {"active", "limit", "offset"}, booleans={"active"})
            active = self.request.query_params.get("active")
            if active == "true":
                queryset = queryset.active()
            elif active == "false":
                queryset = queryset.exclude(pk__in=Silence.objects.active().values("pk"))
        return queryset

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action not in (None, "list"):
            check_query_parameters(request, set())

    def perform_create(self, serializer: s.SilenceSerializer) -> None:  # type: ignore[override]
        serializer.save(user=self.request.user)

    def perform_destroy(self, instance: Silence) -> None:
        now = django_timezone.now()
        if instance.effective_end > now:
            instance.ended_at = now
            instance.save(update_fields=["ended_at"])


class TeamMembersWrite(permissions.IsAuthenticated):
    """Everyone signed in reads rotations (who is on call); a team's members and staff change its own."""

    message = "Only the team's members (and staff) may change its on-call rotation."

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS or request.user.is_staff:
            return True
        return bool(obj.team.members.filter(pk=request.user.pk).exists())


class RotationViewSet(viewsets.ModelViewSet):
    """On-call rotations by team name: members in order, hand-off time and zone, overrides; who is on call."""

    queryset = Rotation.objects.select_related("team", "fallback").prefetch_related("overrides__user")
    serializer_class = s.RotationSerializer
    permission_classes = [TeamMembersWrite]
    lookup_field = "team__name"
    lookup_url_kwarg = "team"
    lookup_value_regex = "[-a-zA-Z0-9_]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # An unknown method (no action) must reach DRF's 405, not be refused for its query string.
        if self.action is not None:
            check_query_parameters(request, {"limit", "offset"} if self.action == "list" else set())

    def perform_create(self, serializer: s.RotationSerializer) -> None:  # type: ignore[override]
        team = serializer.validated_data["team"]
        if not (self.request.user.is_staff or team.members.filter(pk=self.request.user.pk).exists()):
            raise PermissionDenied(TeamMembersWrite.message)
        serializer.save()

    def perform_update(self, serializer: s.RotationSerializer) -> None:  # type: ignore[override]
        team = serializer.validated_data.get("team")
        if team is not None and team != serializer.instance.team:  # type: ignore[union-attr]
            raise ValidationError({"team": ["A rotation cannot move to another team."]})
        with transaction.atomic():
            serializer.save()


class CoverageView(APIView):
    """Coverage gaps: the hosts and services nobody would be told about, why, and where to fix it.

    Staff see every object; an engineer those their teams own. Paginated (``limit``/``offset``).
    """

    # Declared for the schema too: drf-spectacular wraps a list answer in this paginator's page.
    pagination_class = LimitOffsetPagination

    @extend_schema(parameters=[s.CoverageQuerySerializer], responses=s.CoverageGapSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        check_query_parameters(
            request,
            {*s.CoverageQuerySerializer().fields, paginator.limit_query_param, paginator.offset_query_param},
        )
        query = s.CoverageQuerySerializer(data=query_values(request))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        found = coverage.gaps(
            request.user, reason=data.get("reason"), team=data.get("team"), host=data.get("host")
        )
        page = paginator.paginate_queryset(found, request, view=self) or []
        return paginator.get_paginated_response([s.CoverageGapSerializer.of(gap) for gap in page])
