"""URL map of the registry API, mounted at /api/v1/registry/.

Objects by name: ``hosts/<name>/`` (GET, PUT create-or-replace, PATCH, DELETE), likewise
nodes, hostgroups, servicegroups, hosttemplates, servicetemplates, commands, timeperiods,
contacts, contactgroups. Services by description under their host or host group
(``hosts/<host>/services/<description>/``, ``hostgroups/<group>/services/<description>/``;
URL-encode spaces and slashes), all services at ``services/``. Deployments by id.
``bulk/hosts/``: many hosts in one transaction.
"""

from typing import Any

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from registry.api import relations, views

app_name = "registry-api"
router = DefaultRouter()
router.register("nodes", views.NaemonNodeViewSet, basename="naemonnode")
router.register("hosts", views.HostViewSet, basename="host")
router.register("services", views.ServiceViewSet, basename="service")
router.register("hostgroups", views.HostGroupViewSet, basename="hostgroup")
router.register("servicegroups", views.ServiceGroupViewSet, basename="servicegroup")
router.register("hosttemplates", views.HostTemplateViewSet, basename="hosttemplate")
router.register("servicetemplates", views.ServiceTemplateViewSet, basename="servicetemplate")
router.register("commands", views.CommandViewSet, basename="command")
router.register("timeperiods", views.TimePeriodViewSet, basename="timeperiod")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("contactgroups", views.ContactGroupViewSet, basename="contactgroup")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
# Dependencies and escalations, by id (registry/api/relations.py).
for prefix, viewset, basename in relations.ROUTES:
    router.register(prefix, viewset, basename=basename)

_list: dict[str, Any] = {"get": "list", "post": "create"}
_detail: dict[str, Any] = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}

urlpatterns = [
    path("bulk/hosts/", views.BulkHostsView.as_view(), name="bulk-hosts"),
    path("hosts/<str:host>/services/", views.HostServiceViewSet.as_view(_list), name="host-service-list"),
    # The description is the rest of the path: it may contain '/' (e.g. "Disk /var").
    re_path(
        r"^hosts/(?P<host>[^/]+)/services/(?P<description>.+)/$",
        views.HostServiceViewSet.as_view(_detail),
        name="host-service-detail",
    ),
    path(
        "hostgroups/<str:hostgroup>/services/",
        views.HostGroupServiceViewSet.as_view(_list),
        name="hostgroup-service-list",
    ),
    re_path(
        r"^hostgroups/(?P<hostgroup>[^/]+)/services/(?P<description>.+)/$",
        views.HostGroupServiceViewSet.as_view(_detail),
        name="hostgroup-service-detail",
    ),
    *router.urls,
]
