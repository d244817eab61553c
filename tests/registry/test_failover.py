"""The cluster watch (registry/failover.py): health with hysteresis, moves, redeploys, and where they show.

The nodes' Livestatus is the project's stand-in server answering ``GET status`` with a
``program_start``; stopping it is a node that stops answering. The watch is called with an
explicit ``now`` so that time is stepped, never slept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from livestatus import overview
from monitoring_portal import redis_client
from registry import failover, tasks
from registry.models import (
    ClusterMove,
    Deployment,
    Host,
    HostGroup,
    NaemonNode,
    NodeHealth,
    Service,
    ServiceUse,
)
from registry.state import render_node
from tests.doubles import DeployRecorder
from tests.livestatus.fixtures import fresh_clients  # noqa: F401  (a fixture used by the wall test)
from tests.services.nagios import parse_objects
from tests.services.replay import ReplayServer, fixed16, json_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deploys")]


class Core:
    """A node's Livestatus: answers ``GET status`` with its program_start while it runs."""

    def __init__(self, path: str, program_start: int) -> None:
        self.path = path
        self.program_start = program_start
        self.server: ReplayServer | None = None

    def _answer(self, request: bytes) -> bytes:
        if request.startswith(b"GET status\n"):
            return fixed16(200, json_body([[self.program_start]]))
        return fixed16(200, json_body([]))

    def start(self, program_start: int | None = None) -> None:
        """(Re)start the core: its socket answers again, with a new program_start if given."""
        if program_start is not None:
            self.program_start = program_start
        self.server = ReplayServer(self._answer, path=self.path)
        self.server.start()

    def stop(self) -> None:
        """Kill the core: its socket is gone, nothing answers."""
        if self.server is not None:
            self.server.stop()
            self.server = None


class Cluster:
    """Two masters (m1 preferred) and a poller owning host group "web", each with a Core."""

    def __init__(self, basics: dict[str, Any], root: str, config_root: Path) -> None:
        self.t0 = timezone.now().replace(microsecond=0)
        start = int(self.t0.timestamp()) - 3600
        self.cores = {name: Core(f"{root}/{name}.sock", start) for name in ("m1", "m2", "p1")}
        for core in self.cores.values():
            core.start()
        self.m1 = self._node("m1", "master", priority=10, config_root=config_root)
        self.m2 = self._node("m2", "master", priority=20, config_root=config_root)
        self.p1 = self._node("p1", "poller", config_root=config_root)
        web = HostGroup.objects.create(name="web", node=self.p1)
        # core1: nobody's poller owns it (the masters' share); web1: the poller's.
        core1 = Host.objects.create(name="core1", address="192.0.2.1", check_command=basics["command"])
        web1 = Host.objects.create(name="web1", address="192.0.2.2", check_command=basics["command"])
        web1.hostgroups.add(web)
        for host, description in ((core1, "Ping"), (web1, "HTTP")):
            service = Service.objects.create(host=host, description=description)
            ServiceUse.objects.create(service=service, template=basics["service_template"])

    def _node(self, name: str, role: str, *, config_root: Path, priority: int = 100) -> NaemonNode:
        return NaemonNode.objects.create(
            name=name,
            role=role,
            priority=priority,
            livestatus=f"unix:{self.cores[name].path}",
            config_dir=str(config_root / name),
            notify_dir=str(config_root / name / "notify"),
        )

    def at(self, seconds: float) -> datetime:
        return self.t0 + timedelta(seconds=seconds)

    def watch(self, seconds: float) -> list[ClusterMove]:
        """One run of the watch at t0 + seconds."""
        return failover.watch(self.at(seconds), request=tasks.request_deployments)

    def stop(self) -> None:
        for core in self.cores.values():
            core.stop()


