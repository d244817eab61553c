"""FilterSets of the Status area: the record of operator actions (page and API)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from livestatus.models import ActionKind, ActionLog, ActionOutcome


class ActionLogFilterSet(django_filters.FilterSet):
    """Filters of the action log (page and API); ``q`` searches object names and comments."""

    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.ChoiceFilter(choices=ActionKind.choices)
    outcome = django_filters.ChoiceFilter(choices=ActionOutcome.choices)
    host = django_filters.CharFilter(field_name="host_name")
    service = django_filters.CharFilter(field_name="service_description")
    node = django_filters.CharFilter(field_name="node")
    user = django_filters.CharFilter(field_name="username")

    class Meta:
        model = ActionLog
        fields = ["kind", "outcome", "host", "service", "node", "user"]

    def search(self, queryset: QuerySet[ActionLog], name: str, value: str) -> QuerySet[ActionLog]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(host_name__icontains=value)
            | Q(service_description__icontains=value)
            | Q(command__icontains=value)
        )
