"""The cluster's assignment (registry/cluster.py) and what each node's config says of it.

Unit tests of the assignment on plain data (stable; a node leaving moves only its share; one
checker and one notifier per object), then the rendered roles of a two-master, two-poller
registry, verified by the real ``nagios4 -v``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.cluster import Node, Topology
from registry.models import Command, Contact, Host, HostGroup, NaemonNode, NodeHealth, Service
from registry.state import render_node
from tests.services.nagios import VerifyDir
from tests.services.nagios import parse_objects as blocks


def cluster(**health: bool) -> Topology:
    """Two masters (a preferred), two pollers: p1 owns web, p2 owns db and notifies not itself."""
    nodes = [
        Node("master-a", "master", priority=10, relay_target="cmdfile:/a.cmd"),
        Node("master-b", "master", priority=20, relay_target="cmdfile:/b.cmd"),
        Node("p1", "poller", groups=frozenset({"web"}), relay_target="cmdfile:/p1.cmd", takeover=True),
        Node("p2", "poller", groups=frozenset({"db"}), notifies=False, relay_target="cmdfile:/p2.cmd"),
    ]
    return Topology(
        {n.name: Node(**{**n.__dict__, "healthy": health.get(n.name.replace("-", "_"), True)}) for n in nodes}
    )


GROUPS = [(), ("web",), ("db",), ("linux",), ("web", "linux"), ("db", "linux")]


def test_each_object_has_one_checker_and_one_notifier_among_its_holders() -> None:
    for downs in itertools.product([True, False], repeat=4):
        topo = cluster(**dict(zip(("master_a", "master_b", "p1", "p2"), downs, strict=True)))
        for groups in GROUPS:
            holders = topo.holders(groups)
            roles = [topo.role(node, groups) for node in holders]
            assert sum(r.checks for r in roles) == 1, (downs, groups)
            assert sum(r.notifies for r in roles) == 1, (downs, groups)
            assert holders[0] == topo.checker(groups)  # the checker first


def test_who_checks_and_notifies_in_steady_state() -> None:
    topo = cluster()
    assert topo.active_master() == "master-a"
    assert (topo.checker(()), topo.notifier(())) == ("master-a", "master-a")
    assert (topo.checker(("web", "linux")), topo.notifier(("web",))) == ("p1", "p1")
    # p2 leaves its notifications to the masters: it checks, the active master notifies.
    assert (topo.checker(("db",)), topo.notifier(("db",))) == ("p2", "master-a")
    assert topo.holders(("web",)) == ["p1", "master-a", "master-b"]
    assert topo.holders(()) == ["master-a", "master-b"]


def test_a_master_leaving_moves_only_its_share() -> None:
    before = cluster()
    standby_gone = cluster(master_b=False)
    # The standby checks nothing: nothing moves.
    for groups in GROUPS:
        assert standby_gone.checker(groups) == before.checker(groups)
        assert standby_gone.notifier(groups) == before.notifier(groups)
    active_gone = cluster(master_a=False)
    for groups in GROUPS:
        if before.checker(groups) == "master-a":
            assert active_gone.checker(groups) == "master-b"
        else:  # the pollers' objects stay with the pollers
            assert active_gone.checker(groups) == before.checker(groups)
    assert active_gone.notifier(("db",)) == "master-b"  # p2's notifications follow the active master


def test_a_poller_leaving_moves_its_share_only_with_takeover() -> None:
    p1_gone, p2_gone = cluster(p1=False), cluster(p2=False)
    assert p1_gone.checker(("web",)) == "master-a"  # takeover on
    assert p1_gone.taken_over() == ["p1"]
    assert p2_gone.checker(("db",)) == "p2"  # takeover off: its copies go stale on the masters instead
    assert p2_gone.role("master-a", ("db",)).stale == ("p2", 180)
    for groups in [(), ("db",)]:
        assert p1_gone.checker(groups) == cluster().checker(groups)


def test_relay_targets_are_the_other_holders() -> None:
    topo = cluster()
    assert topo.relay_targets("p1") == ["cmdfile:/a.cmd", "cmdfile:/b.cmd"]
    assert topo.relay_targets("master-a") == ["cmdfile:/b.cmd"]
    assert topo.relay_targets("master-b") == []  # the standby checks nothing
    assert cluster(p1=False).relay_targets("master-a") == ["cmdfile:/b.cmd", "cmdfile:/p1.cmd"]
    assert cluster(master_a=False).relay_targets("master-b") == ["cmdfile:/a.cmd"]


@settings(max_examples=200, deadline=None)
@given(
    priorities=st.lists(st.integers(0, 3), min_size=1, max_size=5),
    healthy=st.lists(st.booleans(), min_size=5, max_size=5),
    order=st.permutations(range(5)),
)
def test_the_active_master_is_stable_and_independent_of_order(
    priorities: list[int], healthy: list[bool], order: list[int]
) -> None:
    masters = [Node(f"m{i}", "master", priority=p, healthy=healthy[i]) for i, p in enumerate(priorities)]
    shuffled = [masters[i] for i in order if i < len(masters)]
    one = Topology({n.name: n for n in masters})
    other = Topology({n.name: n for n in shuffled})
    assert one.active_master() == other.active_master()
    chosen = one.nodes[one.active_master() or ""]
    if any(n.healthy for n in masters):
        assert chosen.healthy
        # Nobody healthier is preferred: the lowest (priority, name) among the healthy.
        assert (chosen.priority, chosen.name) == min((n.priority, n.name) for n in masters if n.healthy)


# -- rendered per role ------------------------------------------------------------------------


@pytest.fixture
def site(db: None, tmp_path: Any) -> dict[str, NaemonNode]:
    def node(name: str, role: str, **extra: Any) -> NaemonNode:
        return NaemonNode.objects.create(
            name=name,
            role=role,
            config_dir=str(tmp_path / name),
            command_file=f"/var/lib/{name}/naemon.cmd",
            notify_filter_path="/opt/portal/bin/notify-filter",
            **extra,
        )

    nodes = {
        "a": node("master-a", "master", priority=10),
        "b": node("master-b", "master", priority=20),
        "p1": node("p1", "poller", stale_after=90),
    }
    check = Command.objects.create(name="check-true", command_line="/bin/true")
    mail = Command.objects.create(name="notify-mail", command_line="/bin/true", channel="email")
    alice = Contact.objects.create(name="alice")
    alice.host_notification_commands.add(mail)
    alice.service_notification_commands.add(mail)
    web = HostGroup.objects.create(name="web", node=nodes["p1"])
    linux = HostGroup.objects.create(name="linux")
    web1 = Host.objects.create(name="web1", check_command=check, max_check_attempts=1)
    web1.hostgroups.add(web, linux)
    core1 = Host.objects.create(name="core1", check_command=check, max_check_attempts=1)
    core1.hostgroups.add(linux)
    for host in (web1, core1):
        host.contacts.add(alice)
        Service.objects.create(host=host, description="PING", check_command=check, max_check_attempts=1)
    disk = Service.objects.create(description="Disk", check_command=check, max_check_attempts=1)
    disk.hostgroups.add(web, linux)
    return nodes


def objects(node: NaemonNode) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, str]]:
    """A node's rendered hosts, services ("host/description" or "@groups/description") and command lines."""
    files = render_node(node).files
    hosts = {dict(d)["host_name"]: dict(d) for k, d in blocks(files["hosts.cfg"]) if k == "host"}
    services = {}
    for kind, directives in blocks(files["services.cfg"]):
        d = dict(directives)
        if kind == "service":
            host = d.get("host_name", "")
            where = host if host and not host.startswith("!") else "@" + d["hostgroup_name"]
            services[f"{where}/{d['service_description']}"] = d
    commands = {
        dict(d)["command_name"]: dict(d)["command_line"]
        for k, d in blocks(files["commands.cfg"])
        if k == "command"
    }
    return hosts, services, commands


