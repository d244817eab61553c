"""The saved views API ("my views"): ``views/`` (list, create) and ``views/<id>/`` (get, patch, delete).

The caller's own views only: another user's is a 404, staff included. The rules are
``livestatus.saved_views``, the same as on the pages; a refused body stores nothing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.request import Request

from livestatus import saved_views
from livestatus.models import SavedView
from monitoring_portal.rest import StrictTypesMixin, check_query_parameters


class SavedViewSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """A status list's path and query string under a name."""

    url = serializers.SerializerMethodField(help_text="The list with the view's query: open this.")

    class Meta:
        model = SavedView
        fields = ["id", "name", "path", "query", "url", "created_at"]
        read_only_fields = ["id", "url", "created_at"]
        extra_kwargs = {
            "path": {
                "help_text": "A status list: /status/, /status/problems/, /status/hosts/, /status/services/."
            },
            "query": {
                "help_text": "Its filters, sort and grouping as a query string, e.g. state=critical&group=host."
            },
        }

    def get_url(self, view: SavedView) -> str:
        return saved_views.target_url(view)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        values = {name: attrs.get(name, getattr(current, name, "")) for name in ("name", "path", "query")}
        try:
            return saved_views.check(self.context["request"].user, **values, instance=current)
        except saved_views.ViewInvalid as exc:
            raise serializers.ValidationError(exc.errors) from None


class SavedViewViewSet(viewsets.ModelViewSet):
    """Your saved views (private: nobody else's is listed or found)."""

    queryset = SavedView.objects.none()  # the real one is the caller's
    serializer_class = SavedViewSerializer
    filter_backends: list[Any] = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[SavedView]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return SavedView.objects.none()
        return SavedView.objects.filter(user=self.request.user.pk)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action == "list":
            check_query_parameters(request, {"limit", "offset"})
        elif self.action is not None:
            check_query_parameters(request, set())

    def perform_create(self, serializer: SavedViewSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = saved_views.save(self.request.user, data["name"], data["path"], data["query"])

    def perform_update(self, serializer: SavedViewSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        assert serializer.instance is not None
        serializer.instance = saved_views.save(
            self.request.user, data["name"], data["path"], data["query"], instance=serializer.instance
        )
