"""REST API of the registry: natural-key URLs, idempotent PUT, ETags, deployments, bulk upsert.

Status codes of writes:

- 200: stored (or nothing to change) and nothing to deploy, or ``?wait=`` saw every
  deployment confirmed or skipped; 201 likewise for a create; 204 for a delete with nothing
  to deploy.
- 202: the config changed; ``deployments`` lists the deployment URLs (also in ``Location``
  and ``Link: <…>; rel="monitor"``). ``?wait=N`` (seconds, at most 120) waits for them.
- 409: ``?wait=`` saw a deployment fail: the change is stored, the node still runs its
  previous config; ``deployment_results`` carries the verify output. Also: object in use.
- 412: ``If-Match`` does not match the current ``ETag`` (or ``If-None-Match: *`` on PUT
  and the object exists).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from monitoring_portal import waits
from monitoring_portal.audit_api import HistoryMixin
from monitoring_portal.models import APIToken, TokenScope
from monitoring_portal.rest import JSONParser, StrictFilterBackend, check_query_parameters
from registry import drift, failover, filtersets, tasks, writes
from registry import serializers as s
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState
from registry.models import ClusterMove, Deployment, Host, HostGroup, Service
from registry.permissions import RegistryPermission, check_change, may_create, may_redeploy

MAX_WAIT_SECONDS = 120
# A waiting client re-checks its deployments after 0.1 s, then backs off to at most once a second:
# fifty waiters must not cost the database hundreds of joined reads a second while the deploy
# they wait for needs it (issue 19). A deploy run takes seconds, so the answer is at most ~1 s late.
POLL_FIRST_SECONDS = 0.1
POLL_MAX_SECONDS = 1.0
MAX_BULK_ITEMS = 1000


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object changed since you read it (ETag mismatch): read it again."
    default_code = "precondition_failed"


def caller(request: Request) -> str:
    """Who triggered a deployment: the user, and the token's name if a token was used."""
    name = request.user.get_username()
    if isinstance(request.auth, APIToken):
        name += f" (token {request.auth.name})"
    return name


