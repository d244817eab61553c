from rest_framework.routers import DefaultRouter

app_name = "preferences-api"
router = DefaultRouter()
urlpatterns = router.urls
