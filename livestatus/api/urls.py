"""URL map of the status API, mounted at /api/v1/livestatus/.

Live lists (GET, filters as query parameters): ``hosts/``, ``services/``, ``problems/``,
``downtimes/``; node health: ``nodes/``. Actions: POST ``actions/acknowledge/``,
``actions/remove-acknowledgement/``, ``actions/downtime/``, ``actions/delete-downtime/``,
``actions/recheck/``, ``actions/comment/``; their record: GET ``actions/`` and
``actions/<id>/``.
"""

from rest_framework.routers import DefaultRouter

from livestatus.api import views

app_name = "livestatus-api"
router = DefaultRouter()
router.register("hosts", views.HostStatusViewSet, basename="host")
router.register("services", views.ServiceStatusViewSet, basename="service")
router.register("problems", views.ProblemViewSet, basename="problem")
router.register("downtimes", views.DowntimeViewSet, basename="downtime")
router.register("nodes", views.NodeHealthViewSet, basename="node")
router.register("actions", views.ActionViewSet, basename="action")
urlpatterns = router.urls
