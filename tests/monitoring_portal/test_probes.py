"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_without_database() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_redis(settings, redis_url: str) -> None:
    settings.REDIS_URL = redis_url
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down_and_logs_why(settings, caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    with caplog.at_level(logging.WARNING, logger="monitoring_portal.views"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "failing": ["redis"],
        "checks": {"database": "ok", "redis": "error"},
    }
    # The anonymous caller learns which part fails, not where it lives or what the driver said.
    assert str(port) not in response.content.decode()
    assert "Error" not in response.content.decode()
    record = next(r for r in caplog.records if "redis is not ready" in r.getMessage())
    assert record.exc_info is not None and str(port) in str(record.exc_info[1])


def test_readyz_names_the_database_when_it_is_down_and_logs_why() -> None:
    """A portal process whose database is a closed port: 503 naming "database", the detail in its log."""
    port = closed_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DEBUG="false",
        SECRET_KEY="readyz-test-key-5f0c1e7a9b3d2c4e6f8a0b1c3d5e7f9a2b4c6d8e0f1a3b5c",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=f"postgres://portal:s3cret-password@127.0.0.1:{port}/portal",
        REDIS_URL="",
        LOG_FORMAT="text",
    )
    code = (
        "from django.test import Client; r = Client().get('/readyz'); "
        "print(r.status_code); print(r.content.decode())"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-2:]
    assert status == "503"
    assert json.loads(body) == {"status": "fail", "failing": ["database"], "checks": {"database": "error"}}
    for secret in [str(port), "s3cret", "127.0.0.1", "OperationalError"]:
        assert secret not in body, secret
    assert "readyz: database is not ready" in result.stderr
    assert "OperationalError" in result.stderr and str(port) in result.stderr


@pytest.mark.django_db
def test_readyz_without_redis_configured_checks_database_only(settings) -> None:
    settings.REDIS_URL = ""
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


@pytest.mark.django_db
def test_metrics_are_prometheus_text(settings) -> None:
    settings.METRICS_TOKEN = "prometheus-scrape-secret"
    client = Client()
    client.get("/healthz")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer prometheus-scrape-secret")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE django_http_requests_total_by_view_transport_method_total counter" in text
    assert 'view="healthz"' in text
