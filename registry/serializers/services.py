"""Serializers of services: on a host, or on the hosts of some host groups."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.models import (
    Contact,
    ContactGroup,
    Host,
    HostGroup,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    nodes_for_hosts,
)
from registry.permissions import MAY_JOIN_HELP
from registry.recipients import Recipient, recipients_of
from registry.serializers.base import (
    CheckSettingsSerializer,
    OrderedTemplatesField,
    UsesListSerializer,
    _select_check_settings,
    by_name,
    masters,
)


class RecipientSerializer(serializers.Serializer):
    """A contact Naemon would notify, and how it is one (``team web``, ``host web1: contact``...)."""

    contact = serializers.CharField()
    via = serializers.ListField(child=serializers.CharField())


RECIPIENTS_HELP = (
    "Who Naemon would notify (before each person's rules): the contacts and contact groups named "
    "here, the owning teams' groups (notify_owners), what a service inherits from its host, the "
    "default group of a host nobody is assigned to. Empty: nobody would be told."
)


def recipients_data(serializer: serializers.BaseSerializer, obj: Host | Service) -> list[dict[str, Any]]:
    """The ``recipients`` of ``obj``, computed once for every object the serializer's root shows.

    Cached on the root serializer, not in the context: a write serializes the object before
    and after the change with one context.
    """
    root: Any = serializer.root
    cache: dict[tuple[str, int], list[Recipient]] | None = getattr(root, "_recipients", None)
    key = ("host" if isinstance(obj, Host) else "service", obj.pk)
    if cache is None or key not in cache:
        shown = root.instance
        items = list(shown) if isinstance(shown, list | QuerySet) else [shown]
        objects = [i for i in items if isinstance(i, Host | Service)]
        objects += [svc for i in items if isinstance(i, Host) for svc in i.services.all()]
        if obj not in objects:
            objects.append(obj)
        # Kept across the representations of one write (``represent`` drops ``_recipients``):
        # a host or service write changes no contact group, team or staff member.
        groups = root.__dict__.setdefault("_recipient_groups", {})
        cache = recipients_of(objects, groups)
        root._recipients = cache
    return [{"contact": r.contact, "via": list(r.via)} for r in cache.get(key, [])]


class ServiceSerializer(CheckSettingsSerializer):
    """A service on a host (``host`` set) or on the hosts of some host groups (``host`` null)."""

    natural_key = "description"
    url = serializers.SerializerMethodField()
    description = serializers.CharField(
        max_length=255, trim_whitespace=False, help_text="The service's name on its host; spaces allowed."
    )
    host = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        read_only=True,
        allow_null=True,  # a host group's service has no host
        slug_field="name",
        help_text="Set by the URL; null for a service of host groups.",
    )
    hostgroups = by_name(HostGroup.objects.all(), "host group", many=True)
    templates = OrderedTemplatesField(ServiceTemplate.objects.all())
    servicegroups = by_name(
        ServiceGroup.objects.all(), "service group", many=True, help_text=MAY_JOIN_HELP["servicegroups"]
    )
    contacts = by_name(Contact.objects.all(), "contact", many=True, help_text=MAY_JOIN_HELP["contacts"])
    contact_groups = by_name(
        ContactGroup.objects.all(), "contact group", many=True, help_text=MAY_JOIN_HELP["contact_groups"]
    )
    recipients = serializers.SerializerMethodField(help_text=RECIPIENTS_HELP)

    class Meta:
        model = Service
        fields = [
            "url",
            "description",
            "host",
            "hostgroups",
            "templates",
            "servicegroups",
            "contacts",
            "contact_groups",
            "notify_owners",
            "recipients",
            *CheckSettingsSerializer.check_fields,
            "is_volatile",
            "created_at",
            "updated_at",
        ]
        list_serializer_class = UsesListSerializer
        validators: list[Any] = []  # uniqueness is checked in validate() with a clear message

    @classmethod
    def read_queryset(cls) -> QuerySet[Service]:
        return Service.objects.select_related(
            "host", "host__team", *_select_check_settings()
        ).prefetch_related(
            "hostgroups",
            "host__hostgroups",
            "servicegroups",
            "contacts",
            "contact_groups",
        )

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        if obj.host is not None:
            return nodes_for_hosts([obj.host])
        nodes = masters()
        nodes.update(g.node for g in obj.hostgroups.all() if g.node is not None and g.node.enabled)
        return nodes

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj: Service) -> str:
        request = self.context.get("request")
        if obj.host is not None:
            path = reverse(
                "registry-api:host-service-detail",
                kwargs={"host": obj.host.name, "description": obj.description},
            )
        else:
            group = min((g.name for g in obj.hostgroups.all()), default="-")
            path = reverse(
                "registry-api:hostgroup-service-detail",
                kwargs={"hostgroup": group, "description": obj.description},
            )
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(RecipientSerializer(many=True))
    def get_recipients(self, obj: Service) -> list[dict[str, Any]]:
        return recipients_data(self, obj)

    def _host(self) -> Host | None:
        host = self.context.get("host")
        if host is None and self.instance is not None:
            host = self.instance.host
        return host

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        if isinstance(self.parent, serializers.ListSerializer):
            return {}  # embedded in a host: the host checks its list
        host = self._host()
        others = Service.objects.filter(description=candidate.description)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if host is not None:
            if others.filter(host=host).exists():
                return {"description": [f"Host {host.name} already has a service {candidate.description!r}."]}
            return {}
        groups = attrs.get("hostgroups")
        if groups is None and self.instance is not None:
            groups = list(self.instance.hostgroups.all())
        if not groups:
            return {"hostgroups": ["A service without a host needs at least one host group."]}
        taken = sorted(
            others.filter(host__isnull=True, hostgroups__in=groups).values_list("hostgroups__name", flat=True)
        )
        clash = sorted(set(taken) & {g.name for g in groups})
        if clash:
            return {
                "description": [
                    f"Host group(s) {', '.join(clash)} already have a service {candidate.description!r}."
                ]
            }
        return {}


class HostServiceSerializer(ServiceSerializer):
    """A service of one host (as embedded in the host, or under /hosts/<name>/services/)."""

    class Meta(ServiceSerializer.Meta):
        fields = [f for f in ServiceSerializer.Meta.fields if f != "hostgroups"]
