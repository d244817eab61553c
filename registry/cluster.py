"""The cluster: which node checks and which node notifies each object (docs/cluster.md).

The invariant (Merlin's): every host and service has exactly one *checker* and one *notifier*
at any time; every other node that holds a copy holds it passively (active checks and
notifications off), fed with the checker's results by the relay (livestatus/relay.py, run by
the checker's core as its obsessive-compulsive command).

Who holds what: a poller holds the hosts of the host groups it owns and their services;
every master holds everything, for the global view and to take over.

Who checks:

* an object owned by a poller (a host in one of its host groups; a service on such a host or
  on such a host group): the poller. While the poller is unhealthy and ``takeover`` is on, the
  active master; with ``takeover`` off the masters' copies turn UNKNOWN after the poller's
  ``stale_after`` seconds without a result (freshness), naming the poller.
* every other object: the **active master**, the healthy enabled master with the lowest
  ``priority``, then name. The other masters are hot standbys holding passive copies.

  One active master rather than a hash partition of the objects among masters: a service
  defined on a host group is one stanza for all its hosts (a partition by host would have to
  split it, on every master, and re-split it on each move); a failover is one switch; the
  standby already holds every object, fed with results, so a takeover starts from the current
  states; and a site's load is carried by its pollers, which are partitioned by host group.

Who notifies: the checker, except for a poller whose ``notifies`` is off: then the active
master (it holds the poller's objects and gets their results, so its copies change state
and notify).

Moving a share (a failover) is a redeploy of the nodes concerned with the new health, never
ENABLE_*/DISABLE_* external commands: a runtime toggle is a "modified attribute" that Naemon
keeps across restarts in its retention file and that then overrides the config.

``Topology`` is plain data (unit-testable without a database); ``topology()`` loads it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from registry.choices import NodeRole

# Commands the renderer adds to the nodes of a cluster (names reserved in the registry).
RELAY_SERVICE_COMMAND = "portal-relay-service"
RELAY_HOST_COMMAND = "portal-relay-host"
STALE_COMMAND = "portal-stale"


@dataclass(frozen=True)
class Node:
    """What the assignment needs to know of a node."""

    name: str
    role: str
    enabled: bool = True
    healthy: bool = True
    notifies: bool = True
    priority: int = 100
    takeover: bool = False
    stale_after: int = 180
    relay_target: str = ""
    groups: frozenset[str] = frozenset()

    @property
    def master(self) -> bool:
        return self.role != NodeRole.POLLER


@dataclass(frozen=True)
class Role:
    """One node's part in one object: does it check, does it notify, whose copy goes stale."""

    checks: bool
    notifies: bool
    #: For a passive copy of an object a poller checks: (poller, its stale_after); else None.
    stale: tuple[str, int] | None = None


@dataclass
class NodeShare:
    """One node's share of the cluster, for the node page and API."""

    healthy: bool = True
    active_master: bool = False
    hosts_checked: int = 0
    hosts_notified: int = 0
    services_checked: int = 0
    services_notified: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


@dataclass
class Topology:
    """The nodes of the cluster and who owns which host group."""

    nodes: dict[str, Node] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.group_owner: dict[str, str] = {}
        for node in sorted(self.nodes.values(), key=lambda n: n.name):
            if not node.master:
                for group in node.groups:
                    self.group_owner.setdefault(group, node.name)

    # -- masters ----------------------------------------------------------------------

    def masters(self) -> list[Node]:
        """Enabled masters in the order they take the active role: priority, then name."""
        return sorted(
            (n for n in self.nodes.values() if n.master and n.enabled), key=lambda n: (n.priority, n.name)
        )

    def active_master(self) -> str | None:
        """The master that checks what no poller checks: the first healthy one (None: no master)."""
        masters = self.masters()
        for node in masters:
            if node.healthy:
                return node.name
        # Nobody answers: keep the preferred one, so the config does not change for nothing.
        return masters[0].name if masters else None

    # -- objects ----------------------------------------------------------------------

    def owner(self, groups: Iterable[str]) -> str | None:
        """The poller that owns an object in these host groups (None: the masters own it)."""
        found = sorted({self.group_owner[g] for g in groups if g in self.group_owner})
        return found[0] if found else None

    def checker(self, groups: Iterable[str]) -> str | None:
        """The node that actively checks an object in these host groups."""
        owner = self.owner(groups)
        if owner is None:
            return self.active_master()
        poller = self.nodes[owner]
        if not poller.enabled or (not poller.healthy and poller.takeover):
            return self.active_master() or owner
        return owner

    def notifier(self, groups: Iterable[str]) -> str | None:
        """The node that runs the notifications of an object in these host groups."""
        groups = tuple(groups)
        checker = self.checker(groups)
        if checker is not None and not self.nodes[checker].master and not self.nodes[checker].notifies:
            return self.active_master() or checker
        return checker

    def holders(self, groups: Iterable[str]) -> list[str]:
        """Every enabled node that holds a copy of an object in these host groups, its checker first."""
        groups = tuple(groups)
        names = {n.name for n in self.masters()}
        owner = self.owner(groups)
        if owner is not None and self.nodes[owner].enabled:
            names.add(owner)
        checker = self.checker(groups)
        return sorted(names, key=lambda name: (name != checker, name))

    def role(self, node: str, groups: Iterable[str]) -> Role:
        """What ``node`` does with its copy of an object in these host groups."""
        groups = tuple(groups)
        checker = self.checker(groups)
        checks = checker == node
        stale = None
        if not checks and checker is not None and not self.nodes[checker].master:
            stale = (checker, self.nodes[checker].stale_after)
        return Role(checks=checks, notifies=self.notifier(groups) == node, stale=stale)

    def relay_targets(self, node: str) -> list[str]:
        """Where ``node``'s relay sends the results of the objects it checks: the other holders.

        A poller's objects are held by every master. The active master checks the objects no
        poller checks (held by every master) and those of the pollers it took over (held by
        those pollers too). A standby master checks nothing. Nodes without a target are left out.
        """
        me = self.nodes.get(node)
        if me is None or not me.enabled:
            return []
        masters = {n.name for n in self.masters()}
        if not me.master:
            others = masters if me.groups and self.checker(me.groups) == node else set()
        elif self.active_master() == node:
            others = masters | set(self.taken_over())
        else:
            others = set()
        others.discard(node)
        return sorted({self.nodes[n].relay_target for n in others if self.nodes[n].relay_target})

    def taken_over(self) -> list[str]:
        """Pollers whose objects the active master checks now (down, with ``takeover`` on)."""
        return sorted(
            n.name for n in self.nodes.values() if not n.master and n.enabled and not n.healthy and n.takeover
        )

    def shares(
        self, hosts: Iterable[tuple[object, frozenset[str]]], services: Iterable[frozenset[str]]
    ) -> dict[str, NodeShare]:
        """Per node, how many hosts and services it checks and notifies.

        ``hosts``: (name, host groups) per host; ``services``: the host groups that decide each
        service instance's owner (its host's, or the host group it is defined on).
        """
        result = {name: NodeShare(healthy=node.healthy) for name, node in self.nodes.items()}
        active = self.active_master()
        if active in result:
            result[active].active_master = True
        checked: Counter[str | None] = Counter()
        notified: Counter[str | None] = Counter()
        for _, groups in hosts:
            checked[self.checker(groups)] += 1
            notified[self.notifier(groups)] += 1
        for name, count in checked.items():
            if name in result:
                result[name].hosts_checked = count
        for name, count in notified.items():
            if name in result:
                result[name].hosts_notified = count
        checked.clear()
        notified.clear()
        for groups in services:
            checked[self.checker(groups)] += 1
            notified[self.notifier(groups)] += 1
        for name, count in checked.items():
            if name in result:
                result[name].services_checked = count
        for name, count in notified.items():
            if name in result:
                result[name].services_notified = count
        return result


