"""Host names that a node already monitors outside the registry (a site's own config files).

Registering such a name makes the registry's host a duplicate of the node's object. The
node's verify refuses the duplicate, so the confirmed-deployment rule (``DeployedHost``,
``livestatus.actions``) already keeps the name from granting any right over the node's
object; refusing the write as well tells the team at once, instead of leaving a registry
host that can never deploy. So a new name (a create or a rename) that a node lists, and
that no confirmed deployment of the portal put there, is refused with a 400 naming the
node. Staff may adopt it (``adopt: true``): the registry host then takes the object over
on that node once the site removes its own definition there.

A node whose Livestatus does not answer does not block the write: what it lists cannot be
known, and the confirmed-deployment rule still holds there (a duplicate fails its verify).
"""

from __future__ import annotations

from typing import Any

from livestatus.client import Filter, LivestatusClient, LivestatusError, LivestatusQuery
from registry.models import DeployedHost, NaemonNode

# A write waits at most this long for one node; a slow node is treated as unreachable.
CONNECT_TIMEOUT = 2.0
TIMEOUT = 3.0


def nodes_listing_outside(name: str, cache: dict[str, Any] | None = None) -> list[str]:
    """Names of the live nodes whose core lists a host ``name`` that no confirmed deployment put there.

    ``cache``: a dict kept for one request (a bulk write asks about many names): a node that
    did not answer is not asked again.
    """
    cache = {} if cache is None else cache
    unreachable: set[int] = cache.setdefault("unreachable", set())
    nodes = cache.get("nodes")
    if nodes is None:
        nodes = cache["nodes"] = list(
            NaemonNode.objects.filter(enabled=True).exclude(livestatus="").order_by("name")
        )
    try:
        query = LivestatusQuery("hosts").select("name").where(Filter("name", "=", name))
    except ValueError:
        return []  # not a name Livestatus can be asked about: the name's own checks refuse it
    ours = set(DeployedHost.objects.filter(name=name).values_list("node_id", flat=True))
    found = []
    for node in nodes:
        if node.pk in unreachable or node.pk in ours:
            continue
        try:
            # No keep-alive: a write asks once; the core may restart between writes.
            with LivestatusClient(
                node.livestatus,
                connect_timeout=CONNECT_TIMEOUT,
                timeout=TIMEOUT,
                retry_window=0,
                keepalive=False,
                check_columns=False,
            ) as client:
                rows = client.query(query)
        except LivestatusError:
            unreachable.add(node.pk)
            continue
        if rows:
            found.append(node.name)
    return found