def parse_wait(request: Request) -> int:
    raw = request.query_params.get("wait")
    if raw is None:
        return 0
    try:
        seconds = int(raw)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise ValidationError({"wait": [f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}."]})
    return seconds


def wait_for(
    deployments: list[Deployment], seconds: float, user_id: int | None, *, refuse_when_busy: bool = False
) -> list[Deployment]:
    """Re-read the deployments until all are final or the time is up, holding a wait slot.

    Waiting holds a web worker, so it is bounded (``monitoring_portal.waits``). Without a free
    slot a read is refused (``refuse_when_busy``: 429, it changed nothing and can ask again);
    a write, already stored, is answered at once, as when its wait ended (202 and the URLs).
    """
    if seconds <= 0:
        return _poll(deployments, 0)
    try:
        with waits.slot(user_id, seconds):
            return _poll(deployments, seconds)
    except waits.WaitsExhausted:
        if refuse_when_busy:
            raise
        return _poll(deployments, 0)


def _poll(deployments: list[Deployment], seconds: float) -> list[Deployment]:
    deadline = time.monotonic() + seconds
    pks = [d.pk for d in deployments]
    # While waiting, one indexed existence query per look; the rows (and their nodes) once, at the end.
    open_ = Deployment.objects.filter(pk__in=pks).exclude(state__in=FINAL_DEPLOYMENT_STATES)
    pause = POLL_FIRST_SECONDS
    while (remaining := deadline - time.monotonic()) > 0 and open_.exists():
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, POLL_MAX_SECONDS)
    return list(Deployment.objects.filter(pk__in=pks).select_related("node").order_by("node__name"))


def _tags(header: str | None) -> list[str]:
    return [t.strip().removeprefix("W/") for t in (header or "").split(",") if t.strip()]


def preconditions(request: Request) -> writes.Precondition:
    """If-Match / If-None-Match against the representation before the write (None: absent)."""

    def check(before: Any) -> None:
        current = s.etag_of(before) if before is not None else None
        if_match = _tags(request.headers.get("If-Match"))
        if if_match and (current is None or ("*" not in if_match and current not in if_match)):
            raise PreconditionFailed()
        if_none_match = _tags(request.headers.get("If-None-Match"))
        if current is not None and ("*" in if_none_match or current in if_none_match):
            raise PreconditionFailed("The object exists (If-None-Match).")

    return check


def write_response(
    request: Request, result: writes.WriteResult, wait: int, extra: dict[str, Any] | None = None
) -> Response:
    """The answer to a write: the object, its deployments, and a status saying how far it got."""
    deployments = result.deployments
    if deployments:
        deployments = wait_for(deployments, wait, request.user.pk)
    body: dict[str, Any] = dict(result.data) if result.data is not None else {}
    body.update(extra or {})
    headers: dict[str, str] = {}
    if result.data is not None:
        headers["ETag"] = s.etag_of(result.data)
    urls = [reverse("registry-api:deployment-detail", args=[d.pk], request=request) for d in deployments]
    body["deployments"] = urls
    body["deployment_results"] = s.DeploymentSerializer(
        deployments, many=True, context={"request": request}
    ).data
    code: int
    final = all(d.state in FINAL_DEPLOYMENT_STATES for d in deployments)
    failed = [d for d in deployments if d.state == DeploymentState.FAILED]
    if deployments and wait and final and failed:
        nodes = ", ".join(d.node.name for d in failed)
        body["detail"] = (
            f"Stored, but the deployment to {nodes} failed: that node still runs its previous config. "
            "See deployment_results (verify_output, error)."
        )
        code = status.HTTP_409_CONFLICT
    elif deployments and not (wait and final):
        code = status.HTTP_202_ACCEPTED
        headers["Location"] = urls[0]
        headers["Link"] = ", ".join(f'<{url}>; rel="monitor"' for url in urls)
    elif result.created:
        code = status.HTTP_201_CREATED
        if "url" in body:
            headers["Location"] = body["url"]
    elif result.deleted and not deployments:
        return Response(status=status.HTTP_204_NO_CONTENT)
    else:
        code = status.HTTP_200_OK
    return Response(body, status=code, headers=headers)


WAIT_PARAMETER = OpenApiParameter(
    "wait",
    OpenApiTypes.INT,
    OpenApiParameter.QUERY,
    description=f"Wait up to this many seconds (max {MAX_WAIT_SECONDS}) for the deployments to finish.",
)
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="Write only if the ETag still matches."
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="'*' on PUT: create only, 412 if the object exists.",
)


def write_result(serializer_class: Any) -> Any:
    """The serializer of a write's answer: the object plus its deployments (for the schema)."""
    name = serializer_class.__name__.removesuffix("Serializer") + "WriteResult"
    meta = type(
        "Meta", (serializer_class.Meta,), {"fields": [*serializer_class.Meta.fields, *_RESULT_FIELDS]}
    )
    doc = f"{(serializer_class.__doc__ or '').strip()} With the deployments the write requested."
    return type(name, (serializer_class,), {**_result_fields(), "Meta": meta, "__doc__": doc})


_RESULT_FIELDS = ["deployments", "deployment_results"]


def _result_fields() -> dict[str, serializers.Field]:
    return {
        "deployments": serializers.ListField(child=serializers.URLField(), read_only=True),
        "deployment_results": s.DeploymentSerializer(many=True, read_only=True),
    }


DELETE_RESULT = inline_serializer("DeleteResult", _result_fields())


