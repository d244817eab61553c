"""Pages of the Status area: problems, hosts, services, object details, actions, nodes, the action log.

Every list renders its first rows with the page and then refreshes its table in place:
htmx polls the list's ``table/`` fragment with the same query string. Reading is open to
everyone logged in; acting follows ``livestatus.actions`` (staff, or the owning team).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods

from livestatus import actions, status
from livestatus.actions import ActionForbidden, ActionInvalid, Target
from livestatus.availability import WINDOWS
from livestatus.client import UnsafeValueError
from livestatus.detail import (
    availabilities,
    available_actions,
    grafana_url,
    host_detail,
    perfdata_rows,
    service_detail,
    timeline_view,
    user_timezone,
)
from livestatus.filtersets import ActionLogFilterSet
from livestatus.forms import ACTION_FORMS, StatusFilterForm
from livestatus.models import ActionKind, ActionLog, SavedView
from registry import lists

PAGE_SIZE = 100
ACTION_LOG_PAGE_SIZE = 50
#: How often the lists refresh their table (seconds).
REFRESH_SECONDS = 10

#: The URL segment (and route name) of each action.
ACTION_PATHS: dict[str, str] = {
    ActionKind.ACKNOWLEDGE.value: "acknowledge",
    ActionKind.REMOVE_ACKNOWLEDGEMENT.value: "remove-acknowledgement",
    ActionKind.DOWNTIME.value: "downtime",
    ActionKind.DELETE_DOWNTIME.value: "delete-downtime",
    ActionKind.RECHECK.value: "recheck",
    ActionKind.COMMENT.value: "comment",
    ActionKind.ENABLE_NOTIFICATIONS.value: "enable-notifications",
    ActionKind.DISABLE_NOTIFICATIONS.value: "disable-notifications",
    ActionKind.ENABLE_CHECKS.value: "enable-checks",
    ActionKind.DISABLE_CHECKS.value: "disable-checks",
}

_LISTS: dict[str, tuple[str, Callable[[status.StatusFilter], status.StatusResult]]] = {
    # Marked here, translated per request (the title is the page's, in the reader's language).
    "problems": (gettext_noop("Problems"), status.problems),
    "hosts": (gettext_noop("Hosts"), status.hosts),
    "services": (gettext_noop("Services"), status.services),
}


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "livestatus/forbidden.html", {"message": message}, status=403)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _annotate(user: Any, rows: Any) -> bool:
    """Links and whether the user may act, on the rows shown; True if the user may act on some object."""
    owned = actions.owned_hosts(user)
    for row in rows:
        target = Target(row["host"], row["service"])
        row["url"] = detail_url(target)
        row["host_url"] = detail_url(Target(row["host"])) if row["service"] else row["url"]
        row["may_act"] = owned is None or row["host"] in owned
        row["links"] = _links(target, row["node"]) if row["may_act"] else {}
    return owned is None or bool(owned)


#: The columns each list sorts by, in the order of its table. The first click on a header sorts
#: the way an operator looks first (worst state, newest change, longest duration, latest check).
_SORTABLE = {
    "problems": ("state", "host", "service", "last_state_change", "duration", "last_check"),
    "services": ("state", "host", "service", "last_state_change", "duration", "last_check"),
    "hosts": ("state", "host", "last_state_change", "duration", "last_check"),
}
_FIRST_DESCENDING = ("state", "last_state_change", "duration", "last_check")


def _sort_error(kind: str, sort: str) -> str:
    """Why ``sort`` is no sort of this list ('' when it is one, or empty)."""
    if not sort or sort.removeprefix("-") in _SORTABLE[kind]:
        return ""
    choices = ", ".join(_SORTABLE[kind])
    return f"unknown sort {sort[:50]!r}: one of {choices}, with '-' first for descending."


#: The lists that group by host on demand (``?group=host``); a host list has one row per host.
_GROUPED = ("problems", "services")


def _group_error(kind: str, group: str) -> str:
    """Why ``group`` is no grouping of this list ('' when it is one, or empty)."""
    if not group or (group == "host" and kind in _GROUPED):
        return ""
    if kind not in _GROUPED:
        return f"the {kind} list is not grouped."
    return f"unknown grouping {group[:50]!r}: 'host', or nothing."


#: What a list's query string may hold besides the filters (``page`` is not part of a view).
LIST_PARAMETERS = ("sort", "group")


def list_query_errors(kind: str, data: QueryDict) -> dict[str, list[str]]:
    """What is wrong with a query string of the ``kind`` list, per parameter (empty: nothing).

    The list's own checks (``StatusFilterForm``, the sort, the grouping), so a saved view
    (``livestatus.saved_views``) is refused for what the page would refuse.
    """
    form = StatusFilterForm(data, kind=kind)
    errors: dict[str, list[str]] = {}
    for name in data:
        if name not in form.fields and name not in LIST_PARAMETERS:
            errors[name] = [f"unknown parameter {name[:50]!r}."]
    if not form.is_valid():
        errors.update({name: [str(error) for error in field] for name, field in form.errors.items()})
    for name, error in (
        ("sort", _sort_error(kind, data.get("sort", ""))),
        ("group", _group_error(kind, data.get("group", ""))),
    ):
        if error:
            errors[name] = [error]
    return errors


def _sort_links(request: HttpRequest, kind: str, sort: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the URL of its header link and, if the list is sorted by it, the direction."""
    links = {}
    for column in _SORTABLE[kind]:
        if sort.removeprefix("-") == column:
            direction = "descending" if sort.startswith("-") else "ascending"
            wanted = column if sort.startswith("-") else f"-{column}"
        else:
            direction = ""
            wanted = f"-{column}" if column in _FIRST_DESCENDING else column
        query = request.GET.copy()
        query.pop("page", None)
        query["sort"] = wanted
        links[column] = {"url": "?" + query.urlencode(), "direction": direction}
    return links


