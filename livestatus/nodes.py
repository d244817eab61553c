"""Django glue between NaemonNode rows and the plain Livestatus client.

Clients are kept per process and reused, keyed by node name and address: editing a node's
address takes effect without a restart, and the old address's connections are closed. Each
client keeps a small pool of keep-alive connections (``POOL_SIZE``), so one slow query on a
node holds up one connection, not every status page of that node in this process.
"""

from __future__ import annotations

import threading

from livestatus.client import LivestatusClient
from livestatus.errors import LivestatusError
from livestatus.multi import LivestatusCluster
from livestatus.query import Filter, LivestatusQuery
from registry.choices import NodeRole
from registry.models import Host, NaemonNode

_lock = threading.Lock()
_clients: dict[tuple[str, str], LivestatusClient] = {}

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
