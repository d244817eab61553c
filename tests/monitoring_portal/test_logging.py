"""JSON logs: a request id on every line of a request, echoed to the caller, carried into Celery tasks."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from pythonjsonlogger.json import JsonFormatter

from monitoring_portal.tracing import ContextFilter, RequestIdMiddleware
from registry.models import Deployment, NaemonNode
from registry.tasks import deploy_node

# The registry's fixture of what every valid config needs, used as it is (not copied).
from tests.registry.conftest import basics  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the root logger writes, formatted and filtered as ``settings.LOGGING`` says."""
    logging_config: dict[str, Any] = settings.LOGGING
    options = {k: v for k, v in logging_config["formatters"]["json"].items() if k != "()"}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**options))
    assert logging_config["handlers"]["console"]["filters"] == ["context"]
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.django_db
def test_the_callers_request_id_is_echoed_and_on_the_log_line(json_lines: Any) -> None:
    response = Client().get("/no-such-page/", headers={"X-Request-ID": "deploy-run-0042"})
    assert response.status_code == 404
    assert response["X-Request-ID"] == "deploy-run-0042"
    [line] = [line for line in json_lines() if line["message"].startswith("Not Found")]
    assert line["request_id"] == "deploy-run-0042" and line["level"] == "WARNING"


@pytest.mark.django_db
@pytest.mark.parametrize("offered", [None, "short", "x" * 129, "two words here", 'quote"injected'])
def test_a_missing_or_insane_request_id_is_replaced(offered: str | None, json_lines: Any) -> None:
    headers = {"X-Request-ID": offered} if offered is not None else {}
    response = Client().get("/no-such-page/", headers=headers)
    made = response["X-Request-ID"]
    assert made != offered and len(made) == 32 and int(made, 16) >= 0
    assert [line["request_id"] for line in json_lines() if line["message"].startswith("Not Found")] == [made]


@pytest.mark.django_db
def test_a_finished_request_leaves_no_id_behind(json_lines: Any) -> None:
    Client().get("/no-such-page/", headers={"X-Request-ID": "deploy-run-0042"})
    logging.getLogger("test").info("between requests")
    assert "request_id" not in json_lines()[-1]


@pytest.mark.django_db
def test_a_deploy_enqueued_by_a_request_logs_request_task_and_deployment(
    json_lines: Any,
    basics: dict[str, Any],  # noqa: F811
    tmp_path: Path,
) -> None:
    main = tmp_path / "naemon.cfg"
    main.write_text(f"cfg_dir={tmp_path}/portal.d\n")
    node = NaemonNode.objects.create(
        name="n1", config_dir=str(tmp_path / "portal.d"), main_config=str(main),
        verify_command="/bin/grep -q cfg_dir= {main_config}", reload_method="none",
    )  # fmt: skip
    deployment = Deployment.objects.create(node=node)
    tasks: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        tasks.append(deploy_node.delay(node.pk).id)  # eager: runs here, as without a broker
        return HttpResponse("ok")

    request = RequestFactory().get("/", headers={"X-Request-ID": "change-4711-abc"})
    # In a copy of the context: the id set for this request must not outlive it in this thread.
    contextvars.copy_context().run(RequestIdMiddleware(view), request)
    deployment.refresh_from_db()
    assert deployment.state == "confirmed"
    [line] = [line for line in json_lines() if line["message"].startswith(f"deployment {deployment.pk} ")]
    assert line["request_id"] == "change-4711-abc"
    assert line["task_id"] == tasks[0]
    assert line["deployment_id"] == deployment.pk


@pytest.mark.timeout(120)
def test_the_request_id_reaches_a_real_workers_json_log(redis_url: str, tmp_path: Path) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "monitoring_portal", "worker", "--pool", "solo",
             "--concurrency", "1", "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    client = Celery(broker=redis_url, backend=redis_url, set_as_current=False)
    try:
        sent: list[Any] = []

        def view(request: HttpRequest) -> HttpResponse:
            sent.append(client.send_task("monitoring_portal.tasks.ping", args=["traced"], queue=queue))
            return HttpResponse("ok")

        request = RequestFactory().get("/", headers={"X-Request-ID": "web-to-worker-0001"})
        contextvars.copy_context().run(RequestIdMiddleware(view), request)
        assert sent[0].get(timeout=90)["payload"] == "traced"  # polls Redis with a deadline
        deadline = time.monotonic() + 30
        while True:  # the worker writes its "succeeded" line right after storing the result
            lines = [json.loads(text) for text in log.read_text().splitlines() if text.startswith("{")]
            traced = [line for line in lines if line.get("request_id") == "web-to-worker-0001"]
            if traced or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert traced, log.read_text()[-3000:]
        assert all(line["task_id"] == sent[0].id for line in traced)
        assert any("succeeded" in line["message"] for line in traced)
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        client.close()