def _status_list(request: HttpRequest, kind: str, *, fragment: bool) -> HttpResponse:
    title, ask = _LISTS[kind]
    form = StatusFilterForm(request.GET or None, kind=kind)
    # The sort is the pages' own (the API keeps its fixed order): checked here, not by the form.
    sort = request.GET.get("sort", "")
    sort_error = _sort_error(kind, sort)
    group = request.GET.get("group", "")
    group_error = _group_error(kind, group)
    valid = (not form.is_bound or form.is_valid()) and not sort_error and not group_error
    result = status.StatusResult([])
    if valid:
        result = ask(form.to_filter() if form.is_bound else status.StatusFilter())
    rows = status.sort_rows(result.rows, sort) if valid and sort else result.rows
    if valid and group:
        rows = status.host_first(rows)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    may_act = _annotate(request.user, page.object_list)
    groups = status.group_by_host(page.object_list) if valid and group else []
    for host_rows in groups:
        host_rows.url = detail_url(Target(host_rows.host))
        host_rows.may_act = any(row["may_act"] for row in host_rows.rows)
    context = {
        "kind": kind,
        "title": _(title),
        "form": form,
        "page": page,
        "unreachable": result.unreachable,
        "query": request.GET.urlencode(),
        "query_without_page": _query_without_page(request),
        "table_url": reverse(f"livestatus:{kind}-table"),
        "refresh_seconds": REFRESH_SECONDS,
        "sort_error": sort_error,
        "sort_links": _sort_links(request, kind, "" if sort_error else sort),
        "group": "" if group_error else group,
        "group_error": group_error,
        "groups": groups,
        "groupable": kind in _GROUPED,
        "may_act": may_act,
        # The full page's "My views" (livestatus.saved_views); the refreshed table has no use for them.
        "saved_views": [] if fragment else SavedView.objects.filter(user=request.user.pk),
        "bulk_url": reverse("livestatus-api:action-bulk") if may_act else "",
    }
    template = "livestatus/_status_table.html" if fragment else "livestatus/status_list.html"
    return render(request, template, context, status=200 if valid else 400)


