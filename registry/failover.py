"""The cluster watch: which nodes answer, and moving a share when one stops or comes back.

``watch()`` (the periodic task ``registry.tasks.watch_nodes``, every few seconds) asks every
enabled node whether it answers: Livestatus ``GET status`` through the project's client, else
the age of its status file (a core that stopped rewriting it does not answer). It keeps one
``NodeHealth`` row per node, with hysteresis so that a node does not flap:

* a healthy node that has failed every probe for ``CLUSTER_DOWN_AFTER`` seconds goes down;
* a node that is down comes back once it has answered every probe for ``CLUSTER_BACK_AFTER``
  seconds: a node that answers intermittently stays down until it is stable, and a healthy node
  that misses a probe now and then stays up.

Each change of health is a ``ClusterMove`` (who checks the node's share now, per
``registry.cluster``, and why) and a redeploy of every enabled node whose roles change
(registry/state.py renders the roles from the health the watch records). The node that went
down is redeployed too: its worker's queue holds the message until it is back, so that a core
that returns can be made passive before the watch trusts it again; the other nodes' deploys
never wait for it (each node has its own queue).

The failover window. A move changes the cluster by redeploy, so for a while the nodes do not
run the configs the topology says: after a "down", nobody checks the dead node's share until
the new checker's deploy lands (results may be late, notifications never doubled); after a
"back", a master killed and restarted runs its *old* config until the redeploys land, in which
it still checked everything its stand-in checks now: both check and may notify the same
problem. ``ClusterMove.window_start`` says when that began (the first unanswered probe, or the
core's restart) and ``window_end(move)`` when it ended (its last deployment finished), so that
notifications inside it can be told from real duplicates (bench/, docs/cluster.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring_portal import redis_client
from registry import runner
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState
from registry.cluster import Role, Topology, topology
from registry.models import ClusterMove, Deployment, NaemonNode, NodeHealth

logger = logging.getLogger(__name__)

#: How long one probe may take: well below the watch's period, so that runs do not pile up.
PROBE_TIMEOUT = 5.0
#: A status file not rewritten for this many status_update_intervals: the core does not answer.
STATUS_FILE_INTERVALS = 3
#: Naemon's and Nagios' default status_update_interval, when the main config does not say.
DEFAULT_STATUS_INTERVAL = 10
TRIGGERED_BY = "cluster watch"
_LOCK = "registry:cluster-watch"
_STATUS_INTERVAL = re.compile(r"^\s*status_update_interval\s*=\s*(\d+)\s*$", re.M)

RequestDeployments = Callable[..., list[Deployment]]


@dataclass(frozen=True)
class Probe:
    """One look at a node: does it answer, since when does its core run, what went wrong."""

    answers: bool
    program_start: int | None = None
    error: str = ""


# -- probing ---------------------------------------------------------------------------


def probe(node: NaemonNode, now: datetime) -> Probe | None:
    """Ask ``node`` whether it answers (None: it has neither Livestatus nor a status file)."""
    if node.livestatus:
        try:
            status = runner.livestatus_core_status(node.livestatus, timeout=PROBE_TIMEOUT, objects=False)
        except runner.RunnerError as exc:
            return Probe(False, error=str(exc))
        return Probe(True, program_start=status.program_start)
    if node.status_file:
        return _probe_status_file(node, now)
    return None


def _probe_status_file(node: NaemonNode, now: datetime) -> Probe:
    # The core rewrites status.dat every status_update_interval: an old file is a core that stopped.
    try:
        age = now.timestamp() - os.stat(node.status_file).st_mtime
    except OSError as exc:
        return Probe(False, error=f"status file {node.status_file}: {exc.strerror}")
    interval = status_update_interval(node.main_config)
    if age > STATUS_FILE_INTERVALS * interval:
        return Probe(
            False,
            error=f"status file {node.status_file} not rewritten for {int(age)} s "
            f"(status_update_interval {interval} s)",
        )
    try:
        status = runner.read_status_file(node.status_file, objects=False)
    except runner.RunnerError as exc:
        return Probe(False, error=str(exc))
    return Probe(True, program_start=status.program_start)


def status_update_interval(main_config: str) -> int:
    """The core's ``status_update_interval`` from its main config (the default if it does not say)."""
    try:
        with open(main_config, encoding="utf-8", errors="replace") as handle:
            found = _STATUS_INTERVAL.findall(handle.read())
    except OSError:
        return DEFAULT_STATUS_INTERVAL
    # The last one wins, as in the core; 0 or less would make every file look stale.
    return max(int(found[-1]), 1) if found else DEFAULT_STATUS_INTERVAL


def _probe_all(nodes: Sequence[NaemonNode], now: datetime) -> dict[int, Probe]:
    # In parallel: a hung node costs one timeout per run, not one per node.
    with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
        results = list(pool.map(lambda node: probe(node, now), nodes))
    return {node.pk: result for node, result in zip(nodes, results, strict=True) if result is not None}


# -- the watch -------------------------------------------------------------------------


