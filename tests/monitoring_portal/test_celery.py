"""Celery: eager without a broker; a real worker round-trips a task through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from monitoring_portal.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


def test_no_broker_means_tasks_run_inline() -> None:
    assert settings.CELERY_BROKER_URL == ""
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    result = ping.delay("inline")
    assert result.successful()
    assert result.get(timeout=1)["payload"] == "inline"


def test_celery_app_uses_json_only() -> None:
    from monitoring_portal.celery import app

    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]


@pytest.mark.timeout(120)
def test_real_worker_processes_a_task_through_redis(redis_url: str, tmp_path: Path) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CELERY_BROKER_URL": redis_url, "CELERY_RESULT_BACKEND": redis_url}
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "monitoring_portal", "worker", "--pool", "solo",
             "--concurrency", "1", "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    client = Celery(broker=redis_url, backend=redis_url, set_as_current=False)
    try:
        payload = uuid.uuid4().hex
        result = client.send_task("monitoring_portal.tasks.ping", args=[payload], queue=queue)
        # .get() polls Redis with a deadline: the worker may still be booting.
        answer = result.get(timeout=90)
        assert answer["payload"] == payload
        assert worker.poll() is None
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        client.close()
    assert "monitoring_portal.tasks.ping" in log.read_text(), log.read_text()[-2000:]
