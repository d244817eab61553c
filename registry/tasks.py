"""Celery tasks of the registry: deploy a node's config, retire hosts whose lease ran out, watch the cluster.

``request_deployments`` is how request code asks for deployments (inside its transaction):
the deploy task is enqueued on commit. It lives here, beside the task it enqueues, so that
registry/deploy.py (the task's body) needs nothing of Celery and no import goes both ways.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import redis
from celery import shared_task
from django.db import DatabaseError, transaction
from django.utils import timezone

from registry import failover
from registry.choices import DeploymentState
from registry.deploy import TransientDeployError, deploy
from registry.models import Deployment, Host, NaemonNode, nodes_for_hosts

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
    return deploy(node_id, final_attempt=final, follow_up=_enqueue_node)


def request_deployments(
    nodes: Iterable[NaemonNode], *, triggered_by: str, reason: str = ""
) -> list[Deployment]:
    """Pending deployments for these nodes (reused when one is already pending); enqueued on commit.

    Coalescing: a node with a deployment still ``pending`` gets that one back instead of a new
    one, and the task renders the *latest* state when it runs, so a burst of writes costs a few
    deploys.
    """
    deployments = []
    for node in sorted({n for n in nodes if n.enabled}, key=lambda n: n.name):
        # SKIP LOCKED: a pending deployment another write still holds is not waited for (a burst of
        # writes would queue up behind it, and wait in lock cycles with the deploy task); this
        # write makes its own, and the deploy run covers them all.
        deployment = (
            Deployment.objects.select_for_update(skip_locked=True)
            .filter(node=node, state=DeploymentState.PENDING, started_at__isnull=True)
            .order_by("pk")
            .first()
        )
        if deployment is None:
            deployment = Deployment.objects.create(
                node=node, triggered_by=triggered_by[:255], reason=reason[:255]
            )
        deployments.append(deployment)
        transaction.on_commit(partial(_enqueue, node.pk, node.queue))
    return deployments


def _enqueue(node_id: int, queue: str) -> None:
    deploy_node.apply_async(args=(node_id,), queue=queue)


def _enqueue_node(node: NaemonNode) -> None:
    _enqueue(node.pk, node.queue)


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


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def watch_nodes(now: float | None = None) -> list[str]:
    """Probe every node and move the share of one that went down or came back (registry/failover.py).

    ``now`` (epoch seconds) is for tests that step time. Returns the moves made, as text. No
    retry: the next beat run (``CLUSTER_WATCH_SECONDS``) is the retry, with fresh probes.
    """
    moment = datetime.fromtimestamp(now, tz=UTC) if now is not None else None
    return [str(move) for move in failover.watch(moment, request=request_deployments)]