def checks(block: dict[str, str]) -> bool:
    return block.get("active_checks_enabled") != "0"


def test_each_node_renders_its_role(site: dict[str, NaemonNode]) -> None:
    a_hosts, a_services, a_commands = objects(site["a"])
    b_hosts, b_services, b_commands = objects(site["b"])
    p_hosts, p_services, p_commands = objects(site["p1"])
    # core1 is the masters': master-a checks, notifies and relays it to master-b.
    assert checks(a_hosts["core1"]) and a_hosts["core1"]["obsess"] == "1"
    assert "notifications_enabled" not in a_hosts["core1"]
    assert b_hosts["core1"]["active_checks_enabled"] == "0"
    # Every copy keeps its notifications: each holder's core must notify the problem itself (or
    # drop the RECOVERY after a move); the notify-filter's cluster gate lets out the notifier's only.
    assert "notifications_enabled" not in b_hosts["core1"]
    assert "notifications_enabled" not in b_services["web1/PING"]
    assert b_hosts["core1"]["obsess"] == "0"  # a copy never relays what it was given
    assert "check_freshness" not in b_services["core1/PING"]  # a master's share moves by failover
    # web1 is p1's: checked there, copies on both masters go UNKNOWN after p1's stale_after.
    assert checks(p_hosts["web1"]) and p_services["web1/PING"]["obsess"] == "1"
    for services in (a_services, b_services):
        copy = services["web1/PING"]
        assert not checks(copy)
        assert copy["check_command"] == "portal-stale!p1!90"
        assert (copy["check_freshness"], copy["freshness_threshold"]) == ("1", "90")
    # Disk on web (p1's) and linux (the masters'): split on the masters, one checker per part.
    assert checks(a_services["@linux/Disk"]) and not checks(a_services["@web/Disk"])
    assert not checks(b_services["@linux/Disk"]) and not checks(b_services["@web/Disk"])
    assert checks(p_services["@web/Disk"])
    assert a_services["@linux/Disk"]["host_name"] == "!web1"  # web1 gets its Disk from p1's part
    # The masters' part names its share for the notify-filter's gate (its hosts may be a poller's).
    assert (
        a_services["@linux/Disk"]["_PORTAL_SHARE"] == "*" and "_PORTAL_SHARE" not in a_services["@web/Disk"]
    )
    # The relay: p1 to both masters, master-a to master-b, master-b to nobody.
    relay = p_commands["portal-relay-service"]
    assert "--to cmdfile:/var/lib/master-a/naemon.cmd --to cmdfile:/var/lib/master-b/naemon.cmd" in relay
    assert "'$LASTSERVICECHECK$' '$SERVICEOUTPUT$' '$LONGSERVICEOUTPUT$' '$SERVICEPERFDATA$'" in relay
    assert "--to cmdfile:/var/lib/master-b/naemon.cmd --log" in a_commands["portal-relay-host"]
    # The standby relays nothing, but defines the commands its main config names (ocsp_command).
    assert "--to" not in b_commands["portal-relay-service"]
    assert "portal-stale" in a_commands and "portal-stale" not in p_commands