def watch(now: datetime | None = None, *, request: RequestDeployments) -> list[ClusterMove]:
    """Probe every enabled node, update its health, and move shares; returns the moves made.

    ``request`` is ``registry.tasks.request_deployments`` (passed in: the task module imports
    this one). Safe to run concurrently: a Redis lock skips a run while another is under way,
    and the health rows are updated under SELECT FOR UPDATE.
    """
    now = now or timezone.now()
    nodes = list(NaemonNode.objects.filter(enabled=True).order_by("name"))
    nodes = [node for node in nodes if node.livestatus or node.status_file]
    if not nodes:
        return []
    lock = _acquire_lock()
    if lock is False:
        logger.info("cluster watch: another run is under way; skipped")
        return []
    try:
        probes = _probe_all(nodes, now)
        with transaction.atomic():
            return _apply(nodes, probes, now, request)
    finally:
        if lock is not None:
            # Expired or Redis gone: the lock's own timeout frees it.
            with contextlib.suppress(redis.RedisError):
                lock.release()


def _acquire_lock() -> Any:
    """The watch's Redis lock; None without Redis (the row locks still serialise), False if held."""
    client = redis_client.client()
    if client is None:
        return None
    lock = client.lock(_LOCK, timeout=60)
    try:
        return lock if lock.acquire(blocking=False) else False
    except redis.RedisError as exc:
        logger.warning("cluster watch: Redis lock unavailable (%s); relying on row locks", exc)
        return None


def _apply(
    nodes: Sequence[NaemonNode], probes: dict[int, Probe], now: datetime, request: RequestDeployments
) -> list[ClusterMove]:
    watched = [node for node in nodes if node.pk in probes]
    NodeHealth.objects.bulk_create(
        [NodeHealth(node=node, since=now) for node in watched], ignore_conflicts=True
    )
    rows = {
        row.node_id: row
        for row in NodeHealth.objects.select_for_update().filter(node__in=watched).order_by("node_id")
    }
    base = topology()
    health = {name: node.healthy for name, node in base.nodes.items()}
    changed: list[tuple[NaemonNode, NodeHealth, datetime]] = []
    down_after = timedelta(seconds=settings.CLUSTER_DOWN_AFTER)
    back_after = timedelta(seconds=settings.CLUSTER_BACK_AFTER)
    for node in watched:
        row = rows[node.pk]
        was_since = row.since
        if observe(row, probes[node.pk], now, down_after=down_after, back_after=back_after):
            changed.append((node, row, was_since))
        row.save()
    moves = []
    for node, row, was_since in changed:
        before = with_health(base, health)
        health[node.name] = row.healthy
        after = with_health(base, health)
        moves.append(_move(node, row, was_since, before, after, now, request))
    moved = {node.pk for node, _, _ in changed}
    retry_failed([n for n in watched if n.pk not in moved and probes[n.pk].answers], now, request)
    return moves


#: A failed deployment of a node that answers is tried again after this long.
RETRY_AFTER = timedelta(seconds=60)
#: Failures that the same config would meet again: not retried (a person must change something).
FOR_GOOD = ("verification failed", "rendering failed")


def retry_failed(nodes: Sequence[NaemonNode], now: datetime, request: RequestDeployments) -> list[NaemonNode]:
    """Request a deployment again for each node whose latest one failed for a passing reason.

    A move's redeploy can fail where a retry succeeds (a core restarting slowly answers its
    reload late, a core not running yet): left alone, the node would run a config the topology
    no longer says (after a failed "back" and its rollback, nobody would check the masters'
    share). Verification and rendering failures are not retried: the same registry state would
    fail the same way. At most one retry per node per ``RETRY_AFTER``.
    """
    retried = []
    for node in nodes:
        latest = Deployment.objects.filter(node=node).order_by("-created_at", "-pk").first()
        if latest is None or latest.state != DeploymentState.FAILED or latest.finished_at is None:
            continue
        if now - latest.finished_at < RETRY_AFTER or latest.error.startswith(FOR_GOOD):
            continue
        first_line = latest.error.splitlines()[0][:200] if latest.error else "failed"
        request([node], triggered_by=TRIGGERED_BY, reason=f"retry of deployment {latest.pk}: {first_line}")
        retried.append(node)
    if retried:
        logger.info(
            "cluster watch: retrying the failed deployments of %s", ", ".join(n.name for n in retried)
        )
    return retried


def observe(
    row: NodeHealth, result: Probe, now: datetime, *, down_after: timedelta, back_after: timedelta
) -> bool:
    """Record one probe in ``row`` (not saved); True when the node's health flips."""
    if (row.last_seen and row.last_seen > now) or (row.failing_since and row.failing_since > now):
        return False  # an overlapping run recorded a later probe already
    if result.answers:
        row.last_seen = now
        row.failing_since = None
        row.answering_since = row.answering_since or now
        row.error = ""
        if result.program_start is not None:
            row.program_start = result.program_start
        if not row.healthy and now - row.answering_since >= back_after:
            row.healthy, row.since = True, now
            return True
    else:
        row.failing_since = row.failing_since or now
        row.answering_since = None
        row.error = result.error[:500]
        if row.healthy and now - row.failing_since >= down_after:
            row.healthy, row.since = False, now
            return True
    return False


