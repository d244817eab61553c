"""The control-room wall, mounted at /wall/: the page and the JSON it polls."""

from django.urls import path

from livestatus import wall

app_name = "wall"
urlpatterns = [
    path("", wall.wall, name="wall"),
    path("data/", wall.data, name="data"),
]
