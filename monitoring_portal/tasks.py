"""Project-wide Celery tasks."""

from __future__ import annotations

import socket

from celery import shared_task

from monitoring_portal import audit
from monitoring_portal.ldap_auth import sync_directory_users
from monitoring_portal.singleton import singleton_task


@shared_task(soft_time_limit=10, time_limit=20)
def ping(payload: str) -> dict[str, str]:
    """Echo ``payload`` with the worker's host name: proves a task made the round trip."""
    return {"payload": payload, "worker": socket.gethostname()}


@shared_task(soft_time_limit=600, time_limit=900)
@singleton_task(ttl=900)
def prune_audit() -> int:
    """Delete the audit rows older than AUDIT_RETENTION_DAYS (idempotent)."""
    return audit.prune()


@shared_task(soft_time_limit=600, time_limit=660)
@singleton_task(ttl=660)
def sync_ldap_users() -> int:
    """Mirror the directory's users (names, roles, team memberships) without waiting for a login."""
    return sync_directory_users()