def documented(serializer_class: type[serializers.Serializer], *path: OpenApiParameter) -> Any:
    """Schema of a natural-key viewset: write answers, ?wait, preconditions."""
    result = write_result(serializer_class)
    write = {200: result, 201: result, 202: result, 409: result}
    # The body is the standard error (monitoring_portal.schema fills it in).
    conditional = {
        412: OpenApiResponse(description="If-Match / If-None-Match did not hold: nothing changed.")
    }
    params = [*path, WAIT_PARAMETER, IF_MATCH]
    return extend_schema_view(
        list=extend_schema(parameters=list(path)),
        retrieve=extend_schema(parameters=list(path)),
        create=extend_schema(parameters=[*path, WAIT_PARAMETER], responses=write),
        update=extend_schema(
            parameters=[*params, IF_NONE_MATCH],
            responses={**write, **conditional},
            description="Create or replace (idempotent). Fields left out get their defaults.",
        ),
        partial_update=extend_schema(parameters=params, responses={**write, **conditional}),
        destroy=extend_schema(
            parameters=params,
            responses={202: DELETE_RESULT, 204: None, 409: DELETE_RESULT, **conditional},
        ),
    )


class RegistryViewSet(HistoryMixin, viewsets.ModelViewSet):
    """Objects addressed by name: PUT creates or replaces, writes answer with their deployments (and ``history/``)."""

    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    permission_classes = [RegistryPermission]
    # Host-groups tokens may write here; RegistryPermission checks each object against the scope.
    token_scopes = (TokenScope.HOSTGROUPS,)
    filter_backends = [StrictFilterBackend]
    parser_classes = [JSONParser]
    serializer_class: type[s.NaemonModelSerializer]

    def get_serializer_class(self) -> type[s.NaemonModelSerializer]:
        return self.serializer_class

    # --- hooks for nested resources ---
    def key_field(self) -> str:
        return self.lookup_field

    def check_parent(self) -> None:
        """Nested resources: may the caller write under the parent object?"""

    def save_kwargs(self) -> dict[str, Any]:
        return {}

    def prepare_body(self, body: dict[str, Any], instance: Any) -> dict[str, Any]:
        return body

    def check_validated(self, serializer: s.NaemonModelSerializer) -> None:
        """Last checks on the validated data before the write."""

    # --- reads ---
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_serializer(self.get_object()).data
        tag = s.etag_of(data)
        if tag in _tags(request.headers.get("If-None-Match")):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(data, headers={"ETag": tag})

    # --- writes ---
    def _body(self, request: Request, url_key: str | None, instance: Any, partial: bool) -> dict[str, Any]:
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        body = dict(request.data)
        key = self.key_field()
        if url_key is not None:
            if not partial and key in body and body[key] != url_key:
                raise ValidationError({key: [f"{key} must match the URL ({url_key!r}); rename with PATCH."]})
            if not partial or instance is None:
                body[key] = url_key
        return self.prepare_body(body, instance)

    def _write(self, request: Request, instance: Any, url_key: str | None, partial: bool) -> Response:
        check_query_parameters(request, {"wait"})  # a typo (?wiat=30) must not pass unnoticed
        wait = parse_wait(request)
        self.check_parent()
        model = self.get_queryset().model
        if instance is None and not may_create(request.user, model):
            raise PermissionDenied(f"Only staff may create {model._meta.verbose_name_plural}.")
        body = self._body(request, url_key, instance, partial)
        serializer: Any = self.get_serializer(instance, data=body, partial=partial)
        if url_key is not None and not self.save_kwargs():
            # An idempotent re-send is answered from the stored object (registry/writes.py).
            resent = writes.unchanged_resend(
                serializer, body, partial=partial, precondition=preconditions(request)
            )
            if resent is not None:
                return write_response(request, resent, wait)
        serializer.is_valid(raise_exception=True)
        self.check_validated(serializer)
        key = url_key or serializer.validated_data.get(self.key_field(), "")
        try:
            result = writes.apply_write(
                serializer,
                queryset=self.get_queryset(),
                user=request.user,
                triggered_by=caller(request),
                reason=f"{request.method} {model._meta.verbose_name} {key}",
                precondition=preconditions(request) if url_key is not None else None,
                save_kwargs=self.save_kwargs(),
            )
        except writes.Conflict as exc:
            raise s.Conflict(str(exc)) from None
        return write_response(request, result, wait)

    def _existing(self) -> Any:
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        instance = self.get_queryset().filter(**{self.lookup_field: value}).first()
        if instance is not None:
            self.check_object_permissions(self.request, instance)
        return instance

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._write(request, None, None, partial=False)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self._existing()
        if instance is None and partial:
            raise NotFound()
        return self._write(
            request, instance, self.kwargs[self.lookup_url_kwarg or self.lookup_field], partial
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        check_query_parameters(request, {"wait"})
        wait = parse_wait(request)
        self.check_parent()
        instance = self.get_object()
        model = self.get_queryset().model
        try:
            result = writes.apply_delete(
                instance,
                serializer_class=self.get_serializer_class(),
                queryset=self.get_queryset(),
                context=dict(self.get_serializer_context()),
                triggered_by=caller(request),
                reason=f"DELETE {model._meta.verbose_name} {self.kwargs[self.lookup_url_kwarg or self.lookup_field]}",
                precondition=preconditions(request),
            )
        except writes.Conflict as exc:
            raise s.Conflict(str(exc)) from None
        return write_response(request, result, wait)


NAME = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The object's name.")


class RedeployPermission(permissions.BasePermission):
    """Staff and operators (and their tokens that may act): redeploy a node, retry a deployment."""

    message = "Only staff and operators may redeploy a node or retry a deployment."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_redeploy(request.user)


EMPTY_BODY = inline_serializer("EmptyBody", {})
DEPLOY_RESULT = inline_serializer("DeployResult", _result_fields())
DEPLOY_ACTION: dict[str, Any] = {
    "request": EMPTY_BODY,
    "responses": {200: DEPLOY_RESULT, 202: DEPLOY_RESULT, 409: DEPLOY_RESULT},
}
# Operators' tokens that may act (scope "actions") may use these; host-groups tokens may not.
DEPLOY_ACTION_OPTIONS: dict[str, Any] = {
    "detail": True,
    "methods": ["post"],
    "filter_backends": [],
    "permission_classes": [RedeployPermission],
    "token_scopes": (TokenScope.ACTIONS,),
}


def deploy_action(request: Request, act: Any) -> Response:
    """Run a redeploy or retry (``act(by)``): 202 with the deployment, or 409 saying why not."""
    check_query_parameters(request, {"wait"})
    wait = parse_wait(request)
    if not isinstance(request.data, dict) or request.data:
        fields = list(request.data) if isinstance(request.data, dict) else ["non_field_errors"]
        raise ValidationError({field: ["This action takes an empty JSON object, {}."] for field in fields})
    try:
        deployment = act(caller(request))
    except drift.Refused as exc:
        raise s.Conflict(str(exc)) from None
    result = writes.WriteResult(instance=None, data=None, deployments=[deployment])
    return write_response(request, result, wait)


class ClusterMoveSerializer(serializers.ModelSerializer):
    """One move of a node's share (registry/failover.py): who took what over, when and why."""

    node = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        read_only=True,
        slug_field="name",
        help_text="The node whose share moved (it went down, or came back).",
    )
    window_end = serializers.SerializerMethodField(
        help_text="When the failover window ended (the move's deployments finished); null while "
        "they run. Inside the window two nodes may check, or nobody may check, the share."
    )
    deployments = serializers.HyperlinkedRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True, view_name="registry-api:deployment-detail"
    )

    class Meta:
        model = ClusterMove
        fields = ["at", "node", "kind", "taken_by", "reason", "window_start", "window_end", "deployments"]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {"help_text": "down: the share left the node; back: it returned."},
            "taken_by": {"help_text": "The node that checks the share now (empty: nobody)."},
            "window_start": {"help_text": "The first unanswered probe (down) or the core's restart (back)."},
        }

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_window_end(self, obj: ClusterMove) -> Any:
        end = failover.window_end(obj)
        return serializers.DateTimeField().to_representation(end) if end else None