@login_required
@require_GET
def problems(request: HttpRequest) -> HttpResponse:
    """Hosts not UP and services not OK on every node, most severe and newest first."""
    return _status_list(request, "problems", fragment=False)


@login_required
@require_GET
def problems_table(request: HttpRequest) -> HttpResponse:
    """The problems table alone (polled by the page)."""
    return _status_list(request, "problems", fragment=True)


@login_required
@require_GET
def hosts(request: HttpRequest) -> HttpResponse:
    """Every host on every node."""
    return _status_list(request, "hosts", fragment=False)


@login_required
@require_GET
def hosts_table(request: HttpRequest) -> HttpResponse:
    """The hosts table alone (polled by the page)."""
    return _status_list(request, "hosts", fragment=True)


@login_required
@require_GET
def services(request: HttpRequest) -> HttpResponse:
    """Every service on every node."""
    return _status_list(request, "services", fragment=False)


@login_required
@require_GET
def services_table(request: HttpRequest) -> HttpResponse:
    """The services table alone (polled by the page)."""
    return _status_list(request, "services", fragment=True)


def _names(target: Target) -> dict[str, str]:
    return {"host": target.host, "service": target.service} if target.service else {"host": target.host}


def _path_or_query(route: str, target: Target, query_route: str, **kwargs: str) -> str:
    # A host name with '/' would be split at the wrong place in a path: use the query string.
    if "/" not in target.host:
        try:
            return reverse(route, kwargs=_names(target))
        except NoReverseMatch:
            pass
    return reverse(query_route, kwargs=kwargs) + "?" + urlencode(_names(target))


def detail_url(target: Target) -> str:
    """The detail page of a host or service (through the query string if the path cannot hold it)."""
    route = "livestatus:service" if target.service else "livestatus:host"
    return _path_or_query(route, target, "livestatus:object")


def action_url(kind: str, target: Target) -> str:
    """Where the form of an action on a host or service lives."""
    return _path_or_query(f"livestatus:{ACTION_PATHS[kind]}", target, "livestatus:act", kind=kind)


def _links(target: Target, node: str = "") -> dict[str, str]:
    """The action URLs of an object; with ``node``, the forms send to that node."""
    links = {kind: action_url(kind, target) for kind in ACTION_PATHS}
    if node:
        suffix = urlencode({"node": node})
        links = {kind: url + ("&" if "?" in url else "?") + suffix for kind, url in links.items()}
    return links


def _detail(request: HttpRequest, target: Target) -> HttpResponse:
    node = request.GET.get("node", "")
    try:
        if target.service:
            detail = service_detail(target.host, target.service, node)
        else:
            detail = host_detail(target.host, node)
    except UnsafeValueError as exc:
        context = {"target": target, "message": exc.message, "unreachable": []}
        return render(request, "livestatus/not_found.html", context, status=400)
    if detail.row is None:
        context = {
            "target": target,
            "message": _("No node that answered knows this object."),
            "unreachable": detail.unreachable,
        }
        return render(request, "livestatus/not_found.html", context, status=404)
    may_act = actions.may_act(request.user, target)
    context = {
        "target": target,
        "detail": detail,
        "row": detail.row,
        "unreachable": detail.unreachable,
        "may_act": may_act,
        "can": available_actions(detail, may_act=may_act),
        "links": _links(target, detail.row["node"]),
        "host_url": detail_url(Target(target.host)),
        "refresh_seconds": REFRESH_SECONDS,
        "perfdata": perfdata_rows(detail.row.get("perf_data") or ""),
        "grafana_url": grafana_url(settings.GRAFANA_URL, target.host, target.service),
        "registry_url": lists.registry_url(target.host, target.service),
        "user_timezone": user_timezone(request.user, settings.TIME_ZONE),
    }
    # The in-place refresh (htmx) replaces only the live part: no need to read a month of log.
    if detail.owner is not None and not request.headers.get("HX-Request"):
        windows, context["availability_error"] = availabilities(detail.owner, detail.row, list(WINDOWS))
        context["timelines"] = [timeline_view(name, result) for name, result in (windows or {}).items()]
    for service_row in detail.services:
        service_row["url"] = detail_url(Target(target.host, service_row["service"]))
    return render(request, "livestatus/detail.html", context)


