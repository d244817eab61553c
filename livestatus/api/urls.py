from rest_framework.routers import DefaultRouter

app_name = "livestatus-api"
router = DefaultRouter()
urlpatterns = router.urls