@pytest.fixture
def cluster(
    basics: dict[str, Any], tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    settings.CLUSTER_DOWN_AFTER = 60
    settings.CLUSTER_BACK_AFTER = 60
    # A probe of a stopped core retries for min(timeout, 2 s): half a second is plenty on loopback.
    monkeypatch.setattr(failover, "PROBE_TIMEOUT", 0.5)
    root = tempfile.mkdtemp(prefix="fo-", dir="/tmp")  # unix socket paths must stay short
    site = Cluster(basics, root, tmp_path)
    try:
        yield site
    finally:
        site.stop()
        shutil.rmtree(root, ignore_errors=True)


def rendered(node: NaemonNode, kind: str, key: str, name: str) -> dict[str, str]:
    """One object of the node's rendered config (registry.state.render_node) as directive -> value."""
    files = render_node(node).files
    filename = {"host": "hosts.cfg", "service": "services.cfg", "command": "commands.cfg"}[kind]
    for block_kind, directives in parse_objects(files[filename]):
        values = dict(directives)
        if block_kind == kind and values.get(key) == name:
            return values
    raise AssertionError(f"{kind} {name} not rendered for {node.name}")


def checks(node: NaemonNode, kind: str, key: str, name: str) -> bool:
    """Does the node's copy actively check (and relay) the object, or is it a passive copy?"""
    values = rendered(node, kind, key, name)
    active = values.get("active_checks_enabled", "1") == "1"
    if active:
        assert values.get("obsess") == "1", values  # the checker's results go to the other copies
    else:
        # A copy never relays; it keeps its notifications (the notify-filter's cluster gate decides).
        assert values.get("obsess") == "0", values
    return active


def relay_targets(node: NaemonNode) -> list[str]:
    try:
        line = rendered(node, "command", "command_name", "portal-relay-service")["command_line"]
    except AssertionError:
        return []
    words = line.split()
    return [words[i + 1] for i, word in enumerate(words) if word == "--to"]


def health(name: str) -> NodeHealth:
    return NodeHealth.objects.get(node__name=name)


# -- a master goes down, and comes back --------------------------------------------------


def test_a_dead_master_hands_its_share_to_the_standby_only_after_down_after(
    cluster: Cluster, deploys: DeployRecorder, django_capture_on_commit_callbacks: Any
) -> None:
    m1, m2 = cluster.m1, cluster.m2
    assert cluster.watch(0) == []
    assert checks(m1, "service", "service_description", "Ping")
    assert not checks(m2, "service", "service_description", "Ping")
    assert relay_targets(m1) == [f"livestatus:{m2.livestatus}"] and relay_targets(m2) == []

    cluster.cores["m1"].stop()
    assert cluster.watch(10) == []
    assert cluster.watch(69) == []  # 59 s without an answer: still m1's share
    row = health("m1")
    assert row.healthy and row.failing_since == cluster.at(10) and row.last_seen == cluster.at(0)
    assert "m1.sock" in row.error
    assert deploys.calls == []

    with django_capture_on_commit_callbacks(execute=True):
        [move] = cluster.watch(70)
    assert (move.node, move.kind, move.taken_by) == (m1, "down", "m2")
    assert move.window_start == cluster.at(10)
    assert move.reason.startswith("m1 has not answered since ") and "m2 checks its share now" in move.reason
    assert not health("m1").healthy and health("m1").since == cluster.at(70)
    # The standby and the dead master itself are redeployed, the poller (unchanged) is not.
    # Each on its own queue: the dead node's message waits for its worker, the others' do not.
    assert deploys.calls == [({"m1", "m2"}, "cluster: m1 down, m2 checks its share")]
    assert {d.node.name for d in move.deployments.all()} == {"m1", "m2"}
    assert sorted(str(queue) for _, queue in deploys.enqueued) == ["naemon.m1", "naemon.m2"]
    assert failover.window_end(move) is None  # deployments still pending: the window is open
    # What the nodes get now: m2 checks the masters' share and relays to m1; m1 holds copies.
    assert checks(m2, "service", "service_description", "Ping")
    assert checks(m2, "host", "host_name", "core1")
    assert not checks(m1, "service", "service_description", "Ping")
    assert relay_targets(m2) == [f"livestatus:{m1.livestatus}"] and relay_targets(m1) == []
    # The poller's objects stay the poller's.
    assert checks(cluster.p1, "service", "service_description", "HTTP")

    # Idempotent: the same (or an overlapping) run finds nothing more to move.
    assert cluster.watch(70) == [] and cluster.watch(80) == []
    assert ClusterMove.objects.count() == 1 and len(deploys.calls) == 1


def test_a_master_comes_back_only_after_answering_without_a_break_for_back_after(
    cluster: Cluster, deploys: DeployRecorder
) -> None:
    m1, m2 = cluster.m1, cluster.m2
    cluster.watch(0)
    cluster.cores["m1"].stop()
    cluster.watch(10)
    [down] = cluster.watch(70)
    restarted = int(cluster.at(100).timestamp())
    cluster.cores["m1"].start(program_start=restarted)
    assert cluster.watch(100) == []
    # It misses one probe: the 60 s of answers start again.
    cluster.cores["m1"].stop()
    assert cluster.watch(130) == []
    cluster.cores["m1"].start()
    assert cluster.watch(140) == [] and cluster.watch(190) == []
    row = health("m1")
    assert not row.healthy and row.answering_since == cluster.at(140) and row.program_start == restarted
    assert not checks(m1, "service", "service_description", "Ping")

    [back] = cluster.watch(200)
    assert (back.node, back.kind, back.taken_by) == (m1, "back", "m1")
    assert back.reason.startswith("m1 answers again since ") and "core started" in back.reason
    # The window of double checks began when its core restarted with its old config.
    assert back.window_start == cluster.at(100)
    assert health("m1").healthy and health("m1").since == cluster.at(200)
    assert deploys.calls[-1] == ({"m1", "m2"}, "cluster: m1 back, m1 checks its share")
    assert checks(m1, "service", "service_description", "Ping")
    assert not checks(m2, "service", "service_description", "Ping")
    assert list(ClusterMove.objects.order_by("at").values_list("kind", flat=True)) == ["down", "back"]
    # Once its deployments have run, the move says when the window closed.
    back_deployments = list(back.deployments.all())
    finished = cluster.at(230)
    for deployment in back_deployments:
        deployment.state, deployment.finished_at = "confirmed", finished
        deployment.save()
    assert failover.window_end(back) == finished
    assert down.pk != back.pk


def test_a_node_answering_intermittently_neither_goes_down_nor_comes_back(
    cluster: Cluster, deploys: DeployRecorder
) -> None:
    cluster.watch(0)
    # The poller misses every other probe for two minutes: never 60 s without an answer.
    for step in range(1, 13):
        core = cluster.cores["p1"]
        core.stop() if step % 2 else core.start()
        assert cluster.watch(step * 10) == []
    assert health("p1").healthy and deploys.calls == []
    # m1 goes down, then answers every other probe: it stays down (no flapping of its share).
    cluster.cores["m1"].stop()
    cluster.watch(130)
    [move] = cluster.watch(190)
    assert move.kind == "down"
    for step in range(20, 34):
        core = cluster.cores["m1"]
        core.start() if step % 2 else core.stop()
        assert cluster.watch(step * 10) == []
    assert not health("m1").healthy and ClusterMove.objects.count() == 1


# -- a poller goes down ------------------------------------------------------------------


def test_a_dead_poller_with_takeover_has_its_objects_checked_by_the_active_master(
    cluster: Cluster, deploys: DeployRecorder
) -> None:
    m1, m2, p1 = cluster.m1, cluster.m2, cluster.p1
    p1.takeover = True
    p1.save()
    cluster.watch(0)
    assert rendered(m1, "service", "service_description", "HTTP")["check_command"] == "portal-stale!p1!180"
    cluster.cores["p1"].stop()
    cluster.watch(10)
    [move] = cluster.watch(70)
    assert (move.node, move.kind, move.taken_by) == (p1, "down", "m1")
    assert "m1 checks its share now" in move.reason
    assert deploys.calls == [({"m1", "m2", "p1"}, "cluster: p1 down, m1 checks its share")]
    http = rendered(m1, "service", "service_description", "HTTP")
    assert checks(m1, "service", "service_description", "HTTP") and checks(m1, "host", "host_name", "web1")
    # Its own check (the template's command), not the stale-copy check.
    assert "check_command" not in http and "check_freshness" not in http
    # m2's copy is fed by m1 now, not stale-checked against the dead poller.
    assert "check_freshness" not in rendered(m2, "service", "service_description", "HTTP")
    assert f"livestatus:{p1.livestatus}" in relay_targets(m1)

    cluster.cores["p1"].start()
    cluster.watch(80)
    [back] = cluster.watch(140)
    assert (back.kind, back.taken_by) == ("back", "p1")
    assert checks(p1, "service", "service_description", "HTTP")
    assert rendered(m1, "service", "service_description", "HTTP")["check_command"] == "portal-stale!p1!180"


def test_a_dead_poller_without_takeover_leaves_its_copies_to_their_freshness_check(
    cluster: Cluster, deploys: DeployRecorder
) -> None:
    m1, p1 = cluster.m1, cluster.p1
    cluster.watch(0)
    cluster.cores["p1"].stop()
    cluster.watch(10)
    [move] = cluster.watch(70)
    assert (move.node, move.kind, move.taken_by) == (p1, "down", "")
    assert "takeover is off: its objects turn UNKNOWN on the masters after 180 s" in move.reason
    # Nobody's roles change: nothing is redeployed, the masters' copies turn UNKNOWN by freshness.
    assert deploys.calls == [] and not move.deployments.exists()
    assert failover.window_end(move) == move.at
    http = rendered(m1, "service", "service_description", "HTTP")
    assert not checks(m1, "service", "service_description", "HTTP")
    assert (http["check_command"], http["check_freshness"], http["freshness_threshold"]) == (
        "portal-stale!p1!180",
        "1",
        "180",
    )


# -- other ways of watching --------------------------------------------------------------


def test_a_node_without_livestatus_is_watched_through_its_status_file(
    basics: dict[str, Any], tmp_path: Path, settings: Settings
) -> None:
    settings.CLUSTER_DOWN_AFTER = 60
    main = tmp_path / "nagios.cfg"
    main.write_text("status_update_interval=5\n")
    status = tmp_path / "status.dat"
    status.write_text("info {\n\tcreated=1\n\t}\n\nprogramstatus {\n\tprogram_start=1700000000\n\t}\n")
    NaemonNode.objects.create(
        name="solo", config_dir=str(tmp_path / "d"), main_config=str(main), status_file=str(status)
    )
    now = timezone.now()
    os.utime(status, (now.timestamp(), now.timestamp()))
    failover.watch(now, request=tasks.request_deployments)
    row = health("solo")
    assert row.healthy and row.program_start == 1700000000 and row.last_seen == now and not row.error
    # Not rewritten for three status_update_intervals: the core does not answer.
    failover.watch(now + timedelta(seconds=16), request=tasks.request_deployments)
    row = health("solo")
    assert row.failing_since == now + timedelta(seconds=16)
    assert row.error == f"status file {status} not rewritten for 16 s (status_update_interval 5 s)"
    [move] = failover.watch(now + timedelta(seconds=80), request=tasks.request_deployments)
    assert (move.kind, move.taken_by) == ("down", "")
    assert "no other master answers" in move.reason


def test_a_run_while_another_holds_the_lock_changes_nothing(
    cluster: Cluster, settings: Settings, redis_url: str
) -> None:
    settings.REDIS_URL = redis_url
    client = redis_client.client()
    assert client is not None
    lock = client.lock("registry:cluster-watch", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        cluster.cores["m1"].stop()
        assert cluster.watch(0) == [] and not NodeHealth.objects.exists()
    finally:
        lock.release()
    cluster.watch(0)
    assert NodeHealth.objects.count() == 3 and health("m1").failing_since == cluster.at(0)


def test_the_task_steps_time_like_the_beat(cluster: Cluster, deploys: DeployRecorder) -> None:
    cluster.cores["m1"].stop()
    tasks.watch_nodes.apply(kwargs={"now": cluster.at(0).timestamp()})
    [text] = tasks.watch_nodes.apply(kwargs={"now": cluster.at(60).timestamp()}).get()
    assert text.endswith("m1 down -> m2")


def test_a_deployment_that_failed_for_a_passing_reason_is_tried_again(
    cluster: Cluster, deploys: DeployRecorder
) -> None:
    """A move's redeploy that timed out must not leave the node on a config the topology no longer says."""
    finished = cluster.at(0)
    timed_out = Deployment.objects.create(
        node=cluster.m1, state="failed", finished_at=finished, error="not confirmed: timed out; rolled back"
    )
    Deployment.objects.create(
        node=cluster.m2, state="failed", finished_at=finished, error="verification failed (exit 1): Error: x"
    )
    cluster.watch(30)
    assert deploys.calls == []  # not before RETRY_AFTER
    cluster.watch(61)
    # m1 again; m2's config is refused by the core: the same state would fail the same way.
    assert [(names, reason.split(":")[0]) for names, reason in deploys.calls] == [
        ({"m1"}, f"retry of deployment {timed_out.pk}")
    ]
    cluster.watch(62)
    assert len(deploys.calls) == 1  # the retry is pending: not asked twice


# -- where it shows: node pages, API, wall ---------------------------------------------------


@pytest.fixture
def moved(cluster: Cluster) -> Cluster:
    """m1 went down and m2 took its share."""
    cluster.watch(0)
    cluster.cores["m1"].stop()
    cluster.watch(10)
    cluster.watch(70)
    return cluster


def page(user: User | None, url: str) -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url)


@pytest.mark.parametrize("who", ["staff", "owner"])
def test_node_pages_show_health_share_and_moves(
    moved: Cluster, request: pytest.FixtureRequest, who: str
) -> None:
    user = request.getfixturevalue(who)
    detail = page(user, "/registry/nodes/m2/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "active master: checks what no poller checks" in text
    assert "1 hosts, 1 services" in text  # core1 and its Ping
    assert "m1 has not answered since" in text and "<td>m2</td>" in text
    down = page(user, "/registry/nodes/m1/").content.decode()
    assert 'badge text-bg-danger">down</span> since' in down and "standby master" in down
    listing = page(user, "/registry/nodes/").content.decode()
    assert listing.count('text-bg-danger">down</span>') == 1 and "active master" in listing


def test_node_pages_need_a_login(moved: Cluster) -> None:
    response = page(None, "/registry/nodes/m1/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("who, status", [("staff", 200), ("owner", 200), (None, 401)])
def test_moves_endpoint_reads_per_node_rights(
    moved: Cluster, api_client_for: Any, request: pytest.FixtureRequest, who: str | None, status: int
) -> None:
    user = request.getfixturevalue(who) if who else None
    response = api_client_for(user).get("/api/v1/registry/nodes/m1/moves/")
    assert response.status_code == status
    if status == 200:
        [move] = response.json()["results"]
        assert (move["node"], move["kind"], move["taken_by"]) == ("m1", "down", "m2")
        assert move["window_end"] is None and len(move["deployments"]) == 2
        assert move["reason"].startswith("m1 has not answered since")
        # The node that took the share lists the move too.
        taken = api_client_for(user).get("/api/v1/registry/nodes/m2/moves/").json()
        assert [m["node"] for m in taken["results"]] == ["m1"]
        detail = api_client_for(user).get("/api/v1/registry/nodes/m2/").json()
        assert detail["cluster"]["active_master"] and detail["cluster"]["services_checked"] == 1
        assert not api_client_for(user).get("/api/v1/registry/nodes/m1/").json()["cluster"]["healthy"]


def test_moves_endpoint_is_read_only_and_strict(moved: Cluster, api_client_for: Any, staff: User) -> None:
    api = api_client_for(staff)
    assert api.post("/api/v1/registry/nodes/m1/moves/", {}, format="json").status_code == 405
    bad = api.get("/api/v1/registry/nodes/m1/moves/?kind=down")
    assert bad.status_code == 400 and "kind" in bad.json()
    assert api.get("/api/v1/registry/nodes/nope/moves/").status_code == 404


def test_the_wall_node_strip_shows_a_down_node_and_who_took_its_share(
    moved: Cluster,
    settings: Settings,
    owner: User,
    fresh_clients: None,  # noqa: F811
) -> None:
    settings.REDIS_URL = ""  # the snapshot is computed on request
    snapshot = overview.compute()
    nodes = {n["name"]: n for n in overview.wall_payload(snapshot)["nodes"]}
    assert nodes["m1"]["cluster"]["healthy"] is False and nodes["m1"]["cluster"]["taken_by"] == "m2"
    assert nodes["m1"]["cluster"]["since"] == moved.at(70).timestamp()
    assert nodes["m2"]["cluster"] == {
        "healthy": True,
        "since": nodes["m2"]["cluster"]["since"],
        "taken_by": "",
    }
