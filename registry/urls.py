"""Pages of the Registry area, mounted at /registry/."""

from django.urls import path, re_path

from registry import deployment_views, object_views, views

# The other object kinds' pages (registry/object_views.py), e.g. /registry/hostgroups/web/edit/.
_KIND = "(?P<kind>" + "|".join(object_views.KINDS) + ")"

app_name = "registry"
urlpatterns = [
    path("", views.index, name="index"),
    path("hosts/", views.host_list, name="host-list"),
    path("hosts/add/", views.host_edit, name="host-add"),
    path("hosts/<str:name>/", views.host_detail, name="host-detail"),
    path("hosts/<str:name>/edit/", views.host_edit, name="host-edit"),
    path("hosts/<str:name>/delete/", views.host_delete, name="host-delete"),
    path("services/", views.service_list, name="service-list"),
    path("services/add/", views.service_edit, name="service-add"),
    path("services/<int:pk>/", views.service_detail, name="service-detail"),
    path("services/<int:pk>/edit/", views.service_edit, name="service-edit"),
    path("services/<int:pk>/delete/", views.service_delete, name="service-delete"),
    path("nodes/", views.node_list, name="node-list"),
    path("nodes/<str:name>/", views.node_detail, name="node-detail"),
    path("nodes/<str:name>/deployments/", views.node_deployments, name="node-deployments"),
    path(
        "nodes/<str:name>/deployments/<int:pk>/",
        deployment_views.deployment_detail,
        name="deployment-detail",
    ),
    path("nodes/<str:name>/redeploy/", views.node_redeploy, name="node-redeploy"),
    path("deployments/<int:pk>/retry/", views.deployment_retry, name="deployment-retry"),
    re_path(rf"^{_KIND}/$", object_views.ObjectListView.as_view(), name="object-list"),
    re_path(rf"^{_KIND}/add/$", object_views.ObjectEditView.as_view(), name="object-add"),
    re_path(rf"^{_KIND}/(?P<key>[^/]+)/$", object_views.ObjectDetailView.as_view(), name="object-detail"),
    re_path(rf"^{_KIND}/(?P<key>[^/]+)/edit/$", object_views.ObjectEditView.as_view(), name="object-edit"),
    re_path(
        rf"^{_KIND}/(?P<key>[^/]+)/delete/$", object_views.ObjectDeleteView.as_view(), name="object-delete"
    ),
]
