"""Pages of the Registry area: hosts, services, nodes and their deployments (live), a host form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from monitoring_portal.models import Team
from registry.api import serializers as s
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState
from registry.filtersets import HostFilterSet, ServiceFilterSet
from registry.forms import HostForm
from registry.models import (
    Command,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    Service,
    ServiceTemplate,
    nodes_for_hosts,
)
from registry.permissions import may_change, may_create

PAGE_SIZE = 50
DEPLOYMENT_HISTORY = 50


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "registry/forbidden.html", {"message": message}, status=403)


def _page(request: HttpRequest, queryset: Any) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _filter_data(request: HttpRequest) -> dict[str, Any]:
    return {k: v for k, v in request.GET.items() if k != "page" and v}


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """Landing page: what the registry holds, and the latest deployments."""
    counts = {
        "hosts": Host.objects.count(),
        "services": Service.objects.count(),
        "host groups": HostGroup.objects.count(),
        "nodes": NaemonNode.objects.count(),
        "templates": HostTemplate.objects.count() + ServiceTemplate.objects.count(),
        "commands": Command.objects.count(),
    }
    states = dict(Deployment.objects.values_list("state").annotate(n=Count("pk")).order_by())
    return render(
        request,
        "registry/index.html",
        {
            "counts": counts,
            "expired_hosts": Host.objects.expired().count(),
            "pending": sum(
                states.get(state, 0)
                for state in DeploymentState.values
                if state not in FINAL_DEPLOYMENT_STATES
            ),
            "failed": states.get(DeploymentState.FAILED, 0),
            "deployments": Deployment.objects.select_related("node")[:10],
        },
    )


# --- hosts --------------------------------------------------------------------------------


@login_required
def host_list(request: HttpRequest) -> HttpResponse:
    """Hosts with search and filters (group, team, lease)."""
    queryset = (
        Host.objects.select_related("team")
        .prefetch_related("hostgroups")
        .annotate(service_count=Count("services", distinct=True))
    )
    filterset = HostFilterSet(_filter_data(request), queryset=queryset)
    return render(
        request,
        "registry/host_list.html",
        {
            "page": _page(request, filterset.qs.order_by("name")),
            "filters": filterset.form.cleaned_data if filterset.is_valid() else {},
            "query": _query_without_page(request),
            "hostgroups": HostGroup.objects.values_list("name", flat=True),
            "teams": Team.objects.values_list("name", flat=True),
            "may_create": may_create(request.user, Host),
            "now": timezone.now(),
        },
    )


def _host(name: str) -> Host:
    return get_object_or_404(s.HostSerializer.read_queryset(), name=name)


@login_required
def host_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A host: its services, groups, templates, lease, and the latest deployments of its nodes."""
    host = _host(name)
    nodes = nodes_for_hosts([host])
    services = list(host.services.all())
    s.prefetch_uses(services)
    rows = [(service, s.uses_of(service)) for service in services]
    return render(
        request,
        "registry/host_detail.html",
        {
            "host": host,
            "lease": s.lease_state(host.expires_at),
            "templates": s.uses_of(host),
            "services": rows,
            "poller": host.poller(),
            "nodes": sorted(nodes, key=lambda n: n.name),
            "deployments": Deployment.objects.filter(node__in=nodes).select_related("node")[:10],
            "may_change": may_change(request.user, host),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def host_edit(request: HttpRequest, name: str | None = None) -> HttpResponse:
    """Create (no name) or edit a host, with the API's validation and write path."""
    host = _host(name) if name is not None else None
    if host is not None and not may_change(request.user, host):
        return _forbidden(request, f"Host {host.name} is not owned by one of your teams.")
    if host is None and not may_create(request.user, Host):
        return _forbidden(request, "You may not create hosts.")
    form = HostForm(request.POST if request.method == "POST" else None, instance=host, request=request)
    status = 200
    if request.method == "POST" and form.is_valid() and form.serializer is not None:
        try:
            result = s.apply_write(
                form.serializer,
                queryset=s.HostSerializer.read_queryset(),
                user=request.user,
                triggered_by=f"{request.user.get_username()} (web)",
                reason=f"{'edit' if host else 'create'} host {form.serializer.validated_data.get('name', name)} (web)",
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        else:
            _say_what_happened(request, result)
            return redirect("registry:host-detail", name=result.instance.name)
    return render(request, "registry/host_form.html", {"form": form, "host": host}, status=status)


def _say_what_happened(request: HttpRequest, result: s.WriteResult) -> None:
    if not result.stored:
        messages.info(request, "Nothing changed.")
    elif result.deployments:
        nodes = ", ".join(sorted(d.node.name for d in result.deployments))
        messages.success(request, f"Saved. Deploying to {nodes}.")
    else:
        messages.success(request, "Saved.")


@login_required
@require_http_methods(["GET", "POST"])
def host_delete(request: HttpRequest, name: str) -> HttpResponse:
    """Confirm (GET) and delete (POST) a host."""
    host = _host(name)
    if not may_change(request.user, host):
        return _forbidden(request, f"Host {host.name} is not owned by one of your teams.")
    if request.method == "POST":
        result = s.apply_delete(
            host,
            serializer_class=s.HostSerializer,
            queryset=s.HostSerializer.read_queryset(),
            context={"request": request},
            triggered_by=f"{request.user.get_username()} (web)",
            reason=f"delete host {host.name} (web)",
        )
        nodes = ", ".join(sorted(d.node.name for d in result.deployments))
        messages.success(request, f"Host {host.name} deleted." + (f" Deploying to {nodes}." if nodes else ""))
        return redirect("registry:host-list")
    return render(request, "registry/host_confirm_delete.html", {"host": host})


# --- services -----------------------------------------------------------------------------


@login_required
def service_list(request: HttpRequest) -> HttpResponse:
    """Services with search and filters (host, host group)."""
    queryset = Service.objects.select_related("host", "check_command").prefetch_related("hostgroups")
    filterset = ServiceFilterSet(_filter_data(request), queryset=queryset)
    return render(
        request,
        "registry/service_list.html",
        {
            "page": _page(request, filterset.qs),
            "filters": filterset.form.cleaned_data if filterset.is_valid() else {},
            "query": _query_without_page(request),
            "hostgroups": HostGroup.objects.values_list("name", flat=True),
        },
    )


@login_required
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    service = get_object_or_404(s.ServiceSerializer.read_queryset(), pk=pk)
    return render(
        request,
        "registry/service_detail.html",
        {
            "service": service,
            "templates": s.uses_of(service),
            "api_url": s.ServiceSerializer(service).data["url"],
        },
    )


# --- nodes and deployments ----------------------------------------------------------------


@login_required
def node_list(request: HttpRequest) -> HttpResponse:
    """Naemon nodes with their latest deployment."""
    latest = Deployment.objects.order_by("node_id", "-created_at", "-pk")
    nodes = list(NaemonNode.objects.prefetch_related("hostgroups"))
    last: dict[int, Deployment] = {}
    for deployment in latest.filter(node__in=nodes).only("pk", "node_id", "state", "created_at").iterator():
        last.setdefault(deployment.node_id, deployment)
    rows = [(node, last.get(node.pk)) for node in nodes]
    return render(request, "registry/node_list.html", {"rows": rows})


def _deployments_context(node: NaemonNode) -> dict[str, Any]:
    deployments = list(node.deployments.select_related("node")[:DEPLOYMENT_HISTORY])
    return {
        "node": node,
        "deployments": deployments,
        "polling": any(d.state not in FINAL_DEPLOYMENT_STATES for d in deployments),
    }


@login_required
def node_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A node and its deployment history (live while any deployment is not final)."""
    node = get_object_or_404(
        NaemonNode.objects.prefetch_related(
            Prefetch("hostgroups", queryset=HostGroup.objects.order_by("name"))
        ),
        name=name,
    )
    return render(request, "registry/node_detail.html", _deployments_context(node))


@login_required
def node_deployments(request: HttpRequest, name: str) -> HttpResponse:
    """The htmx fragment of a node's deployments; it stops polling once all are final."""
    node = get_object_or_404(NaemonNode, name=name)
    return render(request, "registry/_deployments.html", _deployments_context(node))
