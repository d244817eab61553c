from django.urls import path

from livestatus import views

app_name = "livestatus"
urlpatterns = [
    path("", views.index, name="index"),
]
