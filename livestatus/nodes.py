"""Django glue between NaemonNode rows and the plain Livestatus client.

Clients are kept per process and reused, keyed by node name and address: editing a node's
address takes effect without a restart, and the old address's connections are closed. Each
client keeps a small pool of keep-alive connections (``POOL_SIZE``), so one slow query on a
node holds up one connection, not every status page of that node in this process. Clusters
over a set of nodes are kept too (``shared_cluster``): the overview's refresh and the status
pages reuse their threads.

Every master holds every object and a poller holds its host groups' (docs/cluster.md), so one
object is known to several cores. Two rules keep each object counted once:

* ``counting_master``/``split_rows``: each object is taken from ONE node: a reachable poller for
  its host groups, one reachable master (the active master if it answers, else the first by
  priority, then name) for everything no reachable poller owns. The other masters hold
  copies and are not asked for counts or problems: summing them would double every count, and
  a filtered question (problems only) would let a passive copy's stale state through where the
  checker's fresh row was filtered out.
* ``merge_objects``: where rows of several nodes still meet, one row per object, the checker's
  (active checks on), then the freshest ``last_check``, then a poller's, then by node name.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db.models import OuterRef, Subquery

from livestatus.client import (
    Filter,
    LivestatusClient,
    LivestatusCluster,
    LivestatusConnectError,
    LivestatusError,
    LivestatusQuery,
    LivestatusTimeout,
)
from livestatus.client.rows import Row
from monitoring_portal import redis_client
from registry import deployment_report
from registry.choices import NodeRole
from registry.cluster import topology
from registry.models import Deployment, Host, HostGroup, NaemonNode

_lock = threading.Lock()
_clients: dict[tuple[str, str], LivestatusClient] = {}
_clusters_lock = threading.Lock()
_clusters: dict[tuple[tuple[str, str], ...], LivestatusCluster] = {}
#: Node sets whose cluster is kept (node edits and the status pages' node filter make new sets).
CLUSTERS_KEPT = 16

# Status pages must answer even when a node hangs: short timeouts, a brief reconnect window.
CONNECT_TIMEOUT = 2.0
TIMEOUT = 10.0
RETRY_WINDOW = 2.0
# Queries on one node that may run at once in this process (each on its own connection).
POOL_SIZE = 4


# Nodes that did not answer, for processes without Redis (``make run``): key -> (until, error).
# Keyed by node name and address: a node given a new address is asked at once.
_silent_local: dict[str, tuple[float, str]] = {}
_SILENT_KEY = "livestatus:silent:{}"


def _remember_silent(key: str, message: str) -> None:
    """Remember for ``LIVESTATUS_UNREACHABLE_SECONDS`` that the node ``key`` did not answer (every process)."""
    seconds = settings.LIVESTATUS_UNREACHABLE_SECONDS
    if seconds <= 0:
        return
    client = redis_client.client()
    if client is None:
        _silent_local[key] = (time.monotonic() + seconds, message)
        return
    # Without the memory the next page asks the node again: slower, still right.
    with contextlib.suppress(redis.RedisError):
        client.set(_SILENT_KEY.format(key), message, ex=seconds)


def silent_for(key: str) -> tuple[float, str] | None:
    """Seconds until the node ``key`` (``NodeClient.silence_key``) is asked again, and its error;
    None: ask it."""
    if settings.LIVESTATUS_UNREACHABLE_SECONDS <= 0:
        return None
    client = redis_client.client()
    if client is None:
        until, message = _silent_local.get(key, (0.0, ""))
        left = until - time.monotonic()
        return (left, message) if left > 0 else None
    try:
        with client.pipeline() as pipe:
            message, left_ms = pipe.get(_SILENT_KEY.format(key)).pttl(_SILENT_KEY.format(key)).execute()
    except redis.RedisError:
        return None
    if message is None or left_ms <= 0:
        return None
    return left_ms / 1000, message.decode(errors="replace")


def forget_silent() -> None:
    """Forget every remembered silent node of this process (tests; Redis keys expire on their own)."""
    _silent_local.clear()


class NodeSilent(LivestatusConnectError):
    """The node did not answer a moment ago and is not asked again yet."""


class NodeClient(LivestatusClient):
    """A node's client that does not wait again for a node that just did not answer.

    A node that hangs costs a page the connect or read timeout; every refresh of every page
    would pay it again. After a connect error or a timeout the node is remembered as silent
    (in Redis: every worker process and the wall's refresh skip it) and asked again only when
    ``LIVESTATUS_UNREACHABLE_SECONDS`` have passed; meanwhile asking raises at once, with a
    message the pages show. Commands (operator actions) are still sent: an operator asked.
    """

    def __init__(self, node: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node = node
        self.silence_key = f"{node}={self.address}"

    def _ask(self, ask: Any) -> Any:
        silent = silent_for(self.silence_key)
        if silent is not None:
            left, message = silent
            raise NodeSilent(
                f"did not answer ({message}); retrying in {max(1, round(left))} s", address=str(self.address)
            )
        try:
            return ask()
        except (LivestatusConnectError, LivestatusTimeout) as exc:
            if not isinstance(exc, NodeSilent):  # a nested ask refused: the window must not grow
                _remember_silent(self.silence_key, exc.message)
            raise

    def query(self, query: LivestatusQuery) -> list[Row]:
        """``LivestatusClient.query``, refused at once while the node is remembered silent."""
        rows: list[Row] = self._ask(lambda: super(NodeClient, self).query(query))
        return rows

    def status(self) -> Row:
        """``LivestatusClient.status``, refused at once while the node is remembered silent."""
        row: Row = self._ask(lambda: super(NodeClient, self).status())
        return row


def live_nodes() -> list[NaemonNode]:
    """Enabled nodes that have a Livestatus address, by name."""
    return list(NaemonNode.objects.filter(enabled=True).exclude(livestatus="").order_by("name"))


def client_for(node: NaemonNode) -> LivestatusClient:
    """The process-wide client of a node (created on first use; a changed address replaces it)."""
    key = (node.name, node.livestatus)
    replaced: list[LivestatusClient] = []
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = NodeClient(
                node.name,
                node.livestatus,
                connect_timeout=CONNECT_TIMEOUT,
                timeout=TIMEOUT,
                retry_window=RETRY_WINDOW,
                max_connections=POOL_SIZE,
            )
            replaced = [_clients.pop(k) for k in [k for k in _clients if k[0] == node.name]]
            _clients[key] = client
    for old in replaced:
        old.close()  # connections in use close when their query ends
    return client


def cluster_for(nodes: list[NaemonNode] | None = None) -> LivestatusCluster:
    """A cluster over the given (default: all live) nodes, sharing the process-wide clients."""
    chosen = live_nodes() if nodes is None else nodes
    by_address = {node.livestatus: node for node in chosen}
    return LivestatusCluster(
        [(node.name, node.livestatus) for node in chosen],
        client_factory=lambda address: client_for(by_address[str(address)]),
    )


def shared_cluster(nodes: Sequence[NaemonNode]) -> LivestatusCluster:
    """A cluster over these nodes, kept for the next request or refresh (its threads are reused)."""
    key = tuple((node.name, node.livestatus) for node in nodes)
    with _clusters_lock:
        cluster = _clusters.get(key)
        if cluster is None:
            if len(_clusters) >= CLUSTERS_KEPT:  # forget the oldest sets
                # Not closed: another request may be using it; its idle threads end with it.
                _clusters.pop(next(iter(_clusters)))
            cluster = _clusters[key] = cluster_for(list(nodes))
        return cluster


def forget_clusters() -> None:
    """Drop the cached clusters (tests; the clients themselves are dropped by ``forget_clients``)."""
    with _clusters_lock:
        _clusters.clear()


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def checker_rank(row: Mapping[str, Any], roles: Mapping[str, str]) -> tuple[bool, float, bool, str]:
    """How a node's row of an object ranks: the checker's copy (active checks on) first, then the
    freshest ``last_check``, then a poller's, then by node name (lower wins)."""
    active = row.get("active_checks_enabled") in (1, True, "1")
    return (
        not active,
        -_epoch(row.get("last_check")),
        roles.get(row["node"]) != NodeRole.POLLER,
        row["node"],
    )


def merge_objects(rows: Iterable[dict[str, Any]], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per object (``kind``, ``host``, ``service``), the best by ``checker_rank`` (``node``:
    the row's node, ``roles``: node name → role)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: checker_rank(row, roles)):
        found.setdefault((row["kind"], row["host"], row["service"]), row)
    return list(found.values())


def counting_master(masters: Iterable[NaemonNode], active: str | None) -> NaemonNode | None:
    """The one master asked about what no reachable poller owns: ``active`` if among ``masters``
    (those that answer), else the first by priority, then name."""
    ordered = sorted(masters, key=lambda n: (n.name != active, n.priority, n.name))
    return ordered[0] if ordered else None


def poller_groups(pollers: Iterable[NaemonNode]) -> set[str]:
    """The host groups these pollers own."""
    pks = [node.pk for node in pollers]
    return set(HostGroup.objects.filter(node__in=pks).values_list("name", flat=True)) if pks else set()


def active_master() -> str | None:
    """The active master of the cluster now (``registry.cluster``)."""
    return topology().active_master()


def split_rows(
    per_node: Mapping[str, list[dict[str, Any]]],
    nodes: Sequence[NaemonNode],
    *,
    groups_key: str,
    master: str | None,
    owned: set[str],
) -> list[dict[str, Any]]:
    """The rows each object is counted from: every poller's, and ``master``'s for objects in none
    of ``owned`` (the host groups of the pollers that answered); ``groups_key``: the row's host
    groups. Other masters' rows are dropped (copies)."""
    roles = {node.name: node.role for node in nodes}
    kept: list[dict[str, Any]] = []
    for name, rows in per_node.items():
        if roles.get(name) == NodeRole.POLLER:
            kept.extend(rows)
        elif name == master:
            kept.extend(row for row in rows if not set(row.get(groups_key) or ()) & owned)
    return kept


def forget_clients() -> None:
    """Close and drop every cached client (tests, node edits)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def deployed_nodes(host: Host) -> list[NaemonNode]:
    """Live nodes where a confirmed deployment put this registry host under its current name, pollers first.

    These are the nodes where the object of that name *is* the registry's host: elsewhere an
    object of the same name is someone else's (see ``registry.models.DeployedHost``).
    """
    nodes = (
        NaemonNode.objects.filter(enabled=True, deployed_hosts__host=host, deployed_hosts__name=host.name)
        .exclude(livestatus="")
        .distinct()
    )
    return sorted(nodes, key=lambda n: (n.role != NodeRole.POLLER, n.name))  # a poller runs the checks


def nodes_listing(host_name: str) -> tuple[list[NaemonNode], set[str]]:
    """The live nodes whose core lists a host (by name) and the host groups they give it: how a
    host the registry does not know is found."""
    # Asked one node at a time through the shared clients: actions are rare, and a
    # throwaway cluster would leave a thread pool behind per action.
    found: list[NaemonNode] = []
    groups: set[str] = set()
    for node in live_nodes():
        try:
            rows = client_for(node).query(
                LivestatusQuery("hosts").select("name", "groups").where(Filter("name", "=", host_name))
            )
        except LivestatusError:
            continue
        if rows:
            found.append(node)
            groups.update(str(group) for group in rows[0].get("groups") or ())
    return found, groups


def unwatched_nodes() -> list[str]:
    """Enabled nodes without a Livestatus address: the portal cannot show their status."""
    return list(
        NaemonNode.objects.filter(enabled=True, livestatus="").order_by("name").values_list("name", flat=True)
    )


def deployment_summary(deployment: Deployment | None) -> dict[str, Any] | None:
    """What the wall and the nodes page show of a deployment (short texts, no details)."""
    if deployment is None:
        return None
    when = deployment.finished_at or deployment.started_at or deployment.created_at
    return {
        "id": deployment.pk,
        "node": deployment.node.name,
        "state": deployment.state,
        # Confirmed, but no core runs it (the demo node): the wall must not show it green.
        "no_core": deployment_report.rendered_only(deployment),
        "at": when.timestamp() if when else None,
        "reason": deployment.reason[:120],
        "triggered_by": deployment.triggered_by[:60],
        "error": deployment.error.splitlines()[0][:160] if deployment.error else "",
    }


def node_deployments(nodes: Sequence[NaemonNode]) -> dict[str, dict[str, Any] | None]:
    """The latest deployment of each node (two database queries for any number of nodes)."""
    latest = Deployment.objects.filter(node=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    ids = dict(
        NaemonNode.objects.filter(pk__in=[node.pk for node in nodes])
        .annotate(latest=Subquery(latest))
        .values_list("name", "latest")
    )
    found = {
        d.pk: d
        for d in Deployment.objects.filter(pk__in=[i for i in ids.values() if i]).select_related("node")
    }
    return {node.name: deployment_summary(found.get(ids.get(node.name) or 0)) for node in nodes}