@documented(s.NaemonNodeSerializer, NAME)
class NaemonNodeViewSet(RegistryViewSet):
    """Naemon cores (masters and pollers). Staff only for writes."""

    queryset = s.NaemonNodeSerializer.read_queryset()
    serializer_class = s.NaemonNodeSerializer
    filterset_class = filtersets.NaemonNodeFilterSet

    @extend_schema(parameters=[NAME], responses=ClusterMoveSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def moves(self, request: Request, name: str | None = None) -> Response:
        """The moves of this node's share and the shares it took over, newest first."""
        check_query_parameters(request, {"limit", "offset"})
        node = self.get_object()
        moves = (
            ClusterMove.objects.filter(models.Q(node=node) | models.Q(taken_by=node.name))
            .select_related("node")
            .prefetch_related("deployments")
        )
        page = self.paginate_queryset(moves)
        return self.get_paginated_response(
            ClusterMoveSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(parameters=[NAME, WAIT_PARAMETER], **DEPLOY_ACTION)
    @action(**DEPLOY_ACTION_OPTIONS)
    def redeploy(self, request: Request, name: str | None = None) -> Response:
        """Deploy this node again, written and reloaded even if nothing changed (staff, operators)."""
        node = self.get_object()
        return deploy_action(
            request, lambda by: drift.redeploy(node, by=by, request=tasks.request_deployments)
        )


@documented(s.TimePeriodSerializer, NAME)
class TimePeriodViewSet(RegistryViewSet):
    queryset = s.TimePeriodSerializer.read_queryset()
    serializer_class = s.TimePeriodSerializer
    filterset_class = filtersets.TimePeriodFilterSet


@documented(s.CommandSerializer, NAME)
class CommandViewSet(RegistryViewSet):
    queryset = s.CommandSerializer.read_queryset()
    serializer_class = s.CommandSerializer
    filterset_class = filtersets.CommandFilterSet


@documented(s.ContactSerializer, NAME)
class ContactViewSet(RegistryViewSet):
    """Contacts; staff write them, a user may update their own."""

    queryset = s.ContactSerializer.read_queryset()
    serializer_class = s.ContactSerializer
    filterset_class = filtersets.ContactFilterSet


@documented(s.ContactGroupSerializer, NAME)
class ContactGroupViewSet(RegistryViewSet):
    queryset = s.ContactGroupSerializer.read_queryset()
    serializer_class = s.ContactGroupSerializer
    filterset_class = filtersets.ContactGroupFilterSet


@documented(s.HostGroupSerializer, NAME)
class HostGroupViewSet(RegistryViewSet):
    """Host groups: ownership (team) and placement (poller)."""

    queryset = s.HostGroupSerializer.read_queryset()
    serializer_class = s.HostGroupSerializer
    filterset_class = filtersets.HostGroupFilterSet


@documented(s.ServiceGroupSerializer, NAME)
class ServiceGroupViewSet(RegistryViewSet):
    queryset = s.ServiceGroupSerializer.read_queryset()
    serializer_class = s.ServiceGroupSerializer
    filterset_class = filtersets.ServiceGroupFilterSet


@documented(s.HostTemplateSerializer, NAME)
class HostTemplateViewSet(RegistryViewSet):
    queryset = s.HostTemplateSerializer.read_queryset()
    serializer_class = s.HostTemplateSerializer
    filterset_class = filtersets.HostTemplateFilterSet


@documented(s.ServiceTemplateSerializer, NAME)
class ServiceTemplateViewSet(RegistryViewSet):
    queryset = s.ServiceTemplateSerializer.read_queryset()
    serializer_class = s.ServiceTemplateSerializer
    filterset_class = filtersets.ServiceTemplateFilterSet


@documented(s.HostSerializer, NAME)
class HostViewSet(RegistryViewSet):
    """Hosts, with their services. ``lease_seconds`` makes a short-lived host (renew with PUT)."""

    queryset = s.HostSerializer.read_queryset()
    serializer_class = s.HostSerializer
    filterset_class = filtersets.HostFilterSet


DESCRIPTION = OpenApiParameter(
    "description",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The service description (URL-encoded).",
)
HOST = OpenApiParameter("host", OpenApiTypes.STR, OpenApiParameter.PATH, description="The host's name.")
HOSTGROUP = OpenApiParameter(
    "hostgroup", OpenApiTypes.STR, OpenApiParameter.PATH, description="The host group's name."
)


class NestedServiceViewSet(RegistryViewSet):
    """Services under their host or host group, addressed by description."""

    lookup_field = "description"
    lookup_value_regex = ".+"
    filterset_class = filtersets.ServiceFilterSet
    parent_model: type[models.Model]
    parent_kwarg: str

    def parent(self) -> Any:
        if not hasattr(self, "_parent"):
            queryset = self.parent_model._default_manager.all()
            if self.parent_model is Host:
                queryset = queryset.prefetch_related("hostgroups")  # for its owning teams
            self._parent = get_object_or_404(queryset, name=self.kwargs[self.parent_kwarg])
        return self._parent

    def check_parent(self) -> None:
        check_change(self.request.user, self.parent())


@documented(s.HostServiceSerializer, HOST, DESCRIPTION)
class HostServiceViewSet(NestedServiceViewSet):
    """The services of one host: ``/hosts/<host>/services/<description>/``."""

    queryset = Service.objects.none()
    serializer_class = s.HostServiceSerializer
    parent_model = Host
    parent_kwarg = "host"

    def get_queryset(self) -> QuerySet[Service]:
        if getattr(self, "swagger_fake_view", False):
            return Service.objects.none()
        return s.ServiceSerializer.read_queryset().filter(host=self.parent())

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):
            context["host"] = self.parent()
        return context

    def save_kwargs(self) -> dict[str, Any]:
        return {"host": self.parent()}


@documented(s.ServiceSerializer, HOSTGROUP, DESCRIPTION)
class HostGroupServiceViewSet(NestedServiceViewSet):
    """Services on every host of a host group: ``/hostgroups/<hostgroup>/services/<description>/``."""

    queryset = Service.objects.none()
    serializer_class = s.ServiceSerializer
    parent_model = HostGroup
    parent_kwarg = "hostgroup"

    def get_queryset(self) -> QuerySet[Service]:
        if getattr(self, "swagger_fake_view", False):
            return Service.objects.none()
        return s.ServiceSerializer.read_queryset().filter(host__isnull=True, hostgroups=self.parent())

    def prepare_body(self, body: dict[str, Any], instance: Any) -> dict[str, Any]:
        if self.request.method != "PATCH":  # PUT replaces: absent host groups mean the URL's
            body.setdefault("hostgroups", [self.parent().name])
        return body

    def check_validated(self, serializer: s.NaemonModelSerializer) -> None:
        groups = serializer.validated_data.get("hostgroups")
        if groups is not None and self.parent() not in groups:
            raise ValidationError(
                {"hostgroups": [f"hostgroups must include {self.parent().name}, the group in the URL."]}
            )


@extend_schema_view(list=extend_schema(description="Every service; filter by host, hostgroup, template, …"))
class ServiceViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """All services (read); write them under their host or host group."""

    queryset = s.ServiceSerializer.read_queryset()
    serializer_class = s.ServiceSerializer
    filterset_class = filtersets.ServiceFilterSet
    filter_backends = [StrictFilterBackend]
    permission_classes = [RegistryPermission]


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter(
                "wait",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                description=f"Wait up to this many seconds (max {MAX_WAIT_SECONDS}) for a final state.",
            )
        ]
    )
)
class DeploymentViewSet(viewsets.ReadOnlyModelViewSet):
    """Deployments: one per attempt to bring a node to the registry's latest state."""

    queryset = Deployment.objects.select_related("node")
    serializer_class = s.DeploymentSerializer
    filterset_class = filtersets.DeploymentFilterSet
    filter_backends = [StrictFilterBackend]
    permission_classes = [RegistryPermission]
    token_scopes: tuple[str, ...] = ()  # retry/ lists its own

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        wait = parse_wait(request)
        deployment = self.get_object()
        if wait and deployment.state not in FINAL_DEPLOYMENT_STATES:
            deployment = wait_for([deployment], wait, request.user.pk, refuse_when_busy=True)[0]
        return Response(self.get_serializer(deployment).data)

    @extend_schema(parameters=[WAIT_PARAMETER], **DEPLOY_ACTION)
    @action(**DEPLOY_ACTION_OPTIONS)
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Try this failed deployment again, when it is its node's latest (staff, operators)."""
        deployment = self.get_object()
        return deploy_action(
            request, lambda by: drift.retry(deployment, by=by, request=tasks.request_deployments)
        )


