"""REST API of the status area: live hosts, services, problems, downtimes, node health, actions.

Live lists ask every node at once and answer with the rows of those that answered plus
``unreachable: [{node, error}]`` for the others (200 even then: a partial picture is
still the truth about the nodes that answered). Their query parameters are the filters
of the pages (``livestatus.forms.StatusFilterForm``); an unknown parameter is a 400.

One object: ``hosts/<host>/`` and ``services/<host>/<service>/`` (the description is the
rest of the path, so it may contain ``/``), or ``object/?host=&service=`` for any name (a
host name with ``/``): everything its detail page shows, and which actions the caller may
take on it. 404 when no node that answered knows it; 400 for a name no query or command
may carry (a line break, ``;``): nothing is asked then.

Actions are POSTs to ``actions/<kind>/``; they go to every node holding the object, its
checker first (``livestatus.actions``). The answer is the recorded ``ActionLog`` entry with
each node's outcome (``deliveries``): 201 when every node took it; 202 when the checker took
it but a copy did not (``complete`` false; a queued copy is retried when its node answers);
502 when the checker could not be reached or rejected it (nothing happened there; queued
copies are retried). 403 when the caller may not act on the object, 400 for invalid input:
nothing is sent and nothing recorded then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from livestatus import actions
from livestatus import status as live
from livestatus.actions import ActionForbidden, ActionInvalid, Target
from livestatus.api import serializers as s
from livestatus.availability import WINDOWS
from livestatus.detail import (
    HISTORY_ROWS,
    availabilities,
    available_actions,
    host_detail,
    object_availability,
    service_detail,
)
from livestatus.filtersets import ActionLogFilterSet
from livestatus.forms import StatusFilterForm
from livestatus.models import ActionKind, ActionLog
from monitoring_portal.models import APIToken, TokenScope
from monitoring_portal.rest import LimitOffsetPagination, StrictFilterBackend, check_query_parameters
from registry.models import NaemonNode

#: Query parameters that are not filters: pagination and DRF's format override.
PAGING_PARAMETERS = frozenset({"limit", "offset", "format"})


class StatusPagination(LimitOffsetPagination):
    """limit/offset over live rows (bounded like every list), with the nodes that did not answer."""

    def get_status_response(self, data: Any, unreachable: list[live.Unreachable]) -> Response:
        response = self.get_paginated_response(data)
        response.data["unreachable"] = s.UnreachableSerializer(unreachable, many=True).data
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        answer = super().get_paginated_response_schema(schema)
        answer["required"] = [*answer.get("required", []), "unreachable"]
        answer["properties"]["unreachable"] = {
            "type": "array",
            "description": "Nodes that did not answer; their objects are missing from results.",
            "items": {
                "type": "object",
                "properties": {"node": {"type": "string"}, "error": {"type": "string"}},
                "required": ["node", "error"],
            },
        }
        return answer


def _choice_values(field: forms.ChoiceField) -> list[str]:
    choices = cast(Iterable[tuple[Any, Any]], field.choices)
    return [str(value) for value, _ in choices if value]


def _filter_parameters(kind: str) -> list[OpenApiParameter]:
    """OpenAPI query parameters from the page filter form, so the two cannot drift apart."""
    form = StatusFilterForm(kind=kind)
    params = []
    for name, field in form.fields.items():
        enum = None
        many = False
        if isinstance(field, forms.MultipleChoiceField):
            enum, many = _choice_values(field), True
        elif isinstance(field, forms.TypedChoiceField):
            enum = _choice_values(field)
        params.append(
            OpenApiParameter(
                name,
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description=str(field.help_text),
                enum=enum,
                many=many or None,
                explode=True if many else None,
            )
        )
    return params


class LiveListViewSet(viewsets.GenericViewSet):
    """A live list: validate the filters, ask the nodes, page the rows."""

    pagination_class = StatusPagination
    filter_backends: list[Any] = []
    kind = ""

    def ask(self, filters: live.StatusFilter) -> live.StatusResult:
        """The rows of this list."""
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[NaemonNode]:
        # The rows come from Livestatus, not the database; the browsable API still asks.
        return NaemonNode.objects.none()

    def filters(self, request: Request) -> live.StatusFilter:
        """The validated filters of the request (400 for unknown or invalid ones)."""
        form = StatusFilterForm(request.query_params, kind=self.kind)
        check_query_parameters(
            request,
            set(form.fields) | PAGING_PARAMETERS,
            multi_valued=[n for n, f in form.fields.items() if isinstance(f, forms.MultipleChoiceField)],
        )
        if not form.is_valid():
            raise ValidationError(
                {name: [str(m) for m in messages] for name, messages in form.errors.items()}
            )
        return form.to_filter()

    def list(self, request: Request) -> Response:
        result = self.ask(self.filters(request))
        paginator = self.paginator
        assert isinstance(paginator, StatusPagination)
        page = paginator.paginate_queryset(result.rows, request, view=self)
        data = self.get_serializer(page, many=True).data
        return paginator.get_status_response(data, result.unreachable)


@extend_schema_view(
    list=extend_schema(summary="Live hosts of every node", parameters=_filter_parameters("hosts"))
)
class HostStatusViewSet(LiveListViewSet):
    """Hosts as the cores see them now."""

    serializer_class = s.HostStatusSerializer
    kind = "hosts"

    def ask(self, filters: live.StatusFilter) -> live.StatusResult:
        return live.hosts(filters)


@extend_schema_view(
    list=extend_schema(summary="Live services of every node", parameters=_filter_parameters("services"))
)
class ServiceStatusViewSet(LiveListViewSet):
    """Services as the cores see them now."""

    serializer_class = s.ServiceStatusSerializer
    kind = "services"

    def ask(self, filters: live.StatusFilter) -> live.StatusResult:
        return live.services(filters)


@extend_schema_view(
    list=extend_schema(
        summary="Hosts not UP and services not OK, most severe and newest first",
        parameters=_filter_parameters("problems"),
    )
)
class ProblemViewSet(LiveListViewSet):
    """Problems (checked at least once), most severe first, then newest first."""

    serializer_class = s.ProblemSerializer
    kind = "problems"

    def ask(self, filters: live.StatusFilter) -> live.StatusResult:
        return live.problems(filters)


_DOWNTIME_PARAMETERS = [
    OpenApiParameter("host", OpenApiTypes.STR, description="Exact host name."),
    OpenApiParameter("service", OpenApiTypes.STR, description="Exact service description."),
    OpenApiParameter("node", OpenApiTypes.STR, description="Only this node."),
]


@extend_schema_view(
    list=extend_schema(summary="Scheduled downtimes of every node", parameters=_DOWNTIME_PARAMETERS)
)
class DowntimeViewSet(LiveListViewSet):
    """Scheduled downtimes, by start (filters: host, service, node)."""

    serializer_class = s.DowntimeSerializer
    kind = "services"

    def filters(self, request: Request) -> live.StatusFilter:
        check_query_parameters(request, {param.name for param in _DOWNTIME_PARAMETERS} | PAGING_PARAMETERS)
        return super().filters(request)

    def ask(self, filters: live.StatusFilter) -> live.StatusResult:
        return live.downtimes(filters)


@extend_schema_view(list=extend_schema(summary="Health of every Naemon node"))
class NodeHealthViewSet(LiveListViewSet):
    """Per node: reachable (or the error), core and version, start, object counts, last deployment."""

    serializer_class = s.NodeHealthSerializer

    def filters(self, request: Request) -> live.StatusFilter:
        check_query_parameters(request, PAGING_PARAMETERS)
        return live.StatusFilter()

    def ask(self, filters: live.StatusFilter) -> live.StatusResult:
        return live.node_health()


# -- one object ------------------------------------------------------------------------------

_DETAIL_OPTIONS = [
    OpenApiParameter("node", OpenApiTypes.STR, description="Ask only this node."),
    OpenApiParameter(
        "history_limit",
        OpenApiTypes.INT,
        description=f"The newest N history rows (default {s.DEFAULT_HISTORY_LIMIT}, 0 to {HISTORY_ROWS}).",
    ),
]
_PATH_HOST = OpenApiParameter("host", OpenApiTypes.STR, OpenApiParameter.PATH, description="Host name.")
_PATH_SERVICE = OpenApiParameter(
    "service",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="Service description (the rest of the path: it may contain '/').",
)
_QUERY_NAMES = [
    OpenApiParameter("host", OpenApiTypes.STR, required=True, description="Host name (any, even with '/')."),
    OpenApiParameter("service", OpenApiTypes.STR, description="Service description; absent: the host."),
]
_DETAIL_RESPONSES = {
    200: s.ObjectDetailSerializer,
    400: OpenApiResponse(description="A name with a line break or ';', or a bad option: nothing asked."),
    404: OpenApiResponse(description="No node that answered knows the object (see `unreachable`)."),
}


class ObjectDetailView(APIView):
    """A host or service with everything its detail page shows, and what the caller may do to it."""

    #: Names the URL path carries (the rest come from the query string).
    path_names: tuple[str, ...] = ()

    def get(self, request: Request, **names: str) -> Response:
        allowed = {param.name for param in _DETAIL_OPTIONS}
        if not self.path_names:
            allowed |= {param.name for param in _QUERY_NAMES}
        check_query_parameters(request, allowed)
        query = s.DetailQuerySerializer(data={**request.query_params.dict(), **names})
        query.is_valid(raise_exception=True)
        options = query.validated_data
        target = Target(options["host"], options["service"])
        if target.service:
            detail = service_detail(target.host, target.service, options["node"])
        else:
            detail = host_detail(target.host, options["node"])
        unreachable = s.UnreachableSerializer(detail.unreachable, many=True).data
        if detail.row is None:
            body = {"detail": f"No node that answered knows {target}.", "unreachable": unreachable}
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        denial = actions.denial(request.user, target)
        data = detail.row | {
            "nodes": detail.nodes,
            "comments": detail.comments,
            "downtimes": detail.downtimes,
            "history": None if detail.history is None else detail.history[: options["history_limit"]],
            "history_error": detail.history_error,
            "services": detail.services,
            "can": available_actions(detail, may_act=denial is None),
            "denial": denial or "",
            "unreachable": detail.unreachable,
        }
        return Response(s.ObjectDetailSerializer(data).data)


class HostDetailView(ObjectDetailView):
    """A host with everything its detail page shows (its services too), and what you may do to it."""

    path_names = ("host",)

    @extend_schema(
        summary="One host: state, output, comments, downtimes, history, services, what you may do",
        parameters=[_PATH_HOST, *_DETAIL_OPTIONS],
        responses=_DETAIL_RESPONSES,
    )
    def get(self, request: Request, **names: str) -> Response:
        return super().get(request, **names)


class ServiceDetailView(ObjectDetailView):
    """A service with everything its detail page shows, and what you may do to it.

    The description is the rest of the path (it may contain '/'); a host name with '/'
    does not fit the path: use ``object/?host=&service=``.
    """

    path_names = ("host", "service")

    @extend_schema(
        summary="One service: state, output, comments, downtimes, history, what you may do",
        parameters=[_PATH_HOST, _PATH_SERVICE, *_DETAIL_OPTIONS],
        responses=_DETAIL_RESPONSES,
    )
    def get(self, request: Request, **names: str) -> Response:
        return super().get(request, **names)


class QueryDetailView(ObjectDetailView):
    """A host (``?host=``) or service (``?host=&service=``) by the query string: any name fits."""

    @extend_schema(
        summary="One host or service named in the query string (any name fits)",
        parameters=[*_QUERY_NAMES, *_DETAIL_OPTIONS],
        responses=_DETAIL_RESPONSES,
    )
    def get(self, request: Request, **names: str) -> Response:
        return super().get(request, **names)


_AVAILABILITY_OPTIONS = [
    OpenApiParameter("node", OpenApiTypes.STR, description="Ask only this node."),
    OpenApiParameter("window", OpenApiTypes.STR, enum=list(WINDOWS), description="How far back from now."),
]


class AvailabilityView(APIView):
    """Percent of a window in each state, and the state timeline, from the object's node's log.

    Time before the first state the log records is "no data", apart from the states.
    """

    path_names: tuple[str, ...] = ()

    def get(self, request: Request, **names: str) -> Response:
        allowed = {param.name for param in _AVAILABILITY_OPTIONS}
        if not self.path_names:
            allowed |= {param.name for param in _QUERY_NAMES}
        check_query_parameters(request, allowed)
        query = s.AvailabilityQuerySerializer(data={**request.query_params.dict(), **names})
        query.is_valid(raise_exception=True)
        options = query.validated_data
        target = Target(options["host"], options["service"])
        row, owner, failed = object_availability(target.host, target.service, options["node"])
        unreachable = s.UnreachableSerializer(failed, many=True).data
        if row is None or owner is None:
            body = {"detail": f"No node that answered knows {target}.", "unreachable": unreachable}
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        found, error = availabilities(owner, row, [options["window"]])
        if found is None:
            body = {"detail": f"The log of {owner.name} is not readable: {error}", "unreachable": unreachable}
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        result = found[options["window"]]
        data = {
            "host": target.host,
            "service": target.service,
            "node": owner.name,
            "window": options["window"],
            "start": live.timestamp(result.start),
            "end": live.timestamp(result.end),
            "percent": result.percent(),
            "seconds": result.seconds(),
            "timeline": [
                {
                    "start": live.timestamp(segment.start),
                    "end": live.timestamp(segment.end),
                    "state": result.label(segment.state),
                    "seconds": segment.seconds,
                }
                for segment in result.segments
            ],
            "unreachable": failed,
        }
        return Response(s.AvailabilitySerializer(data).data)


_AVAILABILITY_RESPONSES = {
    200: s.AvailabilitySerializer,
    400: OpenApiResponse(description="A name with a line break or ';', or an unknown window: nothing asked."),
    404: OpenApiResponse(description="No node that answered knows the object (see `unreachable`)."),
    503: OpenApiResponse(description="The object's node did not answer its log query."),
}


class HostAvailabilityView(AvailabilityView):
    """A host's availability over a window."""

    path_names = ("host",)

    @extend_schema(
        summary="A host's availability: percent UP/DOWN/UNREACHABLE over 24h, 7d or 30d, and its timeline",
        parameters=[_PATH_HOST, *_AVAILABILITY_OPTIONS],
        responses=_AVAILABILITY_RESPONSES,
    )
    def get(self, request: Request, **names: str) -> Response:
        return super().get(request, **names)


