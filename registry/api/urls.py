from rest_framework.routers import DefaultRouter

app_name = "registry-api"
router = DefaultRouter()
urlpatterns = router.urls
