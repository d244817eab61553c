from rest_framework.routers import DefaultRouter

from monitoring_portal.api import APITokenViewSet, TeamViewSet

app_name = "accounts-api"
router = DefaultRouter()
router.register("teams", TeamViewSet)
router.register("tokens", APITokenViewSet, basename="apitoken")
urlpatterns = router.urls
