"""Pages of the Registry area: hosts, services, nodes and their deployments (live), a host form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from monitoring_portal.models import Team
from registry import cluster, deployment_report, drift, failover, lists, tasks, writes
from registry import serializers as s
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState
from registry.filtersets import HostFilterSet, ServiceFilterSet
from registry.forms import HostForm, RegistryObjectForm, ServiceForm
from registry.models import (
    ClusterMove,
    Command,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    NodeHealth,
    Service,
    ServiceTemplate,
    nodes_for_hosts,
)
from registry.page_helpers import PAGE_SIZE as PAGE_SIZE  # the lists' page size, as before the move
from registry.page_helpers import (
    by,
    delete,
    forbidden,
    paginate,
    query_without_page,
    say_what_happened,
)
from registry.permissions import may_change, may_create, may_redeploy
from registry.recipients import recipients

DEPLOYMENT_HISTORY = 50
MOVE_HISTORY = 10
# How often the deployment history polls: while a deployment runs, and otherwise.
POLL_RUNNING_SECONDS = 2
POLL_IDLE_SECONDS = 5


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
    data = _filter_data(request)
    q, sort = data.pop("q", ""), data.pop("sort", "name")
    error = ""
    try:
        order = lists.sort_order(sort, lists.HOST_SORTS)
    except ValueError as exc:
        error, order = str(exc), ["name"]
    searched: QuerySet[Host] = queryset
    try:
        searched = lists.search_hosts(queryset, q)
    except ValueError as exc:
        error = error or f"q: {exc}"
    filterset = HostFilterSet(data, queryset=searched)
    page = paginate(request, filterset.qs.order_by(*order) if not error else searched.none())
    return render(
        request,
        "registry/host_list.html",
        {
            "page": page,
            "rows": lists.host_rows(page.object_list),
            "error": error,
            "q": q,
            "sort": sort,
            "sort_links": lists.sort_links(request.GET, sort, lists.HOST_SORTS),
            "filters": filterset.form.cleaned_data if filterset.is_valid() else {},
            "query": query_without_page(request),
            "hostgroups": HostGroup.objects.values_list("name", flat=True),
            "teams": Team.objects.values_list("name", flat=True),
            "may_create": may_create(request.user, Host),
            "now": timezone.now(),
        },
        status=400 if error else 200,
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
        return forbidden(request, f"Host {host.name} is not owned by one of your teams.")
    if host is None and not may_create(request.user, Host):
        return forbidden(request, _("You may not create hosts."))
    form = HostForm(request.POST if request.method == "POST" else None, instance=host, request=request)
    status = 200
    if request.method == "POST" and form.is_valid() and form.serializer is not None:
        key = form.serializer.validated_data.get("name", name)
        result, status = _write(
            request,
            form,
            queryset=s.HostSerializer.read_queryset(),
            reason=f"{'edit' if host else 'create'} host {key} (web)",
        )
        if result is not None:
            return redirect("registry:host-detail", name=result.instance.name)
    return render(request, "registry/host_form.html", {"form": form, "host": host}, status=status)


class _NobodyNotified(Exception):
    """Raised to roll back a write that would notify nobody until the form confirms it."""


NOBODY_NOTIFIED = (
    "Nobody would be notified about this object: no contacts, no contact groups, no team with "
    "members who have a contact, nothing inherited. Give it a team or contacts, or tick this box to "
    "save it anyway."
)


def _write(
    request: HttpRequest, form: RegistryObjectForm, *, queryset: Any, reason: str
) -> tuple[writes.WriteResult | None, int]:
    """Store a valid form through the API's write path (ownership after the write, deployments).

    A refusal becomes a form error and the status of the page: 403 (not the caller's to
    write) or 409 (a concurrent write got there first); nothing is stored then. A write that
    would notify nobody is rolled back (its deployments with it) until the form confirms it:
    who is notified is computed on the written object, as the renderer will see it.
    """
    assert form.serializer is not None, "only a valid form is written"
    try:
        with transaction.atomic():
            result = writes.apply_write(
                form.serializer,
                queryset=queryset,
                user=request.user,
                triggered_by=by(request),
                reason=reason,
                save_kwargs=form.save_kwargs(),
            )
            if result.stored and result.instance is not None:
                after = recipients(result.instance)
                if form.must_confirm_nobody(after):
                    form.recipients = after
                    raise _NobodyNotified
    except _NobodyNotified:
        form.add_error("notify_nobody", NOBODY_NOTIFIED)
        return None, 200
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return None, 403
    except writes.Conflict as exc:
        form.add_error(None, str(exc))
        return None, 409
    say_what_happened(request, result)
    return result, 200


@login_required
@require_http_methods(["GET", "POST"])
def host_delete(request: HttpRequest, name: str) -> HttpResponse:
    """Confirm (GET) and delete (POST) a host."""
    host = _host(name)
    if not may_change(request.user, host):
        return forbidden(request, f"Host {host.name} is not owned by one of your teams.")
    error = None
    if request.method == "POST":
        error = delete(
            request,
            host,
            serializer_class=s.HostSerializer,
            queryset=s.HostSerializer.read_queryset(),
            what=f"Host {host.name}",
            reason=f"delete host {host.name} (web)",
        )
        if error is None:
            return redirect("registry:host-list")
    return render(
        request,
        "registry/host_confirm_delete.html",
        {"host": host, "error": error},
        status=409 if error else 200,
    )


# --- services -----------------------------------------------------------------------------


@login_required
def service_list(request: HttpRequest) -> HttpResponse:
    """Services with search (registry/lists.py: globs, custom variables), filters and sorting."""
    queryset = Service.objects.select_related("host", "check_command").prefetch_related("hostgroups")
    data = _filter_data(request)
    q, sort = data.pop("q", ""), data.pop("sort", "description")
    error = ""
    try:
        order = lists.sort_order(sort, lists.SERVICE_SORTS)
    except ValueError as exc:
        error, order = str(exc), ["description", "pk"]
    searched: QuerySet[Service] = queryset
    try:
        searched = lists.search(queryset, q, lists.SERVICE_SEARCH_FIELDS, variables=True)
    except ValueError as exc:
        error = error or f"q: {exc}"
    filterset = ServiceFilterSet(data, queryset=searched)
    return render(
        request,
        "registry/service_list.html",
        {
            "page": paginate(request, filterset.qs.order_by(*order) if not error else searched.none()),
            "error": error,
            "q": q,
            "sort": sort,
            "sort_links": lists.sort_links(request.GET, sort, lists.SERVICE_SORTS),
            "filters": filterset.form.cleaned_data if filterset.is_valid() else {},
            "query": query_without_page(request),
            "hostgroups": HostGroup.objects.values_list("name", flat=True),
            "may_create": may_create(request.user, Service),
        },
        status=400 if error else 200,
    )


def _service(pk: int) -> Service:
    return get_object_or_404(s.ServiceSerializer.read_queryset(), pk=pk)


def _where(service: Service) -> str:
    if service.host is not None:
        return service.host.name
    return ", ".join(sorted(g.name for g in service.hostgroups.all())) or "no host group"


def _service_serializer(service: Service) -> type[s.NaemonModelSerializer]:
    return s.HostServiceSerializer if service.host is not None else s.ServiceSerializer


@login_required
def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A service: where it runs, its check, templates and groups."""
    service = _service(pk)
    return render(
        request,
        "registry/service_detail.html",
        {
            "service": service,
            "templates": s.uses_of(service),
            "api_url": s.ServiceSerializer(service).data["url"],
            "may_change": may_change(request.user, service),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no pk) or edit a service, with the API's validation and write path.

    A new service goes on a host (``?host=web01`` fills it in) or on host groups; on a host,
    the caller must be allowed to change that host, as under ``/api/v1/registry/hosts/<host>/services/``.
    """
    service = _service(pk) if pk is not None else None
    if service is not None and not may_change(request.user, service):
        return forbidden(
            request, f"Service {service.description} on {_where(service)} is not owned by one of your teams."
        )
    if service is None and not may_create(request.user, Service):
        return forbidden(request, _("You may not create services."))
    # A new service: ?host=web01 (the host page's "Add service") fills in the host.
    extra: dict[str, Any] = {} if service is not None else {"initial": {"host": request.GET.get("host", "")}}
    form = ServiceForm(
        request.POST if request.method == "POST" else None, instance=service, request=request, **extra
    )
    status = 200
    if request.method == "POST" and form.is_valid() and form.serializer is not None:
        host = form.target_host
        if service is None and host is not None and not may_change(request.user, host):
            form.add_error(None, f"Host {host.name} is not owned by one of your teams.")
            status = 403
        else:
            data = form.serializer.validated_data
            where = (
                host.name
                if host is not None
                else ", ".join(sorted(g.name for g in data.get("hostgroups", [])))
            )
            result, status = _write(
                request,
                form,
                queryset=s.ServiceSerializer.read_queryset(),
                reason=f"{'edit' if service else 'create'} service {data.get('description')} on {where} (web)",
            )
            if result is not None:
                return redirect("registry:service-detail", pk=result.instance.pk)
    return render(request, "registry/service_form.html", {"form": form, "service": service}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def service_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm (GET) and delete (POST) a service."""
    service = _service(pk)
    where = _where(service)
    if not may_change(request.user, service):
        return forbidden(
            request, f"Service {service.description} on {where} is not owned by one of your teams."
        )
    error = None
    if request.method == "POST":
        host = service.host
        error = delete(
            request,
            service,
            serializer_class=_service_serializer(service),
            queryset=s.ServiceSerializer.read_queryset(),
            what=f"Service {service.description} on {where}",
            reason=f"delete service {service.description} on {where} (web)",
        )
        if error is None:
            if host is not None:
                return redirect("registry:host-detail", name=host.name)
            return redirect("registry:service-list")
    return render(
        request,
        "registry/service_confirm_delete.html",
        {"service": service, "where": where, "error": error},
        status=409 if error else 200,
    )


# --- nodes and deployments ----------------------------------------------------------------


@login_required
def node_list(request: HttpRequest) -> HttpResponse:
    """Naemon nodes with their latest deployment (one row per node, not the whole history)."""
    latest = Deployment.objects.filter(node=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    nodes = list(
        NaemonNode.objects.prefetch_related("hostgroups")
        .select_related("health")
        .annotate(latest_pk=Subquery(latest))
    )
    last = Deployment.objects.only("pk", "node_id", "state", "created_at").in_bulk(
        [node.latest_pk for node in nodes if node.latest_pk is not None]
    )
    rows = [(node, last.get(node.latest_pk)) for node in nodes]
    # From the rows already read (health joined): the list costs no query per node or object.
    topo = cluster.Topology(
        {
            node.name: cluster.Node(
                name=node.name,
                role=node.role,
                enabled=node.enabled,
                healthy=_healthy(node),
                priority=node.priority,
            )
            for node in nodes
        }
    )
    return render(request, "registry/node_list.html", {"rows": rows, "active_master": topo.active_master()})


def _healthy(node: NaemonNode) -> bool:
    try:
        return node.health.healthy
    except NodeHealth.DoesNotExist:
        return True  # not watched yet


def _deployments_context(node: NaemonNode, request: HttpRequest) -> dict[str, Any]:
    deployments = list(node.deployments.select_related("node")[:DEPLOYMENT_HISTORY])
    running = any(d.state not in FINAL_DEPLOYMENT_STATES for d in deployments)
    return {
        "node": node,
        "deployments": deployments,
        "running": running,
        # Confirmed without a core: not green (registry/deployment_report.py).
        "rendered_only": {d.pk for d in deployments if deployment_report.rendered_only(d)},
        # The retry button (staff, operators) goes on the latest deployment when it failed.
        "can_redeploy": may_redeploy(request.user),
        # Always polled, so that a new deployment shows up too; faster while one runs.
        "poll_seconds": POLL_RUNNING_SECONDS if running else POLL_IDLE_SECONDS,
    }


@login_required
def node_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A node and its deployment history, live: new deployments and state changes appear in place."""
    node = get_object_or_404(
        NaemonNode.objects.prefetch_related(
            Prefetch("hostgroups", queryset=HostGroup.objects.order_by("name"))
        ),
        name=name,
    )
    context = _deployments_context(node, request)
    context.update(_cluster_context(node))
    return render(request, "registry/node_detail.html", context)


def _cluster_context(node: NaemonNode) -> dict[str, Any]:
    """The node's part in the cluster: health, share, and the last moves it was part of."""
    moves = list(
        ClusterMove.objects.filter(Q(node=node) | Q(taken_by=node.name))
        .select_related("node")
        .prefetch_related("deployments")[:MOVE_HISTORY]
    )
    return {
        "health": NodeHealth.objects.filter(node=node).first(),
        "share": cluster.shares().get(node.name) or cluster.NodeShare().as_dict(),
        "moves": [(move, failover.window_end(move)) for move in moves],
    }


@login_required
@vary_on_headers("HX-Request")
def node_deployments(request: HttpRequest, name: str) -> HttpResponse:
    """The htmx fragment of a node's deployments (it polls itself again).

    Opened directly (a bookmark, a link copied from the address bar), it is the node page: the
    bare fragment would be an unstyled table without navigation.
    """
    if request.headers.get("HX-Request") != "true":
        return node_detail(request, name)
    node = get_object_or_404(NaemonNode, name=name)
    return render(request, "registry/_deployments.html", _deployments_context(node, request))


@login_required
@require_http_methods(["POST"])
def node_redeploy(request: HttpRequest, name: str) -> HttpResponse:
    """The node page's "Redeploy this node" button (staff, operators): registry/drift.py's redeploy."""
    node = get_object_or_404(NaemonNode, name=name)
    return _deploy_action(
        request, node, lambda by: drift.redeploy(node, by=by, request=tasks.request_deployments)
    )


@login_required
@require_http_methods(["POST"])
def deployment_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Retry" button of a node's latest deployment when it failed (staff, operators)."""
    deployment = get_object_or_404(Deployment.objects.select_related("node"), pk=pk)
    return _deploy_action(
        request,
        deployment.node,
        lambda by: drift.retry(deployment, by=by, request=tasks.request_deployments),
    )


def _deploy_action(request: HttpRequest, node: NaemonNode, act: Any) -> HttpResponse:
    if not may_redeploy(request.user):
        return forbidden(request, _("Only staff and operators may redeploy a node or retry a deployment."))
    try:
        deployment = act(request.user.get_username())
    except drift.Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Deployment %(pk)s of %(node)s requested.") % {"pk": deployment.pk, "node": node.name}
        )
    return redirect("registry:node-detail", name=node.name)