def test_failover_of_the_active_master_is_a_new_rendering(site: dict[str, NaemonNode]) -> None:
    NodeHealth.objects.create(node=site["a"], healthy=False)
    b_hosts, b_services, b_commands = objects(site["b"])
    assert checks(b_hosts["core1"]) and b_hosts["core1"]["obsess"] == "1"
    assert "notifications_enabled" not in b_services["core1/PING"]
    assert "--to cmdfile:/var/lib/master-a/naemon.cmd" in b_commands["portal-relay-service"]
    a_hosts, _, _ = objects(site["a"])
    assert not checks(a_hosts["core1"])  # what it gets when it comes back, until it is healthy again


def test_a_node_alone_checks_and_notifies_everything(db: None, tmp_path: Any) -> None:
    node = NaemonNode.objects.create(
        name="solo", role="master", config_dir=str(tmp_path), command_file="/x.cmd"
    )
    check = Command.objects.create(name="check-true", command_line="/bin/true")
    Host.objects.create(name="h1", check_command=check, max_check_attempts=1)
    hosts, _, commands = objects(node)
    assert not {"obsess", "active_checks_enabled", "notifications_enabled"} & hosts["h1"].keys()
    # The relay commands its main config may name (ocsp_command), with nowhere to send to.
    assert "--to" not in commands["portal-relay-service"] and "portal-stale" not in commands


@pytest.mark.services
def test_every_node_of_a_cluster_verifies_with_nagios(
    site: dict[str, NaemonNode], verify_dir: VerifyDir
) -> None:
    for down in (None, "p1", "master-a"):  # steady state, a poller taken over, a master failed over
        NodeHealth.objects.update_or_create(node=site["p1"], defaults={"healthy": down != "p1"})
        NodeHealth.objects.update_or_create(node=site["a"], defaults={"healthy": down != "master-a"})
        for node in site.values():
            result = verify_dir.check(render_node(node).files)
            assert result.returncode == 0, result.output
            assert "Total Warnings: 0" in result.output, result.output
