"""FilterSets of the preferences API (unknown query parameters are a 400, as in the registry)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request

from preferences import engine
from preferences.models import Action, NotificationDecision, NotificationRule


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


class NotificationDecisionFilterSet(django_filters.FilterSet):
    """The history: ``?host=``, ``?service=``, ``?contact=``, ``?type=``, ``?decision=``, ``?from=``/``?to=``
    (ISO 8601 times), ``?q=`` (host, service or contact containing)."""

    # Labels in the reader's language: the history page shows them above its filters.
    q = django_filters.CharFilter(method="search", label=_("Search"))
    host = django_filters.CharFilter(field_name="host", label=_("Host name (exact)"))
    service = django_filters.CharFilter(field_name="service", label=_("Service description (exact)"))
    contact = django_filters.CharFilter(field_name="contact", label=_("Naemon contact (exact)"))
    type = django_filters.ChoiceFilter(
        choices=[(kind, kind) for kind in engine.NOTIFICATION_TYPES], label=_("Notification type")
    )
    decision = django_filters.ChoiceFilter(choices=Action.choices, label=_("Decision"))
    # "from" is a Python keyword: added to the class namespace by name.
    locals()["from"] = django_filters.IsoDateTimeFilter(
        field_name="time", lookup_expr="gte", label=_("Decided at or after (ISO 8601)")
    )
    to = django_filters.IsoDateTimeFilter(
        field_name="time", lookup_expr="lte", label=_("Decided at or before (ISO 8601)")
    )

    class Meta:
        model = NotificationDecision
        fields = ["host", "service", "contact", "type", "decision"]

    def search(
        self, queryset: QuerySet[NotificationDecision], name: str, value: str
    ) -> QuerySet[NotificationDecision]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(host__icontains=value) | Q(service__icontains=value) | Q(contact__icontains=value)
        )
