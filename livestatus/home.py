"""The engineer's home page: my teams' problems first, then the others; my recent notifications.

The page reads the overview (``livestatus.overview_store``), never Livestatus; htmx
refreshes its status part in place. "My recent notifications" are the notify-filter's
decisions about the user's Naemon contact (``preferences.decisions``): collected into Redis
by the nodes' workers, or without Redis read from the logs on this machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import redis
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from livestatus import overview_store
from livestatus.actions import acts_on_everything
from monitoring_portal import redis_client
from monitoring_portal.models import Team
from preferences import decisions
from registry.models import Host, HostGroup, NaemonNode

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The engineer's landing page: my teams' problems first, then the rest; my notifications.

    Reads the overview (never Livestatus); htmx refreshes the status part in place.
    """
    status = home_status(request.user)
    if request.headers.get("HX-Request") == "true":
        return render(request, "livestatus/home_status.html", {"status": status})
    contact = getattr(request.user, "naemon_contact", None)
    notifications = recent_notifications(contact.name) if contact is not None else None
    return render(
        request,
        "livestatus/home.html",
        {
            "teams": Team.objects.filter(members=request.user.pk),
            "status": status,
            "contact": contact,
            "notifications": notifications,
            "notification_logs": notifications is not None or has_decision_logs(),
        },
    )


def recent_notifications(contact: str, *, limit: int = 15) -> list[dict[str, Any]] | None:
    """The contact's latest notify-filter decisions across nodes, newest first; None without logs."""
    nodes = list(NaemonNode.objects.filter(enabled=True))
    client = redis_client.client()
    if client is None:
        paths = decisions.decision_logs(n.notify_paths().decision_log for n in nodes if n.notify_dir)
        found = decisions.recent_from_files(paths, contact, limit) if paths else None
    else:
        try:
            found = decisions.recent_collected(client, [node.pk for node in nodes], contact, limit)
        except redis.RedisError as exc:  # the page still renders, without the section
            logger.warning("recent notifications unreadable: %s", exc)
            return None
    for record in found or []:
        # An aware datetime: the page shows it in the reader's zone and language, not the log's ISO.
        record["at"] = datetime.fromtimestamp(record["_ts"], UTC) if record.get("_ts") else None
    return found


def has_decision_logs() -> bool:
    """Whether any enabled node's decision log can be shown (collected into Redis, or readable here)."""
    nodes = list(NaemonNode.objects.filter(enabled=True))
    client = redis_client.client()
    if client is None:
        return bool(decisions.decision_logs(n.notify_paths().decision_log for n in nodes if n.notify_dir))
    try:
        return bool(decisions.collected_nodes(client, [node.pk for node in nodes]))
    except redis.RedisError:
        return False


def unreachable_errors(snapshot: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(node, error) of every node that did not answer."""
    return [
        (str(n["name"]), str(n.get("error") or ""))
        for n in snapshot.get("nodes", [])
        if not n.get("reachable")
    ]


def team_scope(user: Any) -> tuple[set[str], set[str]]:
    """Names of the hosts and host groups the user's teams own in the registry."""
    teams = list(user.teams.values_list("id", flat=True)) if getattr(user, "is_authenticated", False) else []
    if not teams:
        return set(), set()
    groups = set(HostGroup.objects.filter(team__in=teams).values_list("name", flat=True))
    hosts = set(
        Host.objects.filter(Q(team__in=teams) | Q(hostgroups__team__in=teams)).values_list("name", flat=True)
    )
    return hosts, groups


def _first_route(options: Sequence[tuple[str, dict[str, str], dict[str, str]]]) -> str:
    """The first of (route name, kwargs, query) that exists; the status area's index otherwise."""
    for name, kwargs, query in options:
        try:
            url = reverse(name, kwargs=kwargs or None)
        except NoReverseMatch:
            continue
        return url + ("?" + urlencode(query) if query else "")
    return reverse("livestatus:index")


def status_links(problem: Mapping[str, Any]) -> dict[str, str]:
    """Where the status pages show and act on a problem (``/status/`` routes; any name fits)."""
    names = {"host": problem["host"]} | ({"service": problem["service"]} if problem["service"] else {})
    detail = "livestatus:service" if problem["service"] else "livestatus:host"
    # A name with '/' fits no path route: the query-string routes take any name.
    links = {"detail": _first_route([(detail, names, {}), ("livestatus:object", {}, names)])}
    for kind in ("acknowledge", "downtime", "recheck"):
        links[kind] = _first_route(
            [(f"livestatus:{kind}", names, {}), ("livestatus:act", {"kind": kind}, names)]
        )
    return links


def home_status(user: Any, *, now: float | None = None) -> dict[str, Any]:
    """The home page's status: my teams' problems first, then the others, and the snapshot's health."""
    now = now if now is not None else time.time()
    error = ""
    try:
        snapshot = overview_store.get_snapshot()
    except redis.RedisError as exc:  # the page still renders, and says why there is no status
        logger.warning("status snapshot unreadable: %s", exc)
        snapshot, error = None, _("the status store (Redis) does not answer: %(error)s") % {"error": exc}
    result: dict[str, Any] = {
        "freshness": overview_store.freshness(snapshot, now) | {"error": error},
        "mine": [],
        "others": [],
        "snapshot": snapshot,
        "unreachable": unreachable_errors(snapshot) if snapshot else [],
    }
    if snapshot is None:
        return result
    hosts, groups = team_scope(user)
    everything = acts_on_everything(user)
    for problem in snapshot.get("problems", []):
        mine = problem["host"] in hosts or bool(groups.intersection(problem.get("groups", ())))
        entry = dict(problem)
        entry["since_dt"] = datetime.fromtimestamp(problem["since"], UTC) if problem.get("since") else None
        entry["links"] = status_links(problem)
        # The rule of livestatus.actions: staff and operators, or a registry host of one of my teams.
        entry["may_act"] = everything or problem["host"] in hosts
        result["mine" if mine else "others"].append(entry)
    return result