# -- from the database --------------------------------------------------------------


def topology(
    health: Mapping[str, bool] | None = None, hostgroups: Iterable[tuple[int, str, int | None]] | None = None
) -> Topology:
    """The cluster as the database describes it now.

    ``health``: node name -> healthy, overriding what the watch recorded; ``hostgroups``:
    (pk, name, node id) of every host group, if the caller has read them already.
    """
    from registry import models as m  # the pure part above is usable without Django

    if hostgroups is None:
        hostgroups = m.HostGroup.objects.filter(node__isnull=False).values_list("pk", "name", "node_id")
    groups: dict[int, set[str]] = {}
    for _, name, node_id in hostgroups:
        if node_id is not None:
            groups.setdefault(node_id, set()).add(name)
    known = dict(m.NodeHealth.objects.values_list("node__name", "healthy"))
    if health:
        known.update(health)
    nodes = {}
    for node in m.NaemonNode.objects.all():
        nodes[node.name] = Node(
            name=node.name,
            role=node.role,
            enabled=node.enabled,
            healthy=known.get(node.name, True),
            notifies=node.notifies,
            priority=node.priority,
            takeover=node.takeover,
            stale_after=node.stale_after,
            relay_target=node.relay_target(),
            groups=frozenset(groups.get(node.pk, ())),
        )
    return Topology(nodes)


def shares() -> dict[str, dict[str, int | bool]]:
    """Every node's share now (``Topology.shares`` over the registry), for the API and node page.

    Counted per host and per host group with GROUP BY queries, not per service row: seven
    queries whatever the size of the site.
    """
    from django.db.models import Count

    from registry import models as m

    rows = list(m.HostGroup.objects.values_list("pk", "name", "node_id"))
    topo = topology(hostgroups=rows)
    group_names = {pk: name for pk, name, _ in rows}
    host_groups: dict[int, set[str]] = {}
    members: dict[str, list[int]] = {}
    for host_id, group_id in m.Host.hostgroups.through.objects.values_list("host_id", "hostgroup_id"):
        host_groups.setdefault(host_id, set()).add(group_names[group_id])
        members.setdefault(group_names[group_id], []).append(host_id)
    hosts = [(pk, frozenset(host_groups.get(pk, ()))) for pk in m.Host.objects.values_list("pk", flat=True)]
    by_host = dict(
        m.Service.objects.filter(host__isnull=False)
        .values("host_id")
        .annotate(n=Count("pk"))
        .values_list("host_id", "n")
    )
    instances: list[frozenset[str]] = []
    for pk, groups in hosts:
        instances += [groups] * by_host.get(pk, 0)
    # Defined on host groups: one instance per member host, owned as the group is.
    on_groups: dict[int, list[str]] = {}
    for service_id, group_id in m.Service.hostgroups.through.objects.filter(
        service__host__isnull=True
    ).values_list("service_id", "hostgroup_id"):
        on_groups.setdefault(service_id, []).append(group_names[group_id])
    for names in on_groups.values():
        seen: set[int] = set()
        # A host in a poller's group and a masters' one has the instance of the poller's part.
        for group in sorted(names, key=lambda g: topo.owner((g,)) is None):
            fresh = [h for h in members.get(group, ()) if h not in seen]
            seen.update(fresh)
            instances += [frozenset((group,))] * len(fresh)
    return {name: share.as_dict() for name, share in topo.shares(hosts, instances).items()}