def with_health(base: Topology, health: dict[str, bool]) -> Topology:
    """``base`` with each node's health as ``health`` says."""
    return Topology(
        {name: replace(node, healthy=health.get(name, node.healthy)) for name, node in base.nodes.items()}
    )


def roles(topo: Topology, name: str) -> tuple[tuple[Role, ...], tuple[str, ...]]:
    """Everything that decides ``name``'s rendered config in the cluster: its role in each share
    (the masters' objects, each poller's) and where it relays results.
    """
    shares: list[tuple[str, ...]] = [()]
    for node in sorted(topo.nodes.values(), key=lambda n: n.name):
        if not node.master and node.groups:
            shares.append((min(node.groups),))  # one group stands for the poller's share
    return tuple(topo.role(name, groups) for groups in shares), tuple(topo.relay_targets(name))


def changed_nodes(before: Topology, after: Topology, nodes: Iterable[NaemonNode]) -> list[NaemonNode]:
    """The enabled nodes whose rendered roles differ between two topologies."""
    return [n for n in nodes if n.enabled and roles(before, n.name) != roles(after, n.name)]


def _taker(topo: Topology, name: str) -> str:
    """Who checks ``name``'s share in ``topo`` ('' if nobody does, e.g. a poller without takeover)."""
    node = topo.nodes[name]
    if node.master:
        return topo.active_master() or ""
    return (topo.checker(node.groups) or "") if node.groups else ""


def _move(
    node: NaemonNode,
    row: NodeHealth,
    was_since: datetime,
    before: Topology,
    after: Topology,
    now: datetime,
    request: RequestDeployments,
) -> ClusterMove:
    name = node.name
    taker = _taker(after, name)
    if not row.healthy:
        kind = "down"
        if taker == name:
            taker = ""
        start = row.failing_since
        reason = f"{name} has not answered since {_clock(row.failing_since)}: {row.error}"
        if node.role != "poller" and before.active_master() != name:
            reason += f"; it was a standby, {taker or 'nobody'} checks as before"
        elif taker:
            reason += f"; {taker} checks its share now"
        elif node.role == "poller":
            reason += (
                f"; takeover is off: its objects turn UNKNOWN on the masters after {node.stale_after} s"
                if node.hostgroups.exists()
                else "; it checks nothing"
            )
        else:
            reason += "; no other master answers: nobody checks its share"
    else:
        kind = "back"
        # Its core ran the config it had when it went down from the later of its restart and
        # its going down (a core the portal merely could not reach kept running).
        start = max(_from_epoch(row.program_start) or was_since, was_since)
        reason = f"{name} answers again since {_clock(row.answering_since)}"
        if row.program_start:
            reason += f" (core started {_clock(_from_epoch(row.program_start))})"
        reason += f"; {taker or 'nobody'} checks its share"
    move = ClusterMove.objects.create(
        at=now, node=node, kind=kind, taken_by=taker, reason=reason[:500], window_start=start
    )
    redeploy = changed_nodes(before, after, NaemonNode.objects.filter(enabled=True))
    if redeploy:
        deployments = request(
            redeploy,
            triggered_by=TRIGGERED_BY,
            reason=f"cluster: {name} {kind}, {taker or 'nobody'} checks its share",
        )
        move.deployments.set(deployments)
    logger.warning("cluster move: %s", reason)
    return move


def _clock(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "?"


def _from_epoch(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds else None


# -- reading -----------------------------------------------------------------------------


def window_end(move: ClusterMove) -> datetime | None:
    """When the move's failover window ended: its last deployment finished (None: still open).

    A move that redeployed nothing ends when it was made.
    """
    deployments = list(move.deployments.all())
    if not deployments:
        return move.at
    if any(d.state not in FINAL_DEPLOYMENT_STATES for d in deployments):
        return None
    return max((d.finished_at or d.created_at) for d in deployments)


def node_states(names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per watched node: healthy, since when (epoch seconds), and who took its share if it is down.

    For the wall's node strip: names only, no addresses or error texts (kiosk screens).
    """
    rows = NodeHealth.objects.select_related("node")
    if names is not None:
        rows = rows.filter(node__name__in=list(names))
    states: dict[str, dict[str, Any]] = {}
    down = []
    for row in rows:
        states[row.node.name] = {"healthy": row.healthy, "since": row.since.timestamp(), "taken_by": ""}
        if not row.healthy:
            down.append(row.node_id)
    if down:
        # The newest "down" move of each node that is down is the one that took its share
        # (few nodes are down at once: their moves are few).
        seen: set[int] = set()
        for move in ClusterMove.objects.filter(node_id__in=down, kind="down").select_related("node"):
            if move.node_id not in seen:  # ordered newest first
                seen.add(move.node_id)
                states[move.node.name]["taken_by"] = move.taken_by
    return states
