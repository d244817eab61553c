"""Accounts API: the caller's own tokens, teams (read), and the API root."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from livestatus.client import text
from monitoring_portal.models import APIToken, Team, TokenScope, scope_problem
from monitoring_portal.rest import StrictTypesMixin


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


class APITokenSerializer(StrictTypesMixin, serializers.ModelSerializer):
    name = serializers.CharField(
        max_length=100, help_text="What the token is for, e.g. 'ansible on bastion1'."
    )
    is_active = serializers.BooleanField(read_only=True)
    scope = serializers.ChoiceField(
        choices=TokenScope.choices,
        default=TokenScope.FULL,
        help_text="full: everything you may do; actions: only operator actions besides reads; "
        "hostgroups: only registry writes of hosts, services and host groups in `hostgroups`.",
    )
    hostgroups = serializers.ListField(
        child=serializers.CharField(max_length=255),
        default=list,
        help_text="With scope hostgroups: the host group names it may write in.",
    )

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
            "scope",
            "hostgroups",
            "is_active",
        ]
        read_only_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]

    def validate_name(self, value: str) -> str:
        # The name reaches logs and audit fields (deployments' triggered_by, the action log):
        # a line break in it would forge a log line.
        try:
            return text.check_name(value, "name")
        except text.UnsafeTextError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_hostgroups(self, value: list[str]) -> list[str]:
        try:
            return [text.check_name(name, "host group") for name in value]
        except text.UnsafeTextError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problem = scope_problem(
            attrs.get("read_only", False), attrs.get("scope", TokenScope.FULL), attrs.get("hostgroups", [])
        )
        if problem is not None:
            raise serializers.ValidationError({problem[0]: [problem[1]]})
        return attrs


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

    A read-only or scoped token can list tokens but not create or revoke any (refused at
    authentication): a token never makes a stronger one.
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
            scope=serializer.validated_data["scope"],
            hostgroups=serializer.validated_data["hostgroups"],
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


class DocsPermission(permissions.BasePermission):
    """The schema and its Swagger UI: for users and tokens, or anyone with ``API_DOCS_PUBLIC``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(settings.API_DOCS_PUBLIC or request.user.is_authenticated)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema (``/api/schema/``)."""

    permission_classes = [DocsPermission]


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI over the schema; an anonymous browser is sent to the login page."""

    permission_classes = [DocsPermission]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) and not (
            self.request.headers.get("Authorization")
        ):
            login: HttpResponseBase = redirect_to_login(self.request.get_full_path())
            return login  # type: ignore[return-value]  # DRF passes any HttpResponse through
        return super().handle_exception(exc)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    """Django's 404 for a URL no route matches: JSON under /api/ (as the schema says), a page elsewhere.

    An API path whose parameter does not fit its route (``/rules/abc/`` where an id is a number)
    never reaches DRF, so without this a script would get an HTML page.
    """
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return page_not_found(request, exception)
