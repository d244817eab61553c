"""The overview's "tops" panels: problem hosts, noisiest services, most notified contacts.

Problem hosts come from each refresh's problem rows. The other two look back 24 hours and
are recomputed every ``WALL_TOPS_SECONDS``: state changes per service from the ``log``
table ("noisiest services"; hidden when no node has that table, e.g. Icinga 2 without
compat logs), and "who gets most notifications" from the counts that each node's worker
collects from its notify-filter decision log into Redis (``preferences.decisions``).
Without Redis, read from the decision logs on this machine directly.

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
from monitoring_portal import redis_client
from preferences import decisions
from registry.models import NaemonNode

logger = logging.getLogger(__name__)

TOPS_ROWS = 8
DAY = 86400


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


def collect_log(nodes: Sequence[NaemonNode], now: float) -> dict[str, Any]:
    """Each node's service state changes of the last 24 h (``available``: some node has a log table)."""
    result = shared_cluster(nodes).query(noisy_services_query(int(now) - DAY))
    available = bool(result.per_node)
    for error in result.unreachable:
        if not isinstance(error.error, LivestatusQueryError):
            logger.info("log table of %s not read: %s", error.node, error.error)
    return {"available": available, "per_node": result.per_node}


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
