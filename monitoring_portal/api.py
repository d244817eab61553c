"""Accounts API: the caller's own tokens, teams (read), and the API root."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from monitoring_portal.models import APIToken, Team


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True, slug_field="username"
    )

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members"]


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams and their members; readable by every authenticated user."""

    queryset = Team.objects.prefetch_related("members")
    serializer_class = TeamSerializer
    lookup_field = "name"
    filterset_fields = ["name"]


class APITokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = APIToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "read_only",
            "is_active",
        ]
        read_only_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]


class NewAPITokenSerializer(APITokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret; shown only in this response.")

    class Meta(APITokenSerializer.Meta):
        fields = [*APITokenSerializer.Meta.fields, "token"]


class APITokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own API tokens: list, create (secret shown once), revoke (DELETE).

    A read-only token can list tokens but not create or revoke any (refused at authentication).
    """

    queryset = APIToken.objects.none()  # the real one depends on the caller
    serializer_class = APITokenSerializer
    filterset_fields = ["name"]

    def get_queryset(self) -> QuerySet[APIToken]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return APIToken.objects.none()
        return APIToken.objects.filter(user=self.request.user)  # type: ignore[misc]

    @extend_schema(responses={201: NewAPITokenSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = APITokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, secret = APIToken.issue(
            request.user,
            serializer.validated_data["name"],
            serializer.validated_data.get("expires_at"),
            read_only=serializer.validated_data.get("read_only", False),
        )
        token.token = secret  # type: ignore[attr-defined]
        return Response(NewAPITokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: APIToken) -> None:
        instance.revoke()


@extend_schema(exclude=True)
@api_view(["GET"])
def api_root(request: Request, format: str | None = None) -> Response:
    """Entry points of the v1 API."""
    return Response(
        {
            "accounts": reverse("accounts-api:api-root", request=request, format=format),
            "registry": reverse("registry-api:api-root", request=request, format=format),
            "livestatus": reverse("livestatus-api:api-root", request=request, format=format),
            "preferences": reverse("preferences-api:api-root", request=request, format=format),
            "schema": reverse("schema", request=request, format=format),
            "docs": reverse("swagger-ui", request=request, format=format),
        }
    )
