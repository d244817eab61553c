"""Dependencies and escalations in the REST API: ``hostdependencies/``, ``servicedependencies/``,
``hostescalations/``, ``serviceescalations/`` under /api/v1/registry/, addressed by id.

They have no name in Naemon, so POST creates (the answer's ``url`` addresses the new object),
PUT replaces and PATCH changes an existing one (404 if there is none), DELETE removes it. The
write path is the registry's (registry/writes.py): one transaction, deployments of the nodes
that hold the dependent object, 403 unless the caller owns that object before and after.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from registry.api.views import (
    DELETE_RESULT,
    IF_MATCH,
    IF_NONE_MATCH,
    WAIT_PARAMETER,
    RegistryViewSet,
    write_result,
)
from registry.filtersets import RegistryFilterSet
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from registry.serializers.relations import (
    HostDependencySerializer,
    HostEscalationSerializer,
    ServiceDependencySerializer,
    ServiceEscalationSerializer,
    relation_querysets,
)

ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The object's id.")


def documented(serializer_class: Any) -> Any:
    """Schema of a relation viewset: write answers, ?wait, preconditions (PUT replaces, never creates)."""
    result = write_result(serializer_class)
    write = {200: result, 201: result, 202: result, 409: result}
    conditional = {
        412: OpenApiResponse(description="If-Match / If-None-Match did not hold: nothing changed.")
    }
    params = [ID, WAIT_PARAMETER, IF_MATCH]
    return extend_schema_view(
        retrieve=extend_schema(parameters=[ID]),
        create=extend_schema(parameters=[WAIT_PARAMETER], responses=write),
        update=extend_schema(
            parameters=[*params, IF_NONE_MATCH],
            responses={**write, **conditional},
            description="Replace (404 if there is none). Fields left out get their defaults.",
        ),
        partial_update=extend_schema(parameters=params, responses={**write, **conditional}),
        destroy=extend_schema(
            parameters=params, responses={202: DELETE_RESULT, 204: None, 409: DELETE_RESULT, **conditional}
        ),
    )


class RelationViewSet(RegistryViewSet):
    """Relations by id: PUT and PATCH change an existing one; POST creates."""

    lookup_field = "pk"
    lookup_value_regex = "[0-9]+"
    # Relations are not in the audited models' history (yet): no ``history/`` here.
    history = None  # type: ignore[assignment]  # DRF finds actions by attribute: None removes it

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        # Ids are the portal's to give: PUT never creates (404), unlike PUT by name.
        instance = self.get_object()
        return self._write(request, instance, str(instance.pk), partial)

    def _body(self, request: Request, url_key: str | None, instance: Any, partial: bool) -> dict[str, Any]:
        # The URL's id addresses the object (and its ETag); the body's "id", if any, is read-only.
        return super()._body(request, None, instance, partial)


class _DependentFilterSet(RegistryFilterSet):
    """Filters shared by the relations: the dependent's host and owning team."""

    host_field = "host"

    def filter_team(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        host = self.host_field
        return queryset.filter(
            Q(**{f"{host}__team__name": value}) | Q(**{f"{host}__hostgroups__team__name": value})
        ).distinct()


class HostDependencyFilterSet(_DependentFilterSet):
    search_fields = ("host__name", "master_host__name")
    host = django_filters.CharFilter(field_name="host__name", label="Dependent host")
    master_host = django_filters.CharFilter(field_name="master_host__name")
    team = django_filters.CharFilter(method="filter_team", label="Owning team (of the dependent host)")

    class Meta:
        model = HostDependency
        fields = ["host", "master_host", "inherits_parent", "team"]


class ServiceDependencyFilterSet(_DependentFilterSet):
    host_field = "service__host"
    search_fields = ("service__description", "service__host__name", "master_service__description")
    host = django_filters.CharFilter(field_name="service__host__name", label="Host of the dependent service")
    service = django_filters.CharFilter(
        field_name="service__description", label="Dependent service's description"
    )
    master_host = django_filters.CharFilter(field_name="master_service__host__name")
    master_service = django_filters.CharFilter(field_name="master_service__description")
    team = django_filters.CharFilter(method="filter_team", label="Owning team (of the dependent service)")

    class Meta:
        model = ServiceDependency
        fields = ["host", "service", "master_host", "master_service", "inherits_parent", "team"]


class HostEscalationFilterSet(_DependentFilterSet):
    search_fields = ("host__name",)
    host = django_filters.CharFilter(field_name="host__name")
    contact = django_filters.CharFilter(field_name="contacts__name", distinct=True)
    contact_group = django_filters.CharFilter(field_name="contact_groups__name", distinct=True)
    team = django_filters.CharFilter(method="filter_team", label="Owning team (of the host)")

    class Meta:
        model = HostEscalation
        fields = ["host", "contact", "contact_group", "team"]


class ServiceEscalationFilterSet(_DependentFilterSet):
    host_field = "service__host"
    search_fields = ("service__description", "service__host__name")
    host = django_filters.CharFilter(field_name="service__host__name")
    service = django_filters.CharFilter(field_name="service__description")
    contact = django_filters.CharFilter(field_name="contacts__name", distinct=True)
    contact_group = django_filters.CharFilter(field_name="contact_groups__name", distinct=True)
    team = django_filters.CharFilter(method="filter_team", label="Owning team (of the service's host)")

    class Meta:
        model = ServiceEscalation
        fields = ["host", "service", "contact", "contact_group", "team"]


_QUERYSETS = relation_querysets()


@documented(HostDependencySerializer)
class HostDependencyViewSet(RelationViewSet):
    """Host dependencies (``define hostdependency``); the dependent host's owners write them."""

    queryset = _QUERYSETS["hostdependencies"]
    serializer_class = HostDependencySerializer
    filterset_class = HostDependencyFilterSet


@documented(ServiceDependencySerializer)
class ServiceDependencyViewSet(RelationViewSet):
    """Service dependencies (``define servicedependency``); the dependent service's owners write them."""

    queryset = _QUERYSETS["servicedependencies"]
    serializer_class = ServiceDependencySerializer
    filterset_class = ServiceDependencyFilterSet


@documented(HostEscalationSerializer)
class HostEscalationViewSet(RelationViewSet):
    """Host escalations (``define hostescalation``); the host's owners write them."""

    queryset = _QUERYSETS["hostescalations"]
    serializer_class = HostEscalationSerializer
    filterset_class = HostEscalationFilterSet


@documented(ServiceEscalationSerializer)
class ServiceEscalationViewSet(RelationViewSet):
    """Service escalations (``define serviceescalation``); the service's owners write them."""

    queryset = _QUERYSETS["serviceescalations"]
    serializer_class = ServiceEscalationSerializer
    filterset_class = ServiceEscalationFilterSet


ROUTES = (
    ("hostdependencies", HostDependencyViewSet, "hostdependency"),
    ("servicedependencies", ServiceDependencyViewSet, "servicedependency"),
    ("hostescalations", HostEscalationViewSet, "hostescalation"),
    ("serviceescalations", ServiceEscalationViewSet, "serviceescalation"),
)
