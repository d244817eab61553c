"""Django glue between NaemonNode rows and the plain Livestatus client.

Clients are kept per process and reused, keyed by node name and address: editing a node's
address takes effect without a restart, and the old address's connections are closed. Each
client keeps a small pool of keep-alive connections (``POOL_SIZE``), so one slow query on a
node holds up one connection, not every status page of that node in this process. Clusters
over a set of nodes are kept too (``shared_cluster``): the overview's refresh and the status
pages reuse their threads.

A master renders every host, so an object placed on a poller is known to both cores: rows
are merged per object, the poller's row winning (it runs the check): ``merge_objects``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db.models import OuterRef, Subquery

from livestatus.client import Filter, LivestatusClient, LivestatusCluster, LivestatusError, LivestatusQuery
from registry.choices import NodeRole
from registry.models import Deployment, Host, NaemonNode

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
            client = LivestatusClient(
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


def merge_objects(rows: Iterable[dict[str, Any]], roles: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per object (``kind``, ``host``, ``service``): a poller's row wins over a master's, then
    the first node by name (``node``: the row's node, ``roles``: node name → role)."""

    def rank(row: Mapping[str, Any]) -> tuple[bool, str]:
        return (roles.get(row["node"]) != NodeRole.POLLER, row["node"])

    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=rank):
        found.setdefault((row["kind"], row["host"], row["service"]), row)
    return list(found.values())


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


def node_for_host(host_name: str, *, deployed_only: bool = False) -> NaemonNode | None:
    """The node that owns a host: where a confirmed deployment put the registry host, else its poller by
    placement, else the node whose core lists it.

    ``deployed_only``: only a node where a confirmed deployment put the registry host of that
    name (what a non-staff action may go to); None when there is none.
    """
    host = Host.objects.filter(name=host_name).prefetch_related("hostgroups__node").first()
    if host is not None:
        deployed = deployed_nodes(host)
        if deployed or deployed_only:
            return deployed[0] if deployed else None
        poller = host.poller()
        if poller is not None and poller.enabled and poller.livestatus:
            return poller
    elif deployed_only:
        return None
    # Asked one node at a time through the shared clients: actions are rare, and a
    # throwaway cluster would leave a thread pool behind per action.
    owners = set()
    for node in live_nodes():
        try:
            rows = client_for(node).query(
                LivestatusQuery("hosts").select("name").where(Filter("name", "=", host_name))
            )
        except LivestatusError:
            continue
        if rows:
            owners.add(node)
    for node in sorted(owners, key=lambda n: (n.role != NodeRole.POLLER, n.name)):  # a poller runs the checks
        return node
    return None


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
