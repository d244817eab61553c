"""/audit/: every audit row, for staff, filterable by user, object kind and time (monitoring_portal.audit)."""

from __future__ import annotations

from auditlog.models import LogEntry
from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from monitoring_portal import audit

PAGE_SIZE = 50


def kind_choices() -> list[tuple[str, str | Promise]]:
    kinds = sorted({label.lower() for label, _ in audit.TRACKED})
    apps = sorted({kind.split(".")[0] for kind in kinds})
    return [
        ("", _("any")),
        *((app, _("%(app)s (all)") % {"app": app}) for app in apps),
        *((kind, kind) for kind in kinds),
    ]


class AuditFilterForm(forms.Form):
    """The audit page's filters; a value that does not parse is a 400 naming the field."""

    user = forms.CharField(required=False, max_length=150, label=_("User"), help_text=_("User name (exact)."))
    kind = forms.ChoiceField(required=False, choices=kind_choices, label=_("Kind"))
    since = forms.DateTimeField(
        required=False, label=_("Since"), help_text=_("From (inclusive), e.g. 2026-05-01 08:00.")
    )
    until = forms.DateTimeField(required=False, label=_("Until"), help_text=_("Until (exclusive)."))
    page = forms.IntegerField(required=False, min_value=1)

    def apply(self, entries: QuerySet[LogEntry]) -> QuerySet[LogEntry]:
        data = self.cleaned_data
        if data["user"]:
            entries = entries.filter(actor__username=data["user"])
        kind = data["kind"]
        if kind and "." in kind:
            app_label, model = kind.split(".", 1)
            entries = entries.filter(content_type__app_label=app_label, content_type__model=model)
        elif kind:
            entries = entries.filter(content_type__app_label=kind)
        if data["since"]:
            entries = entries.filter(timestamp__gte=data["since"])
        if data["until"]:
            entries = entries.filter(timestamp__lt=data["until"])
        return entries


@staff_member_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Who changed what, when and from where: the whole trail, newest first."""
    unknown = sorted(set(request.GET) - set(AuditFilterForm.base_fields))
    form = AuditFilterForm(request.GET or None)
    if unknown:
        form.is_valid()
        for name in unknown:
            form.add_error(None, f"Unknown filter {name!r}: use {', '.join(AuditFilterForm.base_fields)}.")
    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")
    if request.GET and (unknown or not form.is_valid()):
        return render(
            request,
            "audit/audit_log.html",
            {"form": form, "page": None, "retention_days": audit.retention_days()},
            status=400,
        )
    if form.is_bound:
        entries = form.apply(entries)
    number = form.cleaned_data.get("page") if form.is_bound else None
    page = Paginator(entries, PAGE_SIZE).get_page(number or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/audit_log.html",
        {"form": form, "page": page, "query": query.urlencode(), "retention_days": audit.retention_days()},
    )
