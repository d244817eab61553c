from django.urls import path

from preferences import views

app_name = "preferences"
urlpatterns = [
    path("", views.index, name="index"),
    path("who/", views.who, name="who"),
    path("history/", views.history_page, name="history"),
    path("silences/", views.silences, name="silences"),
    path("coverage/", views.coverage_page, name="coverage"),
]
