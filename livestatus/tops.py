"""The overview's "tops" panels: problem hosts, noisiest services, most notified contacts.

Problem hosts come from each refresh's problem rows. The other two look back 24 hours and
are recomputed every ``WALL_TOPS_SECONDS``: state changes per service from the ``log``
table ("noisiest services"; hidden when no node has that table, e.g. Icinga 2 without
compat logs), and "who gets most notifications" from the counts that each node's worker
collects from its notify-filter decision log into Redis (``preferences.decisions``).
Without Redis, read from the decision logs on this machine directly.

At the same pace, the "last hour" strip: hard state changes from the ``log`` table (new
problems, recoveries) and the acknowledgements standing in the ``comments`` table, given in
the last hour, without their authors (kiosk screens read it).

Settings (optional): ``WALL_TOPS_SECONDS`` (60).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
from django.conf import settings

from livestatus.client import Filter, LivestatusQuery, LivestatusQueryError
from livestatus.nodes import shared_cluster
from livestatus.states import HOST_LABELS, SERVICE_LABELS
from monitoring_portal import redis_client
from preferences import decisions
from registry.models import NaemonNode

logger = logging.getLogger(__name__)

TOPS_ROWS = 8
CHANGES_ROWS = 12
DAY = 86400
HOUR = 3600


def tops_seconds() -> float:
    """How often the 24-hour "tops" (log table, decision logs) are recomputed."""
    return float(getattr(settings, "WALL_TOPS_SECONDS", 60))


def noisy_services_query(since: int) -> LivestatusQuery:
    """Service state changes (``SERVICE ALERT`` log lines) since ``since``, per service."""
    return (
        LivestatusQuery("log")
        .select("host_name", "service_description")
        .where(Filter("time", ">=", since), Filter("type", "=", "SERVICE ALERT"))
        .stats(changes=Filter("state", ">=", 0))
    )


def hard_alerts_query(since: int) -> LivestatusQuery:
    """Host and service state changes since ``since``, one row each (the "last hour" strip)."""
    return (
        LivestatusQuery("log")
        .select("time", "type", "host_name", "service_description", "state", "state_type")
        .where(
            Filter("time", ">=", since),
            Filter("type", "=", "SERVICE ALERT") | Filter("type", "=", "HOST ALERT"),
        )
    )


def acknowledgements_query(since: int) -> LivestatusQuery:
    """Acknowledgements given since ``since``: the comments they leave (entry type 4), no author.

    From the comments table, not the log: a core logs an acknowledgement only as an external
    command or a notification, and not every core logs either.
    """
    return (
        LivestatusQuery("comments")
        .select("entry_time", "host_name", "service_description")
        .where(Filter("entry_type", "=", 4), Filter("entry_time", ">=", since))
    )


#: Livestatus queries per node of ``collect_log``: the 24-hour counts and the last hour's changes.
LOG_QUERIES = 3


def collect_log(nodes: Sequence[NaemonNode], now: float) -> dict[str, Any]:
    """Each node's service state changes of the last 24 h (``available``: some node has a log table).

    Also, under ``changes``, the last hour's hard state changes and acknowledgements per node.
    """
    cluster = shared_cluster(nodes)
    result = cluster.query(noisy_services_query(int(now) - DAY))
    available = bool(result.per_node)
    for error in result.unreachable:
        if not isinstance(error.error, LivestatusQueryError):
            logger.info("log table of %s not read: %s", error.node, error.error)
    alerts = cluster.query(hard_alerts_query(int(now) - HOUR))
    acks = cluster.query(acknowledgements_query(int(now) - HOUR))
    changes = {"available": bool(alerts.per_node), "alerts": alerts.per_node, "acks": acks.per_node}
    return {"available": available, "per_node": result.per_node, "changes": changes}


def _hard(value: Any) -> bool:
    # Naemon's livestatus says "HARD"/"SOFT"; some cores give 1/0.
    return str(value).upper() in ("HARD", "1")


def last_hour(log: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
    """The wall's "what changed in the last hour": counts per kind and the latest events, newest first.

    Every master logs the same event: one row per (time, kind, host, service).
    """
    changes = (log or {}).get("changes") or {}
    if not changes.get("available"):
        return {"available": False, "problems": 0, "recoveries": 0, "acknowledgements": 0, "rows": []}
    events: dict[tuple[int, str, str, str], dict[str, Any]] = {}
    for node_rows in changes.get("alerts", {}).values():
        for row in node_rows:
            if not _hard(row.get("state_type")):
                continue  # soft states come and go within a check or two: not news on a wall
            state = int(row.get("state") or 0)
            host, service = str(row.get("host_name") or ""), str(row.get("service_description") or "")
            if not host:
                continue  # a row that names no host names nothing the wall could show
            labels = HOST_LABELS if row.get("type") == "HOST ALERT" else SERVICE_LABELS
            kind = "recovery" if state == 0 else "problem"
            key = (int(row.get("time") or 0), kind, host, service)
            events[key] = {
                "at": key[0],
                "kind": kind,
                "host": host,
                "service": service,
                "state": labels.get(state, str(state)),
            }
    for node_rows in changes.get("acks", {}).values():
        for row in node_rows:
            host, service = str(row.get("host_name") or ""), str(row.get("service_description") or "")
            key = (int(row.get("entry_time") or 0), "acknowledgement", host, service)
            events[key] = {
                "at": key[0],
                "kind": "acknowledgement",
                "host": host,
                "service": service,
                "state": "",
            }
    recent = [e for e in events.values() if e["at"] >= now - HOUR]
    counts = Counter(e["kind"] for e in recent)
    recent.sort(key=lambda e: (-e["at"], e["host"], e["service"]))
    return {
        "available": True,
        "problems": counts["problem"],
        "recoveries": counts["recovery"],
        "acknowledgements": counts["acknowledgement"],
        "rows": recent[:CHANGES_ROWS],
    }


def problem_hosts(problems: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Hosts with most open problems (their own and their services'), and the node of each."""
    problems = list(problems)
    open_by_host: Counter[str] = Counter(problem["host"] for problem in problems)
    host_node = {problem["host"]: problem["node"] for problem in problems}
    return [
        {"host": host, "problems": count, "node": host_node[host]}
        for host, count in sorted(open_by_host.items(), key=lambda item: (-item[1], item[0]))[:TOPS_ROWS]
    ]


