"""URL map of the preferences API, mounted at /api/v1/preferences/.

``rules/`` (your rules: CRUD; ``rules/reorder/``), ``profile/`` (default and time zone),
``test/`` (POST: what would happen to this notification?), ``who/`` (GET: who would be
notified for a host or service?), ``choices/`` and ``choices/<kind>/?q=`` (values for forms).
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from preferences.api import views

app_name = "preferences-api"
router = DefaultRouter()
router.register("rules", views.NotificationRuleViewSet, basename="rule")

urlpatterns = [
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("test/", views.PreviewView.as_view(), name="test"),
    path("who/", views.WhoView.as_view(), name="who"),
    path("choices/", views.ChoicesView.as_view(), name="choices"),
    *(
        path(f"choices/{kind}/", views.NameChoicesView.as_view(kind=kind), name=f"choices-{kind}")
        for kind in ("hosts", "hostgroups", "services", "servicegroups")
    ),
    *router.urls,
]
