"""URL map of the status API, mounted at /api/v1/livestatus/.

Live lists (GET, filters as query parameters): ``hosts/``, ``services/``, ``problems/``,
``downtimes/``; node health: ``nodes/``. One object: ``hosts/<host>/``,
``services/<host>/<service>/`` (the description is the rest of the path: it may contain
``/``), and ``object/?host=&service=`` for any name. Availability over a window:
``hosts/<host>/availability/?window=7d`` and ``availability/?host=&service=&window=``.
Actions: POST ``actions/acknowledge/``,
``actions/remove-acknowledgement/``, ``actions/downtime/``, ``actions/delete-downtime/``,
``actions/recheck/``, ``actions/comment/``, ``actions/enable-notifications/``,
``actions/disable-notifications/``, ``actions/enable-checks/``, ``actions/disable-checks/``, and one of them on a selection: ``actions/bulk/``
(``livestatus.api.bulk``); their record: GET ``actions/`` and
``actions/<id>/``. Your saved views ("my views"): ``views/`` and ``views/<id>/``
(``livestatus.api.saved_views``).
"""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from livestatus.api import bulk, saved_views, views

app_name = "livestatus-api"
router = DefaultRouter()
router.register("hosts", views.HostStatusViewSet, basename="host")
router.register("services", views.ServiceStatusViewSet, basename="service")
router.register("problems", views.ProblemViewSet, basename="problem")
router.register("downtimes", views.DowntimeViewSet, basename="downtime")
router.register("nodes", views.NodeHealthViewSet, basename="node")
router.register("actions", views.ActionViewSet, basename="action")
router.register("views", saved_views.SavedViewViewSet, basename="saved-view")
urlpatterns = [
    re_path(r"^hosts/(?P<host>[^/]+)/$", views.HostDetailView.as_view(), name="host-detail"),
    re_path(
        r"^hosts/(?P<host>[^/]+)/availability/$",
        views.HostAvailabilityView.as_view(),
        name="host-availability",
    ),
    # A service's: the query string (a description may end in "/availability").
    re_path(r"^availability/$", views.QueryAvailabilityView.as_view(), name="availability"),
    re_path(
        # (?s): a line break in the description is a 400 from the view, not a 404 here.
        r"^services/(?P<host>[^/]+)/(?P<service>(?s:.+))/$",
        views.ServiceDetailView.as_view(),
        name="service-detail",
    ),
    re_path(r"^object/$", views.QueryDetailView.as_view(), name="object-detail"),
    # Before the router: "bulk" would otherwise be read as the id of a recorded action.
    re_path(r"^actions/bulk/$", bulk.BulkActionView.as_view(), name="action-bulk"),
    *router.urls,
]
