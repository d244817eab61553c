"""Pages of the My notifications area; they read and write only through the REST API (fetch)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from registry.models import Contact

# (field, label, help) of the rule editor's name criteria.
NAME_FIELDS = [
    ("hosts", "Hosts", "Names or globs (web-*), comma-separated."),
    ("hostgroups", "Host groups", "Comma-separated; a glob matches any of the host's groups."),
    ("services", "Services", "Service descriptions or globs; only service notifications match."),
    ("servicegroups", "Service groups", "Only service notifications match."),
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