@login_required
@require_GET
def host(request: HttpRequest, host: str) -> HttpResponse:
    """One host: state, output, comments, downtimes, history, its services, actions."""
    return _detail(request, Target(host))


@login_required
@require_GET
def service(request: HttpRequest, host: str, service: str) -> HttpResponse:
    """One service: state, output, comments, downtimes, history, actions."""
    return _detail(request, Target(host, service))


@login_required
@require_GET
def object_detail(request: HttpRequest) -> HttpResponse:
    """A host (``?host=``) or service (``?host=&service=``) by query string: any name fits."""
    host = request.GET.get("host", "")
    if not host:
        raise Http404("Name a host: ?host=…")
    return _detail(request, Target(host, request.GET.get("service", "")))


@login_required
@require_http_methods(["GET", "POST"])
def action(request: HttpRequest, kind: str, host: str | None = None, service: str = "") -> HttpResponse:
    """GET: the action's form; POST: send it to the node and go back to the object."""
    if kind not in ACTION_PATHS:
        raise Http404("No such action.")
    if host is None:  # act/<kind>/?host=&service=
        host, service = request.GET.get("host", ""), request.GET.get("service", "")
        if not host:
            raise Http404("Name a host: ?host=…")
    target = Target(host, service)
    reason = actions.denial(request.user, target)
    if reason is not None:
        return _forbidden(request, reason)
    form_class = ACTION_FORMS[kind]
    code = 200
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                log = actions.perform(
                    request.user, kind, target, form.params(), node=form.cleaned_data["node"], via="page"
                )
            except ActionForbidden as exc:
                return _forbidden(request, str(exc))
            except ActionInvalid as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                if log.ok:
                    sent = [d["node"] for d in log.deliveries if d.get("ok")] or [log.node]
                    late = [d["node"] for d in log.deliveries if not d.get("ok")]
                    text = _("%(action)s: sent to %(nodes)s. The cores apply it within a few seconds.") % {
                        "action": form.title,
                        "nodes": ", ".join(sent),
                    }
                    if late:
                        # Queued: retried when these nodes answer again (livestatus.tasks).
                        text += " " + _("Not yet taken by %(nodes)s: sent again when they answer.") % {
                            "nodes": ", ".join(late)
                        }
                    messages.success(request, text)
                else:
                    messages.error(
                        request,
                        _("%(action)s on %(node)s failed (%(outcome)s): %(error)s")
                        % {
                            "action": form.title,
                            "node": log.node,
                            "outcome": log.outcome,
                            "error": log.error,
                        },
                    )
                return redirect(detail_url(target))
        code = 400
    else:
        form = form_class(initial={"node": request.GET.get("node", "")})
    context = {
        "target": target,
        "form": form,
        "kind": kind,
        "detail_url": detail_url(target),
        "action_url": action_url(kind, target),
    }
    return render(request, "livestatus/action_form.html", context, status=code)


@login_required
@require_GET
def nodes(request: HttpRequest) -> HttpResponse:
    """Every Naemon node: reachable or not, core, version, start, object counts, last deployment."""
    result = status.node_health()
    return render(request, "livestatus/nodes.html", {"nodes": result.rows, "unreachable": result.unreachable})


@login_required
@require_GET
def action_log(request: HttpRequest) -> HttpResponse:
    """The record of operator actions: staff and operators see all, others their own."""
    queryset = ActionLog.objects.all()
    if not actions.sees_every_action(request.user):
        queryset = queryset.filter(user=request.user.pk)
    filterset = ActionLogFilterSet(request.GET or None, queryset=queryset)
    entries = filterset.qs if filterset.is_bound else queryset
    page = Paginator(entries, ACTION_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filterset": filterset, "query_without_page": _query_without_page(request)}
    return render(request, "livestatus/action_log.html", context)
