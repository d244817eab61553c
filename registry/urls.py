"""Pages of the Registry area, mounted at /registry/."""

from django.urls import path

from registry import views

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
]
