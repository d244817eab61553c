"""Pages of the My notifications area; they read and write only through the REST API (fetch).

The history is rendered on the server from the same queryset and FilterSet as its API: a
read-only list that needs no script (and links to itself page by page).
"""

import time
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from preferences import coverage, history
from preferences.api.serializers import CoverageGapSerializer, CoverageQuerySerializer, RotationSerializer
from preferences.filtersets import NotificationDecisionFilterSet
from preferences.models import HandOver, Rotation, Silence
from registry.models import Contact

# (field, label, help) of the rule editor's name criteria.
NAME_FIELDS = [
    ("hosts", _("Hosts"), _("Names or globs (web-*), comma-separated.")),
    ("hostgroups", _("Host groups"), _("Comma-separated; a glob matches any of the host's groups.")),
    ("services", _("Services"), _("Service descriptions or globs; only service notifications match.")),
    ("servicegroups", _("Service groups"), _("Only service notifications match.")),
]


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """My notifications: rules, default and time zone, and a live preview."""
    contact_name = Contact.objects.filter(user=request.user).values_list("name", flat=True).first()  # type: ignore[misc]
    return render(
        request, "preferences/index.html", {"name_fields": NAME_FIELDS, "contact_name": contact_name}
    )


@login_required
def who(request: HttpRequest) -> HttpResponse:
    """Who would be notified for a host or service (for engineers and the control room)."""
    return render(request, "preferences/who.html")


HISTORY_PAGE_SIZE = 50


@login_required
def history_page(request: HttpRequest) -> HttpResponse:
    """The notify-filter's decisions (yours; staff: everyone's), searchable, each explained."""
    filterset = NotificationDecisionFilterSet(
        request.GET, queryset=history.visible_to(request.user).select_related("user")
    )
    page = Paginator(filterset.qs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    for decision in page:
        decision.rule_label = history.rule_label(decision)
    host = request.GET.get("host", "").strip()
    before = None
    if host and filterset.is_valid():
        since = filterset.form.cleaned_data.get("from")
        until = filterset.form.cleaned_data.get("to")
        before = history.object_not_attempted(
            host,
            request.GET.get("service", "").strip(),
            since.timestamp() if since else time.time() - 86400,
            until.timestamp() if until else None,
        )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "preferences/history.html",
        {"filterset": filterset, "page": page, "not_attempted": before, "query": query.urlencode()},
    )


SILENCE_DURATIONS = [
    ("1h", _("1 hour"), 3600),
    ("2h", _("2 hours"), 7200),
    ("8h", _("8 hours"), 28800),
    ("1d", _("1 day"), 86400),
    ("3d", _("3 days"), 259200),
    ("7d", _("7 days"), 604800),
]


@login_required
def silences(request: HttpRequest) -> HttpResponse:
    """My silences (created and ended early through the API), my hand-overs and those to me, who is on call.

    ``?host=&service=`` prefill the form: a history row or a status page links here, so
    muting an object is two clicks (the link, then "Mute").
    """
    mine = Silence.objects.filter(user=request.user).order_by("-created_at")[:50]  # type: ignore[misc]
    now = timezone.now()
    rotations = Rotation.objects.filter(team__members=request.user).select_related("team", "fallback")  # type: ignore[misc]
    return render(
        request,
        "preferences/silences.html",
        {
            "silences": [(s, s.created_at <= now < s.effective_end) for s in mine],
            "prefill": {"host": request.GET.get("host", ""), "service": request.GET.get("service", "")},
            "durations": SILENCE_DURATIONS,
            "rotations": [_rotation_row(r) for r in rotations],
            "handovers": _handovers(HandOver.objects.filter(user=request.user), now),  # type: ignore[misc]
            "handovers_to_me": _handovers(HandOver.objects.filter(colleague=request.user), now),  # type: ignore[misc]
        },
    )


def _rotation_row(rotation: Rotation) -> dict[str, Any]:
    """The rotation as its API shows it, its next change a datetime: the page formats it for the reader."""
    row = dict(RotationSerializer(rotation).data)
    if row.get("next"):
        row["next"] = {**row["next"], "at": datetime.fromisoformat(row["next"]["at"])}
    return row


def _handovers(queryset: QuerySet[HandOver], now: datetime) -> list[tuple[HandOver, str]]:
    """The latest 50, each with where it stands: upcoming, active or over."""
    rows = queryset.select_related("user", "colleague").order_by("-starts_at", "-pk")[:50]
    return [
        (h, "over" if h.effective_end <= now else "active" if h.starts_at <= now else "upcoming")
        for h in rows
    ]


COVERAGE_PAGE_SIZE = 100


@login_required
def coverage_page(request: HttpRequest) -> HttpResponse:
    """Coverage gaps: what nobody would be told about (staff: everything; engineers: their teams')."""
    query = CoverageQuerySerializer(
        data={k: v for k, v in request.GET.items() if k in ("reason", "team", "host") and v}
    )
    found: list[dict[str, object]] = []
    errors: dict[str, list[str]] = {}
    if query.is_valid():
        data = query.validated_data
        gaps = coverage.gaps(
            request.user, reason=data.get("reason"), team=data.get("team"), host=data.get("host")
        )
        found = [CoverageGapSerializer.of(gap) for gap in gaps]
    else:
        errors = {field: [str(m) for m in messages] for field, messages in query.errors.items()}
    page = Paginator(found, COVERAGE_PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    status = 400 if errors else 200
    return render(
        request,
        "preferences/coverage.html",
        {
            "page": page,
            "reasons": list(coverage.REASONS.items()),
            "query_values": request.GET,
            "query": params.urlencode(),
            "errors": errors,
        },
        status=status,
    )