def noisiest(log: Mapping[str, Any] | None) -> dict[str, Any]:
    """Services with most state changes over 24 h; a service seen by two cores counts once (max)."""
    if not log or not log.get("available"):
        return {"available": False, "rows": []}
    changes: dict[tuple[str, str], int] = {}
    for node_rows in log["per_node"].values():
        for row in node_rows:
            key = (str(row.get("host_name")), str(row.get("service_description")))
            changes[key] = max(changes.get(key, 0), int(row.get("changes") or 0))
    top = sorted(changes.items(), key=lambda item: (-item[1], item[0]))[:TOPS_ROWS]
    return {
        "available": True,
        "rows": [{"host": host, "service": service, "changes": count} for (host, service), count in top],
    }


def most_notified(nodes: Sequence[NaemonNode], now: float) -> dict[str, Any]:
    """Contacts sent most notifications over 24 h: what the nodes' workers collected into Redis.

    Without Redis, read from the decision logs on this machine.
    """
    client = redis_client.client()
    if client is None:
        paths = decisions.decision_logs(n.notify_paths().decision_log for n in nodes if n.notify_dir)
        return decisions.most_notified(paths, now, rows=TOPS_ROWS)
    try:
        return decisions.most_notified_collected(client, [node.pk for node in nodes], now, rows=TOPS_ROWS)
    except redis.RedisError as exc:
        logger.warning("notification counts unreadable: %s", exc)
        return {"available": False, "rows": []}