class QueryAvailabilityView(AvailabilityView):
    """A host's (``?host=``) or service's (``?host=&service=``) availability: any name fits."""

    @extend_schema(
        summary="A host's or service's availability over 24h, 7d or 30d, and its timeline",
        parameters=[*_QUERY_NAMES, *_AVAILABILITY_OPTIONS],
        responses=_AVAILABILITY_RESPONSES,
    )
    def get(self, request: Request, **names: str) -> Response:
        return super().get(request, **names)


# -- actions --------------------------------------------------------------------------------


def _via(request: Request) -> str:
    if isinstance(request.auth, APIToken):
        return f"api (token {request.auth.name})"
    return "api"


_ACTION_RESPONSES = {
    201: OpenApiResponse(s.ActionLogSerializer, description="Every node holding the object took it."),
    202: OpenApiResponse(
        s.ActionLogSerializer,
        description="The checker took it, some copy did not (`complete` false, see `deliveries`): a "
        "queued copy is retried when its node answers again.",
    ),
    400: OpenApiResponse(
        description="Invalid input (a line break, ';' in a name, unknown node...): nothing sent."
    ),
    403: OpenApiResponse(description="Not staff and not in the team that owns the host: nothing sent."),
    502: OpenApiResponse(
        s.ActionLogSerializer,
        description="The checker could not be reached or rejected the command (recorded; queued copies "
        "are retried).",
    ),
}


