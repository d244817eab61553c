"""URL map: pages per area, the v1 REST API, schema and docs, probes and metrics."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from livestatus import home
from monitoring_portal import api, views

# API paths that no route matches answer JSON, like every other API error.
handler404 = "monitoring_portal.api.not_found"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:pk>/revoke/", views.revoke_token, name="revoke-token"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="prometheus-django-metrics"),
    path("admin/", admin.site.urls),
    path("registry/", include("registry.urls")),
    path("status/", include("livestatus.urls")),
    path("wall/", include("livestatus.wall_urls")),
    path("notifications/", include("preferences.urls")),
    path("api/v1/", api.api_root, name="api-root"),
    path("api/v1/accounts/", include("monitoring_portal.api_urls")),
    path("api/v1/registry/", include("registry.api.urls")),
    path("api/v1/livestatus/", include("livestatus.api.urls")),
    path("api/v1/preferences/", include("preferences.api.urls")),
    path("api/schema/", api.SchemaView.as_view(), name="schema"),
    path("api/schema/swagger-ui/", api.SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
