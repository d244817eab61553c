"""Celery tasks of the registry: deploy a node's config, retire hosts whose lease ran out, watch the cluster, find drift.

``request_deployments`` is how request code asks for deployments (inside its transaction):
the deploy task is enqueued on commit. It lives here, beside the task it enqueues, so that
registry/deploy.py (the task's body) needs nothing of Celery and no import goes both ways.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import redis
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from monitoring_portal import counters, redis_client
from monitoring_portal.singleton import singleton_task
from registry import drift, failover
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState
from registry.deploy import LOCK_TTL, TransientDeployError, deploy
from registry.models import Deployment, Host, NaemonNode, nodes_for_hosts

logger = logging.getLogger(__name__)


# No result stored: the Deployment row is the outcome. A Redis result backend would also make
# every enqueue subscribe to the result channel, which blocks a request ~20 s when Redis is away.
@shared_task(
    bind=True,
    ignore_result=True,
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
    nodes: Iterable[NaemonNode], *, triggered_by: str, reason: str = "", force: bool = False
) -> list[Deployment]:
    """Pending deployments for these nodes (reused when one is already pending); enqueued on commit.

    Coalescing: a node with a deployment still ``pending`` gets that one back instead of a new
    one, and the task renders the *latest* state when it runs, so a burst of writes costs a few
    deploys. ``force``: write and reload even if the content is unchanged (a redeploy, drift).
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
        if deployment is None or force:
            # A forced request gets a row of its own, so that it records who asked; the run
            # that claims the oldest pending one covers it (and is forced by it).
            deployment = Deployment.objects.create(
                node=node, triggered_by=triggered_by[:255], reason=reason[:255], force=force
            )
        deployments.append(deployment)
        transaction.on_commit(partial(_enqueue, node.pk, node.queue))
    return deployments


def _enqueue(node_id: int, queue: str, **options: Any) -> bool:
    """Send the node's deploy message; False if the broker refused it (the deployment stays pending).

    Runs after the write committed: the write is stored, so its answer must say so (202, the
    deployment pending), not turn into a 500 because the broker is away. The pending deployment
    is not lost: ``resend_lost_deploys`` (the cluster watch) sends it again once it is overdue.
    """
    try:
        deploy_node.apply_async(args=(node_id,), queue=queue, **options)
    except (OperationalError, redis.exceptions.RedisError) as exc:
        logger.warning(
            "could not enqueue the deploy of node %s (left pending for the cluster watch): %s", node_id, exc
        )
        return False
    return True


def _enqueue_node(node: NaemonNode) -> None:
    _enqueue(node.pk, node.queue)


@worker_ready.connect
def resume_nodes(sender: Any, **kwargs: Any) -> list[str]:
    """A worker that starts runs a deploy for each of its nodes with a deployment pending or cut short.

    A worker killed mid-run (SIGKILL, a lost machine) leaves its deployment in a running state and
    its message unacknowledged until the broker's visibility timeout (an hour with Redis): without
    this, the node would wait that long, or for the next write. Returns the nodes resumed.
    """
    queues = set(sender.app.amqp.queues.consume_from)
    try:
        nodes = [
            node
            for node in NaemonNode.objects.filter(enabled=True).order_by("name")
            if node.queue in queues
            and Deployment.objects.filter(node=node).exclude(state__in=FINAL_DEPLOYMENT_STATES).exists()
        ]
        for node in nodes:
            # After the lock of a run killed with the worker has expired (it is renewed only while
            # its run lives): a deploy before that would find it taken and leave the work to nobody.
            deploy_node.apply_async(args=(node.pk,), queue=node.queue, countdown=LOCK_TTL + 1)
    except (DatabaseError, redis.exceptions.RedisError) as exc:
        # The worker must start anyway; the cluster watch retries what failed once the database is back.
        logger.warning("could not look for interrupted deployments at worker start: %s", exc)
        return []
    if nodes:
        logger.info("worker start: resuming the deployments of %s", ", ".join(n.name for n in nodes))
    return [node.name for node in nodes]


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
@singleton_task(ttl=180)
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
    counters.add(counters.LEASE_RETIREMENTS, amount=len(names))
    logger.info("retired %d hosts whose lease expired: %s", len(names), shown)
    return names


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
@singleton_task(ttl=90)
def watch_nodes(now: float | None = None) -> list[str]:
    """Probe every node and move the share of one that went down or came back (registry/failover.py).

    ``now`` (epoch seconds) is for tests that step time. Returns the moves made, as text. No
    retry: the next beat run (``CLUSTER_WATCH_SECONDS``) is the retry, with fresh probes.
    """
    moment = datetime.fromtimestamp(now, tz=UTC) if now is not None else None
    moves = [str(move) for move in failover.watch(moment, request=request_deployments)]
    resend_lost_deploys(moment or timezone.now())
    return moves


#: A node's "message resent" mark in Redis: at most one resend per node per DEPLOY_RESEND_AFTER.
RESENT_KEY = "portal:registry:deploy-resent:{}"


def resend_lost_deploys(now: datetime) -> list[str]:
    """Send the deploy message again for each node whose pending deployment waits too long.

    A deploy message can be lost: the broker was away when the write committed (``_enqueue``
    refused), or Redis restarted without persistence and took its queued messages along. The
    deployment is still ``pending`` in the database, and nothing else would run it until the next
    write or worker restart. Sent once per node per ``DEPLOY_RESEND_AFTER`` (a Redis mark), and
    expiring after that long, so that a node whose worker is away does not pile up messages; a
    duplicate finds the work claimed or the lock taken and does nothing. Without Redis there is no
    queue that forgets (eager tasks) or the broker keeps its messages (RabbitMQ): nothing to do.
    Returns the names of the nodes resent.
    """
    client = redis_client.client()
    if client is None:
        return []
    after = settings.DEPLOY_RESEND_AFTER
    overdue = (
        NaemonNode.objects.filter(
            enabled=True,
            deployments__state=DeploymentState.PENDING,
            deployments__started_at__isnull=True,
            deployments__created_at__lt=now - timedelta(seconds=after),
        )
        .distinct()
        .order_by("name")
    )
    resent = []
    for node in overdue:
        try:
            if not client.set(RESENT_KEY.format(node.pk), 1, nx=True, ex=after):
                continue
        except redis.exceptions.RedisError as exc:
            logger.warning("cannot resend lost deploys while Redis is away: %s", exc)
            break
        if _enqueue(node.pk, node.queue, expires=after):
            resent.append(node.name)
    if resent:
        logger.warning("deploy messages resent (pending for over %s s): %s", after, ", ".join(resent))
    return resent


@shared_task(soft_time_limit=30, time_limit=60)
@singleton_task(ttl=60)
def check_drift() -> list[str]:
    """Periodic: ask every enabled node's own worker to look for drift (it reads the node's files)."""
    nodes = list(NaemonNode.objects.filter(enabled=True).order_by("name"))
    for node in nodes:
        # Expires with the next round: a node whose worker is away gets one check when it returns.
        check_node_drift.apply_async(args=(node.pk,), queue=node.queue, expires=settings.DRIFT_CHECK_SECONDS)
    return [node.name for node in nodes]


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def check_node_drift(node_id: int) -> list[dict[str, str]] | None:
    """Look for drift on one node, record it and heal it by its policy (registry/drift.py).

    No retry: the next round is the retry. Returns the drift found (None: not checked now).
    """
    found = drift.check(node_id, request=request_deployments)
    return None if found is None else [d.as_dict() for d in found]
