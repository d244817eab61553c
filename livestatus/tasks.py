"""Celery tasks of the status area: the periodic status snapshot, and the nodes' decision logs.

``refresh_status_snapshot`` runs on the beat's worker every ``WALL_REFRESH_SECONDS``. Once per
``WALL_TOPS_SECONDS`` it also sends ``collect_notification_log(node)`` to every enabled node's
own queue (``naemon.<node>``): that node's worker reads what is new in its notify-filter
decision log into Redis (``livestatus.notifications_log``), where the wall's "most notified"
panel and the home page read it. Without Redis nothing is sent: the pages read the logs
directly, which works where the portal and the filter share a machine.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import redis
from celery import shared_task
from django.conf import settings

from livestatus import dashboard, notifications_log
from preferences import notify_filter
from registry.models import NaemonNode

logger = logging.getLogger(__name__)

#: Set while the collection messages of one tops interval are out (coalesces overlapping refreshes).
KEY_COLLECT_SENT = f"{notifications_log.KEY_PREFIX}:collect-sent"


def decision_log_path(node: NaemonNode) -> str:
    """Where the node's notify-filter writes its decisions.

    An empty notify_dir: the rendered commands pass the filter no ``--log``, so its own
    default applies; read at call time, so that tests can point it elsewhere.
    """
    if not node.notify_dir:
        return notify_filter.DEFAULT_LOG
    return os.path.join(node.notify_dir, notifications_log.LOG_NAME)


def _redis() -> redis.Redis | None:
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)


def enqueue_notification_logs(*, force: bool = False) -> list[str]:
    """Send ``collect_notification_log`` to every enabled node, once per tops interval; their names."""
    client = _redis()
    if client is None:
        return []
    try:
        interval = max(1, int(dashboard.tops_seconds()))
        if not force and not client.set(KEY_COLLECT_SENT, "1", nx=True, ex=interval):
            return []
    except redis.exceptions.RedisError as exc:
        logger.warning("decision log collection not sent: %s", exc)
        return []
    finally:
        client.close()
    sent = []
    for node in NaemonNode.objects.filter(enabled=True).order_by("name"):
        # A message older than one interval is worth nothing: the next one reads the same lines.
        collect_notification_log.apply_async(args=(node.pk,), queue=node.queue, expires=interval)
        sent.append(node.name)
    return sent


# No retries: the next beat tick is the retry, and a late refresh is worth nothing (the beat
# entry sets `expires` to the interval). Overlapping runs are kept apart by a Redis lock.
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=45, time_limit=60)
def refresh_status_snapshot() -> dict[str, Any]:
    """Ask every Naemon node once and store the merged status snapshot (see livestatus.dashboard)."""
    try:
        enqueue_notification_logs()
    except Exception:  # the status refresh matters more than the notification panels
        logger.exception("decision log collection not sent")
    return dashboard.refresh()


# No retries either: the next interval's message reads from the same offset. Overlapping runs
# are safe (each chunk is committed only if the offset is still the one it started from).
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=50, time_limit=60)
def collect_notification_log(node_id: int) -> dict[str, Any] | None:
    """Read what is new in this node's decision log into Redis; run by the node's own worker."""
    node = NaemonNode.objects.filter(pk=node_id, enabled=True).first()
    client = _redis()
    if node is None or client is None:
        return None
    try:
        result = notifications_log.collect(client, node.pk, decision_log_path(node), now=time.time())
    finally:
        client.close()
    result["node"] = node.name
    logger.info("decision log collected", extra={"collected": result})
    return result
