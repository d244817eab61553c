"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import socket

import pytest
from django.test import Client


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


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_down(settings) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_without_redis_configured_checks_database_only(settings) -> None:
    settings.REDIS_URL = ""
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


@pytest.mark.django_db
def test_metrics_are_prometheus_text() -> None:
    client = Client()
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE django_http_requests_total_by_view_transport_method_total counter" in text
    assert 'view="healthz"' in text
