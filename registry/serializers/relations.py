"""Dependencies and escalations in the API: objects by name, services as ``host/description``.

Checks are the models' (registry/relations.py, registry/validation_relations.py), run on the
object as it will be; a bad value is a 400 naming the field, before anything is stored.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from registry.models import Contact, ContactGroup, Host, NaemonNode, Service, TimePeriod, nodes_for_hosts
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from registry.serializers.base import NaemonModelSerializer, by_name


@extend_schema_field(OpenApiTypes.STR)
class ServiceReferenceField(serializers.Field):
    """A service on one host, as ``host/description`` (the description may contain '/')."""

    default_error_messages = {
        "invalid": "Expected host/description.",
        "does_not_exist": "No service {value}.",
    }

    def to_representation(self, value: Service) -> str:
        return f"{value.host.name if value.host else ''}/{value.description}"

    def to_internal_value(self, data: Any) -> Service:
        if not isinstance(data, str) or "/" not in data or "\x00" in data:
            self.fail("invalid")
        host, _, description = data.partition("/")
        found = (
            Service.objects.filter(host__name=host, description=description).select_related("host").first()
        )
        if found is None:
            self.fail("does_not_exist", value=data)
        return found


def _hosts_of(obj: Any) -> list[Host]:
    dependent = obj.dependent()
    if isinstance(dependent, Service):
        return [dependent.host] if dependent.host is not None else []
    return [dependent] if dependent is not None else []


class RelationSerializer(NaemonModelSerializer):
    """Base: addressed by id; a write deploys the nodes that hold the dependent object."""

    url = serializers.SerializerMethodField()

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        return nodes_for_hosts(_hosts_of(obj))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj: Any) -> str:
        name = f"registry-api:{obj._meta.model_name}-detail"
        return reverse(name, args=[obj.pk], request=self.context.get("request"))


_DEPENDENCY_FIELDS = [
    "inherits_parent",
    "execution_failure_criteria",
    "notification_failure_criteria",
    "dependency_period",
    "created_at",
    "updated_at",
]


class HostDependencySerializer(RelationSerializer):
    """``host`` is not checked / does not notify while ``master_host`` is in the failure criteria's states."""

    host = by_name(Host.objects.all(), "host", allow_null=False, required=True)
    master_host = by_name(Host.objects.all(), "host", allow_null=False, required=True)
    dependency_period = by_name(TimePeriod.objects.all(), "time period")

    class Meta:
        model = HostDependency
        fields = ["id", "url", "host", "master_host", *_DEPENDENCY_FIELDS]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "execution_failure_criteria": {"help_text": "Letters of o,d,u,p,n (n alone: never)."},
            "notification_failure_criteria": {"help_text": "Letters of o,d,u,p,n (n alone: never)."},
        }


class ServiceDependencySerializer(RelationSerializer):
    """``service`` is not checked / does not notify while ``master_service`` is in the criteria's states."""

    service = ServiceReferenceField(help_text="The dependent service, host/description.")
    master_service = ServiceReferenceField(help_text="The master service, host/description.")
    dependency_period = by_name(TimePeriod.objects.all(), "time period")

    class Meta:
        model = ServiceDependency
        fields = ["id", "url", "service", "master_service", *_DEPENDENCY_FIELDS]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "execution_failure_criteria": {"help_text": "Letters of o,w,u,c,p,n (n alone: never)."},
            "notification_failure_criteria": {"help_text": "Letters of o,w,u,c,p,n (n alone: never)."},
        }


_ESCALATION_FIELDS = [
    "first_notification",
    "last_notification",
    "notification_interval",
    "escalation_period",
    "escalation_options",
    "contacts",
    "contact_groups",
    "created_at",
    "updated_at",
]


class EscalationSerializer(RelationSerializer):
    """Base of the escalations: contacts and groups by name, at least one of them."""

    escalation_period = by_name(TimePeriod.objects.all(), "time period")
    contacts = by_name(Contact.objects.all(), "contact", many=True)
    contact_groups = by_name(ContactGroup.objects.all(), "contact group", many=True)

    def required_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        if self.related_after(attrs, "contacts") or self.related_after(attrs, "contact_groups"):
            return {}
        return {"contacts": ["Naemon refuses an escalation without contacts or contact_groups: name one."]}


class HostEscalationSerializer(EscalationSerializer):
    """From ``first_notification`` to ``last_notification`` (0: on), also notify these contacts of ``host``."""

    host = by_name(Host.objects.all(), "host", allow_null=False, required=True)

    class Meta:
        model = HostEscalation
        fields = ["id", "url", "host", *_ESCALATION_FIELDS]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"escalation_options": {"help_text": "Letters of d,u,r (empty: all states)."}}


class ServiceEscalationSerializer(EscalationSerializer):
    """From ``first_notification`` to ``last_notification`` (0: on), also notify these contacts of ``service``."""

    service = ServiceReferenceField(help_text="The escalated service, host/description.")

    class Meta:
        model = ServiceEscalation
        fields = ["id", "url", "service", *_ESCALATION_FIELDS]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"escalation_options": {"help_text": "Letters of w,u,c,r (empty: all states)."}}


def relation_querysets() -> dict[str, QuerySet[Any]]:
    """Each relation's list, with what its representation reads (no query per row)."""
    return {
        "hostdependencies": HostDependency.objects.select_related("host", "master_host", "dependency_period"),
        "servicedependencies": ServiceDependency.objects.select_related(
            "service__host", "master_service__host", "dependency_period"
        ),
        "hostescalations": HostEscalation.objects.select_related(
            "host", "escalation_period"
        ).prefetch_related("contacts", "contact_groups"),
        "serviceescalations": ServiceEscalation.objects.select_related(
            "service__host", "escalation_period"
        ).prefetch_related("contacts", "contact_groups"),
    }


__all__ = [
    "HostDependencySerializer",
    "HostEscalationSerializer",
    "ServiceDependencySerializer",
    "ServiceEscalationSerializer",
    "relation_querysets",
]
