"""One FilterSet per registry model: explicit fields by name and a ``q`` search.

Related objects are filtered by their (natural key) name: ``?hostgroup=web``,
``?team=web``, ``?node=poller1``, ``?template=generic-host``. The API rejects parameters
no filter knows, or gives twice (see ``monitoring_portal.rest.StrictFilterBackend``), instead of silently ignoring a typo.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from registry.choices import DeploymentState, NodeRole
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    TimePeriod,
)

LEASE_CHOICES = [("active", "active"), ("expired", "expired"), ("none", "none")]


class RegistryFilterSet(django_filters.FilterSet):
    """Base: ``q`` searches ``search_fields`` (case-insensitive substring, any of them)."""

    q = django_filters.CharFilter(method="search", label="Search")

    search_fields: tuple[str, ...] = ("name", "alias")

    def search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        value = value.strip()
        if not value:
            return queryset
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        return queryset.filter(query)


class CheckSettingsFilterSet(RegistryFilterSet):
    """Base of hosts, services and their templates: the directives they share (registry/check_settings.py)."""

    check_command = django_filters.CharFilter(field_name="check_command__name")
    event_handler = django_filters.CharFilter(field_name="event_handler__name")


#: Filterable as true/false (unset: neither): ``?flap_detection_enabled=true``.
DIRECTIVE_FILTERS = [
    "event_handler",
    "event_handler_enabled",
    "flap_detection_enabled",
    "check_freshness",
    "obsess",
    "process_perf_data",
]


class NaemonNodeFilterSet(RegistryFilterSet):
    role = django_filters.ChoiceFilter(choices=NodeRole.choices)
    hostgroup = django_filters.CharFilter(field_name="hostgroups__name", distinct=True)

    class Meta:
        model = NaemonNode
        fields = ["name", "role", "enabled", "hostgroup"]


class TimePeriodFilterSet(RegistryFilterSet):
    exclude = django_filters.CharFilter(field_name="exclude__name", distinct=True, label="Excludes period")

    class Meta:
        model = TimePeriod
        fields = ["name", "exclude"]


class CommandFilterSet(RegistryFilterSet):
    search_fields = ("name", "alias", "command_line")

    class Meta:
        model = Command
        fields = ["name", "channel"]


class ContactFilterSet(RegistryFilterSet):
    search_fields = ("name", "alias", "email")
    team = django_filters.CharFilter(field_name="team__name")
    user = django_filters.CharFilter(field_name="user__username")
    contactgroup = django_filters.CharFilter(field_name="contact_groups__name", distinct=True)

    class Meta:
        model = Contact
        fields = ["name", "email", "team", "user", "contactgroup"]


class ContactGroupFilterSet(RegistryFilterSet):
    member = django_filters.CharFilter(field_name="members__name", distinct=True)

    class Meta:
        model = ContactGroup
        fields = ["name", "member"]


class HostGroupFilterSet(RegistryFilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    node = django_filters.CharFilter(field_name="node__name")
    hostgroup_member = django_filters.CharFilter(field_name="hostgroup_members__name", distinct=True)

    class Meta:
        model = HostGroup
        fields = ["name", "team", "node", "hostgroup_member"]


class ServiceGroupFilterSet(RegistryFilterSet):
    team = django_filters.CharFilter(field_name="team__name")
    servicegroup_member = django_filters.CharFilter(field_name="servicegroup_members__name", distinct=True)

    class Meta:
        model = ServiceGroup
        fields = ["name", "team", "servicegroup_member"]


class HostTemplateFilterSet(CheckSettingsFilterSet):
    template = django_filters.CharFilter(field_name="parents__name", distinct=True, label="Uses template")

    class Meta:
        model = HostTemplate
        fields = ["name", "template", "check_command", *DIRECTIVE_FILTERS]


class ServiceTemplateFilterSet(CheckSettingsFilterSet):
    template = django_filters.CharFilter(field_name="parents__name", distinct=True, label="Uses template")

    class Meta:
        model = ServiceTemplate
        fields = ["name", "template", "check_command", *DIRECTIVE_FILTERS, "is_volatile"]


class HostFilterSet(CheckSettingsFilterSet):
    search_fields = ("name", "alias", "address")
    team = django_filters.CharFilter(method="filter_team", label="Owning team (the host's or a host group's)")
    hostgroup = django_filters.CharFilter(field_name="hostgroups__name", distinct=True)
    node = django_filters.CharFilter(method="filter_node", label="Monitored by node (masters: every host)")
    template = django_filters.CharFilter(field_name="templates__name", distinct=True)
    parent = django_filters.CharFilter(field_name="parents__name", distinct=True)
    lease = django_filters.ChoiceFilter(choices=LEASE_CHOICES, method="filter_lease")

    class Meta:
        model = Host
        fields = [
            "name",
            "address",
            "team",
            "hostgroup",
            "node",
            "template",
            "check_command",
            "parent",
            "lease",
            *DIRECTIVE_FILTERS,
        ]

    def filter_team(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        return queryset.filter(Q(team__name=value) | Q(hostgroups__team__name=value)).distinct()

    def filter_node(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        node = NaemonNode.objects.filter(name=value).first()
        if node is None:
            return queryset.none()
        if node.role == NodeRole.MASTER:
            return queryset
        return queryset.filter(hostgroups__node=node).distinct()

    def filter_lease(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        now = timezone.now()
        if value == "none":
            return queryset.filter(expires_at__isnull=True)
        if value == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset.filter(expires_at__gt=now)


class ServiceFilterSet(CheckSettingsFilterSet):
    search_fields = ("description", "host__name", "notes")
    host = django_filters.CharFilter(field_name="host__name")
    hostgroup = django_filters.CharFilter(
        method="filter_hostgroup", label="On the host group, or on a host in it"
    )
    servicegroup = django_filters.CharFilter(field_name="servicegroups__name", distinct=True)
    template = django_filters.CharFilter(field_name="templates__name", distinct=True)
    team = django_filters.CharFilter(method="filter_team", label="Owning team")

    class Meta:
        model = Service
        fields = [
            "description",
            "host",
            "hostgroup",
            "servicegroup",
            "template",
            "check_command",
            "team",
            *DIRECTIVE_FILTERS,
            "is_volatile",
        ]

    def filter_hostgroup(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        return queryset.filter(Q(hostgroups__name=value) | Q(host__hostgroups__name=value)).distinct()

    def filter_team(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        return queryset.filter(
            Q(host__team__name=value)
            | Q(host__hostgroups__team__name=value)
            | Q(hostgroups__team__name=value)
        ).distinct()


class DeploymentFilterSet(RegistryFilterSet):
    search_fields = ("reason", "triggered_by", "error")
    node = django_filters.CharFilter(field_name="node__name")
    state = django_filters.MultipleChoiceFilter(choices=DeploymentState.choices)

    class Meta:
        model = Deployment
        fields = ["node", "state", "triggered_by"]
