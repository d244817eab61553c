"""The portal's own metrics on /metrics: they move when deployments, decisions, leases and queues do."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings as SettingsWrapper

from monitoring_portal import counters
from preferences import history
from preferences.tasks import publish_snapshot
from registry import deploy
from registry.models import Deployment, Host, HostUse, NaemonNode, NodeHealth
from registry.tasks import retire_expired_hosts

# The registry's real-core fixtures, used as they are (not copied): a running Nagios 4 and its node.
from tests.registry.conftest import basics, core_node, nagios_core  # noqa: F401

pytestmark = pytest.mark.django_db

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(settings: SettingsWrapper) -> Samples:
    """Every sample /metrics serves: (name, labels) -> value."""
    settings.METRICS_PUBLIC = True
    response = Client().get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(autouse=True)
def fresh_counters() -> None:
    counters.forget_local()  # without Redis the counters live in this process


def add_host(name: str, basics: dict[str, Any], **fields: Any) -> Host:  # noqa: F811
    host = Host.objects.create(name=name, address="127.0.0.1", **fields)
    HostUse.objects.create(host=host, template=basics["host_template"])
    return host


@pytest.mark.services
@pytest.mark.timeout(120)
def test_a_real_deployment_moves_the_deploy_metrics(
    settings: SettingsWrapper,
    core_node: NaemonNode,  # noqa: F811
    basics: dict[str, Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 20.0)
    before = scrape(settings)
    add_host("web1", basics)
    Deployment.objects.create(node=core_node)
    deploy.deploy(core_node.pk)
    assert Deployment.objects.get().state == "confirmed"
    after = scrape(settings)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("portal_deployments_finished_total", node="core", state="confirmed") == 1
    assert value(after, "portal_deployments", node="core", state="confirmed") == 1
    for phase in ("render", "write", "verify", "reload", "confirm"):
        assert moved("portal_deploy_phase_seconds_count", node="core", phase=phase) == 1, phase
        assert moved("portal_deploy_phase_seconds_bucket", node="core", phase=phase, le="+Inf") == 1
    # Confirming waits for the core to restart and list the host: it takes a measurable time.
    assert moved("portal_deploy_phase_seconds_sum", node="core", phase="confirm") > 0
    assert moved("portal_deploy_reloads_total", node="core") == 1
    assert value(after, "portal_node_last_deployment_failed", node="core") == 0

    core_node.verify_command = "/bin/sh -c 'echo Error: refused; exit 1' {main_config}"
    core_node.save()
    add_host("web2", basics)
    Deployment.objects.create(node=core_node)
    deploy.deploy(core_node.pk)
    failed = scrape(settings)
    assert (
        value(failed, "portal_deploy_verify_failures_total", node="core")
        - value(after, "portal_deploy_verify_failures_total", node="core")
        == 1
    )
    assert (
        value(failed, "portal_deployments_finished_total", node="core", state="failed")
        - value(after, "portal_deployments_finished_total", node="core", state="failed")
        == 1
    )
    assert value(failed, "portal_node_last_deployment_failed", node="core") == 1
    assert value(failed, "portal_deploy_reloads_total", node="core") == value(
        after, "portal_deploy_reloads_total", node="core"
    )  # a refused config is never reloaded


def decision_line(when: datetime, contact: str, decision: str) -> bytes:
    record = {
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "contact": contact, "channel": "email", "type": "PROBLEM", "host": "web1", "service": "HTTP",
        "state": "CRITICAL", "id": "", "decision": decision, "rule": None, "reason": "test", "duration_ms": 0.1,
    }  # fmt: skip
    return (json.dumps(record) + "\n").encode()


def test_collected_notify_decisions_are_counted_by_node_and_decision(settings: SettingsWrapper) -> None:
    node = NaemonNode.objects.create(name="n1")
    now = datetime.now(UTC)
    lines = [decision_line(now - timedelta(minutes=m), "alice", "suppress") for m in (1, 2, 3)]
    lines += [decision_line(now, "bob", "notify"), decision_line(now - timedelta(hours=2), "bob", "notify")]
    assert value(scrape(settings), "portal_notify_decisions_last_hour", node="n1", decision="suppress") == 0
    history.store_lines(node, lines, history.Generations(None))
    samples = scrape(settings)
    assert value(samples, "portal_notify_decisions_last_hour", node="n1", decision="suppress") == 3
    # The decision two hours old is outside the window.
    assert value(samples, "portal_notify_decisions_last_hour", node="n1", decision="notify") == 1


def test_nodes_down_and_snapshot_age(settings: SettingsWrapper, tmp_path: Path) -> None:
    up = NaemonNode.objects.create(name="up", notify_dir=str(tmp_path / "up"))
    down = NaemonNode.objects.create(name="down", notify_dir=str(tmp_path / "down"))
    NodeHealth.objects.create(node=down, healthy=False, since=timezone.now())
    NodeHealth.objects.create(node=up, healthy=True, since=timezone.now())
    samples = scrape(settings)
    assert value(samples, "portal_node_up", node="up") == 1
    assert value(samples, "portal_node_up", node="down") == 0
    # Never published: infinitely old, so the "snapshot stale" alert fires for it.
    assert value(samples, "portal_notify_snapshot_age_seconds", node="up") == float("inf")
    publish_snapshot(up.pk)
    assert 0 <= value(scrape(settings), "portal_notify_snapshot_age_seconds", node="up") < 60


def test_drift_is_served_per_node(settings: SettingsWrapper, tmp_path: Path) -> None:
    """The "config drift" alert fires on portal_node_drift > 0: a drifted node must show it."""
    calm = NaemonNode.objects.create(name="calm", notify_dir=str(tmp_path / "calm"))
    edited = NaemonNode.objects.create(name="edited", notify_dir=str(tmp_path / "edited"))
    NodeHealth.objects.create(node=calm, healthy=True, since=timezone.now())
    NodeHealth.objects.create(
        node=edited,
        healthy=True,
        since=timezone.now(),
        drift=[{"kind": "config", "detail": "hosts.cfg changed"}, {"kind": "core", "detail": "restarted"}],
        drift_since=timezone.now(),
    )
    samples = scrape(settings)
    assert value(samples, "portal_node_drift", node="calm") == 0
    assert value(samples, "portal_node_drift", node="edited") == 2


def test_lease_retirements_are_counted(settings: SettingsWrapper) -> None:
    before = value(scrape(settings), "portal_lease_retirements_total")
    for name in ("ci-1", "ci-2"):
        Host.objects.create(name=name, expires_at=timezone.now() - timedelta(minutes=1))
    assert sorted(retire_expired_hosts()) == ["ci-1", "ci-2"]
    assert value(scrape(settings), "portal_lease_retirements_total") - before == 2


@pytest.mark.services
def test_celery_queue_lengths_come_from_the_broker(settings: SettingsWrapper, redis_url: str) -> None:
    name = f"q{uuid.uuid4().hex[:8]}"
    NaemonNode.objects.create(name=name)
    settings.CELERY_BROKER_URL = redis_url
    broker = redis.Redis.from_url(redis_url)
    try:
        broker.rpush(f"naemon.{name}", "a", "b", "c")
        samples = scrape(settings)
        assert value(samples, "portal_celery_queue_length", queue=f"naemon.{name}") == 3
        assert ("portal_celery_queue_length", frozenset({("queue", "celery")})) in samples
    finally:
        broker.delete(f"naemon.{name}")
        broker.close()


def test_a_failing_source_leaves_the_rest_of_the_scrape(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    NaemonNode.objects.create(name="n1")

    def broken() -> Any:
        raise redis.exceptions.ConnectionError("redis is down")

    monkeypatch.setattr(counters, "counters", broken)
    samples = scrape(settings)
    assert value(samples, "portal_node_up", node="n1") == 1
    assert not any(name.startswith("portal_deployments_finished") for name, _ in samples)
