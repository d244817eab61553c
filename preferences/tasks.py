"""Publishing the preferences snapshot to every Naemon node: on change and periodically.

A rule, profile or contact change calls ``publish_on_commit()`` (``preferences.signals``):
once per transaction, after commit, one ``publish_snapshot(node)`` message goes to each enabled
node's own queue (``naemon.<node>``), whose worker builds the snapshot from the database
and writes it atomically where the node's rendered commands tell the filter to read it
(``NaemonNode.notify_paths()``, the one owner of those paths; ``preferences.snapshot``). No
Naemon reload: the notify-filter reads the snapshot on every notification.

Bursts coalesce through a Redis key per node: while a message for a node is queued and not
yet started, further changes add none (the task clears the key *before* it reads the
database, so a change made after that sends a new message). Without Redis (development,
eager Celery) every change publishes; a publish is idempotent either way.

``refresh_snapshots`` (periodic, SNAPSHOT_REFRESH_SECONDS, see CELERY_BEAT_SCHEDULE) is the
heartbeat: it rewrites every node's snapshot even when nothing changed, through the same
per-node queues, so the snapshot's age says when the portal last reached the node. The
filter treats a snapshot older than its --max-age (an hour) as stale and sends everything
(fail open): a node whose worker or portal is gone does not apply rules that may be out of
date, and a quiet week without changes does not make a snapshot stale. A node that missed a
message catches up on the next beat.

Each snapshot carries the node's part in the cluster (``cluster_part``: who notifies which
share, from ``registry.cluster.topology()``), in the same generation as the rules: the
notify-filter on every node that holds an object lets its notifications out only on its
notifier. So a change of the topology publishes too (``preferences.signals``): a node saved or
deleted, a host group placed on another poller, and every failover move.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import redis
from celery import shared_task
from django.db import DatabaseError, connection, transaction

from monitoring_portal import counters, redis_client
from monitoring_portal.singleton import singleton_task
from preferences import coverage, decisions, history, snapshot
from preferences.compiled import snapshot_contacts
from registry.cluster import Topology, topology
from registry.models import NaemonNode

logger = logging.getLogger(__name__)

#: How long a "message queued" mark lives: bounds how long a lost message delays the next one.
PENDING_TTL = 120
#: A queued publish older than this is dropped (a later one or the periodic refresh follows).
MESSAGE_EXPIRES = 3600


def snapshot_dir(node: NaemonNode) -> str:
    """Where the node's notify-filter reads its snapshot (``--snapshot-dir`` of its rendered commands)."""
    return node.notify_paths().snapshot_dir


def cluster_part(topo: Topology, node: str) -> snapshot.ClusterPart:
    """What ``node``'s notify-filter needs of the topology: who notifies each share (snapshot.py)."""
    groups = dict(topo.group_owner)
    notifiers = {"": topo.notifier(())}
    for name, member in topo.nodes.items():
        if not member.master and member.groups:
            notifiers[name] = topo.notifier(member.groups)
    enabled = [name for name, member in topo.nodes.items() if member.enabled]
    return snapshot.cluster_part(node, enabled, groups, notifiers)


def _pending_key(node_id: int) -> str:
    return f"portal:preferences:publish-pending:{node_id}"


def publish_on_commit() -> None:
    """Publish every node's snapshot once the current transaction commits (once per transaction)."""
    # Already registered in this transaction? Rolled-back savepoints drop their callbacks, so
    # looking at the pending list is exact where a flag could go stale.
    if any(entry[1] is enqueue_publish for entry in connection.run_on_commit):
        return
    transaction.on_commit(enqueue_publish, robust=True)


