"""FilterSets of the preferences API (unknown query parameters are a 400, as in the registry)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from rest_framework.request import Request

from preferences.models import Action, NotificationRule


class NotificationRuleFilterSet(django_filters.FilterSet):
    """``?user=`` (staff see everyone's rules), ``?enabled=``, ``?action=``, ``?q=`` (comment and names)."""

    q = django_filters.CharFilter(method="search", label="Search")
    user = django_filters.CharFilter(field_name="user__username", label="Owner's username")
    action = django_filters.ChoiceFilter(choices=Action.choices)

    class Meta:
        model = NotificationRule
        fields = ["user", "enabled", "action"]

    def search(
        self, queryset: QuerySet[NotificationRule], name: str, value: str
    ) -> QuerySet[NotificationRule]:
        value = value.strip()
        if not value:
            return queryset
        # JSON lists are searched as text: good enough to find "web" in ["web", "web-*"].
        query = Q(comment__icontains=value)
        for column in ("hosts", "hostgroups", "services", "servicegroups"):
            query |= Q(**{f"{column}__icontains": value})
        return queryset.filter(query)


def query_values(request: Request) -> dict[str, Any]:
    """Query parameters as a plain dict for a serializer (``check_query_parameters`` refused repeats)."""
    return {key: request.query_params.get(key) for key in request.query_params}