@extend_schema_view(
    list=extend_schema(
        summary="The record of operator actions (staff and operators: all; others: their own)"
    ),
    retrieve=extend_schema(summary="One recorded action"),
)
class ActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Operator actions: POST one kind to act; GET the record."""

    # Actions-only tokens may POST here; livestatus.actions checks who may act on what.
    token_scopes = (TokenScope.ACTIONS,)
    serializer_class = s.ActionLogSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = ActionLogFilterSet

    def get_queryset(self) -> QuerySet[ActionLog]:
        queryset = ActionLog.objects.all()
        if not actions.sees_every_action(self.request.user):
            queryset = queryset.filter(user=self.request.user.pk)
        return queryset

    def perform_action(self, request: Request, kind: str) -> Response:
        """Validate, check, send and record; the answer is the record (see the module docstring)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assert isinstance(serializer, s.TargetSerializer)
        data = serializer.validated_data
        target = Target(data["host"], data.get("service") or "")
        try:
            entry = actions.perform(
                request.user,
                kind,
                target,
                serializer.params(),
                node=data.get("node") or "",
                via=_via(request),
            )
        except ActionForbidden as exc:
            raise PermissionDenied(str(exc)) from None
        except ActionInvalid as exc:
            raise ValidationError({exc.field or "non_field_errors": [str(exc)]}) from None
        body = s.ActionLogSerializer(entry, context=self.get_serializer_context()).data
        code: int = status.HTTP_502_BAD_GATEWAY
        if entry.ok:
            code = status.HTTP_201_CREATED if entry.complete else status.HTTP_202_ACCEPTED
        return Response(body, status=code)

    @extend_schema(
        summary="Acknowledge a problem", request=s.AcknowledgeSerializer, responses=_ACTION_RESPONSES
    )
    @action(detail=False, methods=["post"], serializer_class=s.AcknowledgeSerializer)
    def acknowledge(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.ACKNOWLEDGE)

    @extend_schema(
        summary="Remove an acknowledgement", request=s.TargetSerializer, responses=_ACTION_RESPONSES
    )
    @action(
        detail=False, methods=["post"], url_path="remove-acknowledgement", serializer_class=s.TargetSerializer
    )
    def remove_acknowledgement(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.REMOVE_ACKNOWLEDGEMENT)

    @extend_schema(
        summary="Schedule a downtime", request=s.DowntimeRequestSerializer, responses=_ACTION_RESPONSES
    )
    @action(detail=False, methods=["post"], serializer_class=s.DowntimeRequestSerializer)
    def downtime(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.DOWNTIME)

    @extend_schema(
        summary="Delete a downtime", request=s.DeleteDowntimeSerializer, responses=_ACTION_RESPONSES
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="delete-downtime",
        serializer_class=s.DeleteDowntimeSerializer,
    )
    def delete_downtime(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.DELETE_DOWNTIME)

    @extend_schema(
        summary="Re-check now (forced check)", request=s.TargetSerializer, responses=_ACTION_RESPONSES
    )
    @action(detail=False, methods=["post"], serializer_class=s.TargetSerializer)
    def recheck(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.RECHECK)

    @extend_schema(summary="Add a comment", request=s.CommentRequestSerializer, responses=_ACTION_RESPONSES)
    @action(detail=False, methods=["post"], serializer_class=s.CommentRequestSerializer)
    def comment(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.COMMENT)

    @extend_schema(
        summary="Enable notifications (on every node holding it)",
        request=s.TargetSerializer,
        responses=_ACTION_RESPONSES,
    )
    @action(
        detail=False, methods=["post"], url_path="enable-notifications", serializer_class=s.TargetSerializer
    )
    def enable_notifications(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.ENABLE_NOTIFICATIONS)

    @extend_schema(
        summary="Disable notifications (on every node holding it)",
        request=s.TargetSerializer,
        responses=_ACTION_RESPONSES,
    )
    @action(
        detail=False, methods=["post"], url_path="disable-notifications", serializer_class=s.TargetSerializer
    )
    def disable_notifications(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.DISABLE_NOTIFICATIONS)

    @extend_schema(
        summary="Enable active checks (on its checker only)",
        request=s.TargetSerializer,
        responses=_ACTION_RESPONSES,
    )
    @action(detail=False, methods=["post"], url_path="enable-checks", serializer_class=s.TargetSerializer)
    def enable_checks(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.ENABLE_CHECKS)

    @extend_schema(
        summary="Disable active checks (on its checker only)",
        request=s.TargetSerializer,
        responses=_ACTION_RESPONSES,
    )
    @action(detail=False, methods=["post"], url_path="disable-checks", serializer_class=s.TargetSerializer)
    def disable_checks(self, request: Request) -> Response:
        return self.perform_action(request, ActionKind.DISABLE_CHECKS)
