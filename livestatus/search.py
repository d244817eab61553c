"""The navigation bar's search: hosts, services, host groups, service groups and people by name.

``GET /status/search/?q=text`` answers JSON for the box's suggestions. Hosts and services come
from the registry *and* from what the nodes report live (an object only a core knows is still
found, and goes to its status page); groups and people come from the registry. Each kind gives
at most ``PER_KIND`` names, so a one-letter query stays small and fast. Reading only, for every
signed-in user (like the status pages); anonymous callers get a 403 and learn no names.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from livestatus import status
from livestatus.actions import Target
from livestatus.client import Filter, LivestatusQuery, UnsafeValueError, check_value
from livestatus.views import detail_url
from registry.models import Contact, Host, HostGroup, Service, ServiceGroup

#: Names per kind in one answer.
PER_KIND = 8
#: The longest query taken (a name is at most 255; a search box needs far less).
MAX_QUERY = 100


def _error(field: str, message: str, code: int = 400) -> JsonResponse:
    return JsonResponse({field: [message]}, status=code)


def _live(table: str, columns: tuple[str, ...], column: str, text: str) -> tuple[list[Any], list[str]]:
    """Rows of ``table`` whose ``column`` contains ``text`` (any case), and the nodes that did not answer."""
    query = (
        LivestatusQuery(table, columns=columns)
        .where(Filter(column, "~~", status.literal_regex(text)))
        .limit(PER_KIND)
    )
    rows, unreachable = status.ask(status.asked_nodes(), query)
    return rows, [item.node for item in unreachable]


def _first(names: set[Any]) -> list[Any]:
    return sorted(names, key=lambda name: str(name).lower())[:PER_KIND]


def _registry_url(kind: str, name: str) -> str:
    try:
        return reverse("registry:object-detail", kwargs={"kind": kind, "key": name})
    except NoReverseMatch:  # a name the path cannot hold: the registry list finds it
        return reverse("registry:object-list", kwargs={"kind": kind}) + "?" + urlencode({"q": name})


def suggestions(text: str) -> dict[str, Any]:
    """What the box offers for ``text`` (already checked: one line, not empty)."""
    live_hosts, down = _live("hosts", ("name",), "name", text)
    live_services, down_too = _live("services", ("host_name", "description"), "description", text)
    hosts = set(Host.objects.filter(name__icontains=text).values_list("name", flat=True)[:PER_KIND])
    hosts |= {str(row["name"]) for row in live_hosts}
    services = {
        (str(host), str(description))
        for host, description in Service.objects.filter(
            host__isnull=False, description__icontains=text
        ).values_list("host__name", "description")[:PER_KIND]
    }
    services |= {(str(row["host_name"]), str(row["description"])) for row in live_services}
    named = Q(name__icontains=text) | Q(alias__icontains=text)
    hostgroups = set(HostGroup.objects.filter(named).values_list("name", flat=True)[:PER_KIND])
    servicegroups = set(ServiceGroup.objects.filter(named).values_list("name", flat=True)[:PER_KIND])
    people = set(
        Contact.objects.filter(named | Q(email__icontains=text)).values_list("name", flat=True)[:PER_KIND]
    )
    results = [
        *({"kind": "host", "label": h, "url": detail_url(Target(h))} for h in _first(hosts)),
        *(
            {"kind": "service", "label": f"{h} / {s}", "url": detail_url(Target(h, s))}
            for h, s in sorted(services, key=lambda pair: (pair[0].lower(), pair[1].lower()))[:PER_KIND]
        ),
        *(
            {
                "kind": "host group",
                "label": g,
                "url": reverse("livestatus:hosts") + "?" + urlencode({"hostgroup": g}),
            }
            for g in _first(hostgroups)
        ),
        *(
            {
                "kind": "service group",
                "label": g,
                "url": reverse("livestatus:services") + "?" + urlencode({"servicegroup": g}),
            }
            for g in _first(servicegroups)
        ),
        *({"kind": "person", "label": p, "url": _registry_url("contacts", p)} for p in _first(people)),
    ]
    return {"q": text, "results": results, "unreachable": sorted(set(down + down_too))}


@require_GET
def search(request: HttpRequest) -> JsonResponse:
    """Suggestions for the navigation bar's search box (JSON)."""
    if not request.user.is_authenticated:
        return _error("detail", "Log in to search.", 403)
    text = request.GET.get("q", "").strip()
    if not text:
        return _error("q", "Type at least one character.")
    if len(text) > MAX_QUERY:
        return _error("q", f"At most {MAX_QUERY} characters.")
    try:
        text = check_value(text, "q")
    except UnsafeValueError:
        return _error("q", "q may not contain line breaks or control characters.")
    return JsonResponse(suggestions(text))
