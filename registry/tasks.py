"""Celery tasks of the registry: deploy a node's config, retire hosts whose lease ran out."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import shared_task
from django.db import DatabaseError, transaction
from django.utils import timezone

from registry.deploy import TransientDeployError, deploy, request_deployments
from registry.models import Host, nodes_for_hosts

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(TransientDeployError, redis.exceptions.ConnectionError, DatabaseError),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def deploy_node(self: Any, node_id: int) -> int | None:
    """Bring one node to the registry's latest state; runs on the node's own queue (``naemon.<node>``).

    Idempotent: it claims whatever is pending for the node, so a duplicate or late message
    finds nothing to do. Returns the id of the deployment it ran, if any.
    """
    final = bool(self.request.is_eager) or self.request.retries >= self.max_retries
    return deploy(node_id, final_attempt=final)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def retire_expired_hosts() -> list[str]:
    """Delete the hosts whose lease has expired and deploy the nodes that monitored them."""
    with transaction.atomic():
        hosts = list(
            Host.objects.expired(timezone.now())
            .select_for_update(skip_locked=True)
            .prefetch_related("hostgroups__node")
            .order_by("name")
        )
        if not hosts:
            return []
        names = [host.name for host in hosts]
        nodes = nodes_for_hosts(hosts)
        Host.objects.filter(pk__in=[host.pk for host in hosts]).delete()
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        request_deployments(nodes, triggered_by="lease-expiry", reason=f"lease expired: {shown}")
    logger.info("retired %d hosts whose lease expired: %s", len(names), shown)
    return names
