"""A node's worker killed (SIGKILL) in each phase of a deploy, then restarted: the deploy converges.

The worker is parked at the phase by the product's test hook (registry/deploy.py ``pause_point``)
and killed there; the restarted worker (without the hook) must bring the node to the latest
registry state on its own: confirmed, the core running it, no stale staging left on disk.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from registry import versions
from registry.choices import FINAL_DEPLOYMENT_STATES
from registry.models import Deployment, Host, HostUse, NaemonNode, Service, ServiceUse
from tests.faults.conftest import Worker
from tests.services.nagios import NagiosCore, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(240)]


def add_host(name: str, basics: dict[str, Any]) -> None:
    host = Host.objects.create(name=name, address="127.0.0.1")
    HostUse.objects.create(host=host, template=basics["host_template"])
    service = Service.objects.create(host=host, description="Ping")
    ServiceUse.objects.create(service=service, template=basics["service_template"])


@pytest.fixture
def node(worker_env: dict[str, str], nagios_core: NagiosCore) -> NaemonNode:
    # A node name of its own per test: the killed run's unacknowledged message stays in the shared Redis.
    return NaemonNode.objects.create(
        name=f"fault-{uuid.uuid4().hex[:8]}", role="master", **nagios_core.node_fields()
    )


@pytest.fixture
def worker(node: NaemonNode, worker_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    proc = Worker(node.queue, worker_env, tmp_path / "worker.log")
    try:
        yield proc
    finally:
        proc.stop()  # before transactional_db flushes the tables under it


def settled(node: NaemonNode) -> Deployment | None:
    """The node's newest deployment once nothing is pending or running on it."""
    if Deployment.objects.filter(node=node).exclude(state__in=FINAL_DEPLOYMENT_STATES).exists():
        return None
    return Deployment.objects.filter(node=node).order_by("-pk").first()


@pytest.mark.parametrize("phase", ["staged", "swapped", "reloading"])
def test_killed_worker_restarted_converges(
    phase: str,
    node: NaemonNode,
    basics: dict[str, Any],
    worker: Worker,
    nagios_core: NagiosCore,
    redis_url: str,
) -> None:
    add_host("web1", basics)
    baseline = Deployment.objects.create(node=node, triggered_by="test")
    worker.start()
    client = Celery(broker=redis_url, set_as_current=False)
    try:
        client.send_task("registry.tasks.deploy_node", args=[node.pk], queue=node.queue)
        wait_for("the baseline deploy", lambda: settled(node), 90, 0.2)
        baseline.refresh_from_db()
        assert baseline.state == "confirmed", baseline.error
        worker.stop()

        add_host("web2", basics)
        change = Deployment.objects.create(node=node, triggered_by="test", reason="add web2")
        worker.start(pause_at=phase)
        client.send_task("registry.tasks.deploy_node", args=[node.pk], queue=node.queue)
        worker.wait_parked()
        worker.kill()
    finally:
        client.close()
    change.refresh_from_db()
    assert change.state not in FINAL_DEPLOYMENT_STATES  # cut short mid-run, as a crash leaves it

    worker.start()  # no hook: it must pick the node up by itself, with no new write or message
    try:
        final = wait_for("the node to converge after the restart", lambda: settled(node), 120, 0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the worker's log:\n{worker.tail()}") from None

    change.refresh_from_db()
    assert change.state == "failed" and "interrupted" in change.error
    assert final.pk > change.pk and final.state == "confirmed", (final.state, final.error, worker.tail())
    assert final.reason == f"resume of deployment {change.pk}"
    # The files: config_dir is the confirmed version, with both hosts; nothing staged is left over.
    live = versions.live_version(node)
    assert live is not None and live.name == str(final.pk)
    assert versions.read_manifest(live)["content_hash"] == final.content_hash
    assert {"web1", "web2"} <= set(versions.read_manifest(live)["hosts"])
    leftovers = sorted(p.name for p in versions.versions_dir(node).iterdir() if not p.name.startswith("."))
    previous = {str(baseline.pk), str(change.pk)} & set(leftovers)
    assert leftovers == sorted({str(final.pk), *previous}) and len(previous) <= 1, leftovers
    # The running core: restarted after the kill and running the new host and its service.
    status = nagios_core.status()
    assert {"web1", "web2"} <= status.hosts
    assert ("web2", "Ping") in status.services
    assert os.path.realpath(node.config_dir) == str(live.resolve())
