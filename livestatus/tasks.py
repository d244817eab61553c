"""Celery tasks of the status area: the periodic overview refresh, which also sends the nodes'
decision log collection, and the retry of action copies a node did not take.

``refresh_status_snapshot`` runs on the beat's worker every ``WALL_REFRESH_SECONDS`` and
stores the overview (``livestatus.overview_store``). Once per ``WALL_TOPS_SECONDS`` it also
sends ``collect_notification_log(node)`` (``preferences.tasks``) to every enabled node's own
queue (``naemon.<node>``): that node's worker reads what is new in its notify-filter decision
log into Redis (``preferences.decisions``), where the wall's "most notified" panel and the
home page read it. Without Redis nothing is sent: the pages read the logs directly, which
works where the portal and the filter share a machine.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import shared_task

from livestatus import actions, overview_store, tops
from monitoring_portal import redis_client
from monitoring_portal.singleton import singleton_task
from preferences import decisions
from preferences.tasks import collect_notification_log
from registry.models import NaemonNode

logger = logging.getLogger(__name__)

#: Set while the collection messages of one tops interval are out (coalesces overlapping refreshes).
KEY_COLLECT_SENT = f"{decisions.KEY_PREFIX}:collect-sent"


def enqueue_notification_logs(*, force: bool = False) -> list[str]:
    """Send ``collect_notification_log`` to every enabled node, once per tops interval; their names."""
    client = redis_client.client()
    if client is None:
        return []
    try:
        interval = max(1, int(tops.tops_seconds()))
        if not force and not client.set(KEY_COLLECT_SENT, "1", nx=True, ex=interval):
            return []
    except redis.exceptions.RedisError as exc:
        logger.warning("decision log collection not sent: %s", exc)
        return []
    sent = []
    for node in NaemonNode.objects.filter(enabled=True).order_by("name"):
        # A message older than one interval is worth nothing: the next one reads the same lines.
        collect_notification_log.apply_async(args=(node.pk,), queue=node.queue, expires=interval)
        sent.append(node.name)
    return sent


# No retries: the next beat tick is the retry, and a late refresh is worth nothing (the beat
# entry sets `expires` to the interval). Overlapping runs are kept apart by a Redis lock.
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=45, time_limit=60)
@singleton_task(ttl=60)
def refresh_status_snapshot() -> dict[str, Any]:
    """Ask every Naemon node once and store the merged overview (see livestatus.overview)."""
    try:
        enqueue_notification_logs()
    except Exception:  # the status refresh matters more than the notification panels
        logger.exception("decision log collection not sent")
    return overview_store.refresh()


# The next beat tick is the retry; the beat entry's `expires` drops a tick that waited too long.
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=240, time_limit=300)
@singleton_task(ttl=300)
def retry_pending_actions(max_age: float = actions.PENDING_MAX_AGE_SECONDS) -> dict[str, int]:
    """Send again the action copies that nodes did not take (``livestatus.actions.retry_pending``)."""
    return actions.retry_pending(max_age=max_age)
