"""A node's deploy runs are paced: a run starts DEPLOY_MIN_INTERVAL after the previous one ended.

In a burst of writes (machines registering by the hundred) the writes that arrive meanwhile
are claimed together by the next run: one verify and one reload for all of them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from registry import deploy
from registry.choices import DeploymentState
from registry.models import Deployment, NaemonNode

INTERVAL = 2


@pytest.fixture
def node(db: None, tmp_path: Path, settings: Settings) -> NaemonNode:
    settings.DEPLOY_MIN_INTERVAL = INTERVAL
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as with a worker: pacing is for queued runs
    settings.REDIS_URL = ""  # the file lock: this test is about the wait, not the lock
    main = tmp_path / "naemon.cfg"
    main.write_text(f"cfg_dir={tmp_path}/portal.d\n")
    return NaemonNode.objects.create(
        name="n1",
        config_dir=str(tmp_path / "portal.d"),
        main_config=str(main),
        verify_command="/bin/grep -q cfg_dir= {main_config}",  # a plain program: no core needed here
        reload_method="none",
    )


def _run(node: NaemonNode, *pending: Deployment) -> Deployment:
    ran = deploy.deploy(node.pk)
    assert ran is not None
    for deployment in pending:
        deployment.refresh_from_db()
    return Deployment.objects.get(pk=ran)


def test_a_run_right_after_another_waits_and_brings_every_write_of_the_burst(node: NaemonNode) -> None:
    first = _run(node, Deployment.objects.create(node=node, triggered_by="write 1"))
    assert first.state == DeploymentState.CONFIRMED and first.finished_at is not None
    burst = [Deployment.objects.create(node=node, triggered_by=f"write {i}") for i in range(2, 6)]
    second = _run(node, *burst)
    assert second.started_at is not None
    assert second.started_at - first.finished_at >= timedelta(seconds=INTERVAL)
    # One run for the four writes: the others are covered by it and end with it.
    assert {d.covered_by_id for d in burst if d.pk != second.pk} == {second.pk}
    # Nothing changed in the registry: the run ends "skipped" (no reload), and so do all it covered.
    assert {d.state for d in burst} == {DeploymentState.SKIPPED}


def test_a_change_after_a_quiet_time_is_not_delayed(node: NaemonNode) -> None:
    first = _run(node, Deployment.objects.create(node=node, triggered_by="write 1"))
    assert first.finished_at is not None
    Deployment.objects.filter(pk=first.pk).update(finished_at=first.finished_at - timedelta(seconds=60))
    second = _run(node, Deployment.objects.create(node=node, triggered_by="write 2"))
    assert second.started_at is not None and first.finished_at is not None
    assert second.started_at - first.finished_at < timedelta(seconds=INTERVAL)


def test_no_pacing_when_tasks_run_inline(node: NaemonNode, settings: Settings) -> None:
    """`make run` has no worker: the request runs the deploy, and must not sit out the interval."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    first = _run(node, Deployment.objects.create(node=node, triggered_by="write 1"))
    second = _run(node, Deployment.objects.create(node=node, triggered_by="write 2"))
    assert second.started_at is not None and first.finished_at is not None
    assert second.started_at - first.finished_at < timedelta(seconds=INTERVAL)
