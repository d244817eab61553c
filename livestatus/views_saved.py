"""Pages of saved views ("my views"): save the list you look at, open, rename and delete your own.

Thin: the rules are ``livestatus.saved_views``. Another user's view is a 404 on every page.
A refused form is a 400 that names the field and stores nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from livestatus import saved_views
from livestatus.models import SavedView


def _page(request: HttpRequest, errors: dict[str, list[str]] | None = None, editing: int = 0) -> HttpResponse:
    context = {
        "views": [(view, saved_views.target_url(view)) for view in saved_views.views_of(request.user)],
        "errors": errors or {},
        "editing": editing,
        "limit": saved_views.MAX_PER_USER,
    }
    return render(request, "livestatus/saved_views.html", context, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """GET: your views; POST (the lists' "Save this view"): save one and go back to it."""
    if request.method == "GET":
        return _page(request)
    try:
        view = saved_views.save(
            request.user,
            request.POST.get("name", ""),
            request.POST.get("path", ""),
            request.POST.get("query", ""),
        )
    except saved_views.ViewInvalid as exc:
        return _page(request, exc.errors)
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(saved_views.target_url(view))


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: open the view (its list, with its filters); POST: rename it."""
    view = get_object_or_404(SavedView, pk=pk, user=request.user.pk)
    if request.method == "GET":
        return redirect(saved_views.target_url(view))
    try:
        saved_views.save(request.user, request.POST.get("name", ""), view.path, view.query, instance=view)
    except saved_views.ViewInvalid as exc:
        return _page(request, exc.errors, editing=view.pk)
    messages.success(request, _("View renamed."))
    return redirect("livestatus:saved-views")


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of your views."""
    view = get_object_or_404(SavedView, pk=pk, user=request.user.pk)
    view.delete()
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect("livestatus:saved-views")
