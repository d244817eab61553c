"""URL map of the preferences API, mounted at /api/v1/preferences/.

``rules/`` (your rules: CRUD; ``rules/reorder/``), ``profile/`` (default and time zone),
``test/`` (POST: what would happen to this notification?), ``who/`` (GET: who would be
notified for a host or service?), ``coverage/`` (GET: objects nobody would be told about), ``export/`` (GET/PUT: your whole profile as one JSON or YAML document), ``replay/`` (POST: a
draft over your last 7 days of decisions), ``history/`` (GET: the filter's decisions, explained;
``history/not-attempted/?host=``: what the cores did not even try), ``silences/`` (yours: mute until a time; end early), ``handovers/`` (yours and those to you: a colleague gets what you would), ``rotations/<team>/`` (on call), ``choices/`` and ``choices/<kind>/?q=`` (values for forms).
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from preferences.api import handovers, views

app_name = "preferences-api"
router = DefaultRouter()
router.register("rules", views.NotificationRuleViewSet, basename="rule")
router.register("history", views.NotificationHistoryViewSet, basename="history")
router.register("silences", views.SilenceViewSet, basename="silence")
router.register("handovers", handovers.HandOverViewSet, basename="handover")
router.register("rotations", views.RotationViewSet, basename="rotation")

urlpatterns = [
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("test/", views.PreviewView.as_view(), name="test"),
    path("who/", views.WhoView.as_view(), name="who"),
    path("coverage/", views.CoverageView.as_view(), name="coverage"),
    path("export/", views.ExportView.as_view(), name="export"),
    path("replay/", views.ReplayView.as_view(), name="replay"),
    path("choices/", views.ChoicesView.as_view(), name="choices"),
    *(
        path(f"choices/{kind}/", views.NameChoicesView.as_view(kind=kind), name=f"choices-{kind}")
        for kind in ("hosts", "hostgroups", "services", "servicegroups")
    ),
    *router.urls,
]
