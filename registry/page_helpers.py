"""What the registry's pages share: paging, the refusal page, and saying what a write did.

Used by registry/views.py (hosts, services, nodes) and registry/object_views.py (the other kinds).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from registry import serializers as s
from registry import writes

PAGE_SIZE = 50


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    """The 403 page, saying why."""
    return render(request, "registry/forbidden.html", {"message": message}, status=403)


def paginate(request: HttpRequest, queryset: Any) -> Any:
    """The ``?page=`` of a list (past the last: the last page)."""
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The list's query string without its page, for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def by(request: HttpRequest) -> str:
    """Who a page's write is recorded as (deployments' ``triggered_by``)."""
    return f"{request.user.get_username()} (web)"


def delete(
    request: HttpRequest,
    obj: Any,
    *,
    serializer_class: type[s.NaemonModelSerializer],
    queryset: Any,
    what: str,
    reason: str,
) -> str | None:
    """Delete through the API's path and say so; the refusal's text when the object is in use."""
    try:
        result = writes.apply_delete(
            obj,
            serializer_class=serializer_class,
            queryset=queryset,
            context={"request": request},
            triggered_by=by(request),
            reason=reason,
        )
    except writes.Conflict as exc:
        return str(exc)
    nodes = ", ".join(sorted(d.node.name for d in result.deployments))
    if nodes:
        messages.success(
            request, _("%(what)s deleted. Deploying to %(nodes)s.") % {"what": what, "nodes": nodes}
        )
    else:
        messages.success(request, _("%(what)s deleted.") % {"what": what})
    return None


def say_what_happened(request: HttpRequest, result: writes.WriteResult) -> None:
    """The message after a write: nothing changed, saved, or saved and deploying to these nodes."""
    if not result.stored:
        messages.info(request, _("Nothing changed."))
    elif result.deployments:
        nodes = ", ".join(sorted(d.node.name for d in result.deployments))
        messages.success(request, _("Saved. Deploying to %(nodes)s.") % {"nodes": nodes})
    else:
        messages.success(request, _("Saved."))
