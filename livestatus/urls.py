"""URL map of the Status area, mounted at /status/.

Lists (each with a ``table/`` fragment that the page polls with the same query string):
``/status/`` (problems), ``problems/``, ``hosts/``, ``services/``. Objects:
``host/<host>/``, ``service/<host>/<service>/`` (the description is the rest of the path:
it may contain ``/``). Actions, GET for the form and POST to act:
``<action>/<host>/`` and ``<action>/<host>/<service>/``. A host name with ``/`` fits neither,
so ``object/?host=&service=`` and ``act/<kind>/?host=&service=`` take any name (the pages
link there when needed). A service part may hold any character (``(?s:)``), so a newline in it
is the view's 400, not a 404. Nodes: ``nodes/``. The record of actions: ``actions/``.
The navigation bar's search (JSON): ``search/?q=``. Saved views ("my views"): ``views/``
(list, and POST to save), ``views/<id>/`` (GET opens, POST renames), ``views/<id>/delete/``.
"""

from django.urls import path, re_path

from livestatus import search, views, views_saved

app_name = "livestatus"


urlpatterns = [
    path("", views.problems, name="index"),
    path("problems/", views.problems, name="problems"),
    path("problems/table/", views.problems_table, name="problems-table"),
    path("hosts/", views.hosts, name="hosts"),
    path("hosts/table/", views.hosts_table, name="hosts-table"),
    path("services/", views.services, name="services"),
    path("services/table/", views.services_table, name="services-table"),
    path("host/<str:host>/", views.host, name="host"),
    re_path(r"^service/(?P<host>[^/]+)/(?P<service>(?s:.+))/$", views.service, name="service"),
    # Any name, even one with '/' in the host name, through the query string.
    path("object/", views.object_detail, name="object"),
    path("act/<str:kind>/", views.action, name="act"),
    path("nodes/", views.nodes, name="nodes"),
    path("actions/", views.action_log, name="action-log"),
    # The navigation bar's search box (JSON): livestatus.search.
    path("search/", search.search, name="search"),
    # Saved views ("my views"), each its user's only: livestatus.views_saved.
    path("views/", views_saved.index, name="saved-views"),
    path("views/<int:pk>/", views_saved.detail, name="saved-view"),
    path("views/<int:pk>/delete/", views_saved.delete, name="saved-view-delete"),
]
for kind, segment in views.ACTION_PATHS.items():
    urlpatterns += [
        path(f"{segment}/<str:host>/", views.action, {"kind": kind}, name=segment),
        re_path(
            rf"^{segment}/(?P<host>[^/]+)/(?P<service>(?s:.+))/$", views.action, {"kind": kind}, name=segment
        ),
    ]
