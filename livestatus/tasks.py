"""Celery tasks of the status area: the periodic status snapshot behind the wall and home page."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from livestatus import dashboard


# No retries: the next beat tick is the retry, and a late refresh is worth nothing (the beat
# entry sets `expires` to the interval). Overlapping runs are kept apart by a Redis lock.
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=45, time_limit=60)
def refresh_status_snapshot() -> dict[str, Any]:
    """Ask every Naemon node once and store the merged status snapshot (see livestatus.dashboard)."""
    return dashboard.refresh()