# --- bulk ---------------------------------------------------------------------------------


class BulkHostsSerializer(serializers.Serializer):
    hosts = s.HostSerializer(many=True, help_text=f"At most {MAX_BULK_ITEMS} hosts, each as for PUT.")


class BulkItemResultSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["created", "updated", "renewed", "unchanged", "valid", "invalid", "forbidden"],
        help_text="renewed: only the lease changed (no deployment). valid: would have been stored, "
        "but another item failed, so nothing was.",
    )
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.JSONField(), required=False
    )


class BulkHostsResultSerializer(serializers.Serializer):
    detail = serializers.CharField(required=False)
    results = BulkItemResultSerializer(many=True)
    deployments = serializers.ListField(child=serializers.URLField(), required=False)
    deployment_results = s.DeploymentSerializer(many=True, required=False)


class BulkHostsView(GenericAPIView):
    """Create or replace many hosts (with their services) in one transaction: all or nothing.

    Each item is a PUT of ``/hosts/<name>/``. If any item is invalid (400) or not the
    caller's to write (403), nothing is stored and every item's status says why. Otherwise
    one deployment per affected node is requested for the whole batch.
    """

    permission_classes = [RegistryPermission]
    token_scopes = (TokenScope.HOSTGROUPS,)
    parser_classes = [JSONParser]
    serializer_class = BulkHostsSerializer
    queryset = Host.objects.none()
    write_model = Host

    @extend_schema(
        request=BulkHostsSerializer,
        parameters=[WAIT_PARAMETER],
        responses={
            200: BulkHostsResultSerializer,
            202: BulkHostsResultSerializer,
            400: BulkHostsResultSerializer,
            403: BulkHostsResultSerializer,
            409: BulkHostsResultSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        wait = parse_wait(request)
        items = request.data.get("hosts") if isinstance(request.data, dict) else None
        if not isinstance(items, list):
            raise ValidationError({"hosts": ["Expected a list of hosts."]})
        if len(items) > MAX_BULK_ITEMS:
            raise ValidationError({"hosts": [f"At most {MAX_BULK_ITEMS} hosts per request."]})
        bulk = writes.bulk_upsert_hosts(
            items,
            user=request.user,
            context=dict(self.get_serializer_context()),
            triggered_by=caller(request),
        )
        bad = bulk.refused
        if bad:
            forbidden = any(r["status"] == "forbidden" for r in bad)
            return Response(
                {
                    "detail": f"Nothing was stored: {len(bad)} of {len(items)} hosts failed.",
                    "results": bulk.results,
                },
                status=status.HTTP_403_FORBIDDEN if forbidden else status.HTTP_400_BAD_REQUEST,
            )
        result = writes.WriteResult(instance=None, data=None, deployments=bulk.deployments)
        return write_response(request, result, wait, extra={"results": bulk.results})
