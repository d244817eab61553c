"""URL map: pages per area, the v1 REST API, schema and docs, probes and metrics."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from livestatus import home
from monitoring_portal import api, audit_views, metrics, signin, views

# API paths that no route matches answer JSON, like every other API error.
handler404 = "monitoring_portal.api.not_found"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", signin.LoginView.as_view(), name="login"),
    # Ends the IdP's session too when the user came through OpenID Connect (monitoring_portal/oidc.py).
    path("logout/", signin.LogoutView.as_view(), name="logout"),
    path("oidc/", include(signin.sso_urlpatterns())),
    path("profile/", views.profile, name="profile"),
    # set_language: the profile's language choice (a cookie), which wins over Accept-Language.
    path("i18n/", include("django.conf.urls.i18n")),
    # gettext() for the pages' scripts: the French of locale/fr/LC_MESSAGES/djangojs.po.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("profile/tokens/<int:pk>/revoke/", views.revoke_token, name="revoke-token"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="prometheus-django-metrics"),
    path("audit/", audit_views.audit_log, name="audit"),
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