def enqueue_publish(*, coalesce: bool = True) -> list[str]:
    """Send ``publish_snapshot`` to each enabled node; returns their names."""
    nodes = list(NaemonNode.objects.filter(enabled=True).order_by("name"))
    client = redis_client.client() if coalesce and nodes else None
    sent = []
    for node in nodes:
        if client is not None:
            try:
                if not client.set(_pending_key(node.pk), "1", nx=True, ex=PENDING_TTL):
                    continue  # a queued message will read the latest state
            except redis.exceptions.RedisError as exc:
                logger.warning("cannot coalesce snapshot publishing (%s); publishing anyway", exc)
        publish_snapshot.apply_async(args=(node.pk,), queue=node.queue, expires=MESSAGE_EXPIRES)
        sent.append(node.name)
    return sent


@shared_task(
    acks_late=True,
    autoretry_for=(OSError, DatabaseError, redis.exceptions.ConnectionError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=120,
    time_limit=180,
)
def publish_snapshot(node_id: int) -> dict[str, Any] | None:
    """Write the latest preferences to one node's snapshot; run by the node's worker.

    Idempotent: it always writes the current database state (a new generation; the
    previous one is kept for readers that already opened it).
    """
    client = redis_client.client()
    if client is not None:
        try:
            client.delete(_pending_key(node_id))  # before reading: later changes send a new message
        except redis.exceptions.RedisError as exc:
            logger.warning("cannot clear the snapshot publishing mark of node %s: %s", node_id, exc)
    node = NaemonNode.objects.filter(pk=node_id, enabled=True).first()
    if node is None:
        return None
    started = time.monotonic()
    contacts = snapshot_contacts()
    directory = snapshot_dir(node)
    # The cluster part in the same generation: a failover moves notifications by this publish.
    cluster = cluster_part(topology(), node.name)
    generation = snapshot.write_snapshot(directory, contacts, cluster=cluster)
    result = {
        "node": node.name,
        "directory": directory,
        "generation": os.path.basename(generation),
        "contacts": len(contacts),
        "notifiers": cluster["notifiers"],
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    counters.stamp(counters.SNAPSHOT_PUBLISHED, (node.name,))  # its age is on /metrics
    logger.info("published notification preferences snapshot", extra=result)
    return result


@shared_task(soft_time_limit=240, time_limit=300)
@singleton_task(ttl=300)
def refresh_coverage() -> dict[str, Any]:
    """Periodic: count the coverage gaps of the whole site for the wall and the Prometheus gauge."""
    return coverage.refresh_counts()


@shared_task(soft_time_limit=60, time_limit=90)
@singleton_task(ttl=90)
def refresh_snapshots() -> list[str]:
    """Periodic heartbeat: rewrite every node's snapshot, so that only a node out of touch looks stale."""
    return enqueue_publish()


# Registered under its name from before it moved here (livestatus.tasks): queued messages keep
# working. No retries: the next interval's message reads from the same offset. Overlapping
# runs are safe (each chunk is committed only if the offset is still the one it started from).
@shared_task(
    name="livestatus.tasks.collect_notification_log",
    ignore_result=True,
    acks_late=False,
    soft_time_limit=50,
    time_limit=60,
)
def collect_notification_log(node_id: int) -> dict[str, Any] | None:
    """Read what is new in this node's decision log into Redis and the database; run by the node's own worker.

    A database error leaves the offset where it was (the next run reads the same lines again).
    """
    node = NaemonNode.objects.filter(pk=node_id, enabled=True).first()
    client = redis_client.client()
    if node is None or client is None:
        return None
    # Also into the database (the history page): stored before the offset moves, once per line.
    result = decisions.collect(
        client, node.pk, node.notify_paths().decision_log, now=time.time(), sink=history.sink_for(node)
    )
    result["node"] = node.name
    logger.info("decision log collected", extra={"collected": result})
    return result


@shared_task(soft_time_limit=600, time_limit=900)
@singleton_task(ttl=900)
def purge_notification_history() -> int:
    """Daily: forget decisions older than ``NOTIFICATION_HISTORY_DAYS``."""
    deleted = history.purge()
    logger.info("notification history purged", extra={"deleted": deleted})
    return deleted
