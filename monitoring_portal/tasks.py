"""Project-wide Celery tasks."""

from __future__ import annotations

import socket

from celery import shared_task


@shared_task(soft_time_limit=10, time_limit=20)
def ping(payload: str) -> dict[str, str]:
    """Echo ``payload`` with the worker's host name: proves a task made the round trip."""
    return {"payload": payload, "worker": socket.gethostname()}
