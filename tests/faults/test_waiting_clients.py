"""Twenty clients each waiting for their confirmation (``?wait=``): all confirmed, with few reloads.

Automation (an Ansible play over twenty machines) PUTs each host with ``?wait=`` and goes on only
once its deployment is confirmed. Through the real portal (gunicorn), a node's worker and a running
nagios4: every client must be answered with its own confirmation, and the waiting must not defeat
deploy coalescing (a run started while others wait covers them: a handful of reloads, not one per
client). The wait bound is raised as a portal serving such clients is configured (gthread workers).
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from monitoring_portal.models import APIToken
from registry.models import NaemonNode
from tests.faults.conftest import Worker
from tests.faults.test_database_down import BODY, portal, relay  # noqa: F401  (the live portal's fixtures)
from tests.services.nagios import NagiosCore

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(240)]

CLIENTS = 20


@pytest.fixture
def worker_env(worker_env: dict[str, str]) -> dict[str, str]:
    """Every client may wait at once (the default bound, 2, suits sync workers)."""
    return {**worker_env, "API_WAIT_MAX_TOTAL": str(CLIENTS), "API_WAIT_MAX_PER_USER": str(CLIENTS)}


@pytest.fixture
def node(worker_env: dict[str, str], nagios_core: NagiosCore, tmp_path: Path) -> Iterator[NaemonNode]:
    """A node on the running core, with its worker."""
    node = NaemonNode.objects.create(
        name=f"wait-{uuid.uuid4().hex[:8]}", role="master", **nagios_core.node_fields()
    )
    worker = Worker(node.queue, worker_env, tmp_path / "worker.log")
    worker.start()
    try:
        yield node
    finally:
        worker.stop()  # before transactional_db flushes the tables under it


def put_waiting(port: int, token: str, name: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=150)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("PUT", f"/api/v1/registry/hosts/{name}/?wait=90", json.dumps(BODY), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_waiting_clients_are_all_answered_with_their_confirmation_by_few_reloads(
    portal: int,  # noqa: F811  (the fixture imported above)
    node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
) -> None:
    token = APIToken.issue(User.objects.create_user("automation", is_staff=True), "play")[1]
    restarts = nagios_core.restarts()
    names = [f"waiter-{i:02d}" for i in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = dict(
            zip(names, pool.map(lambda name: put_waiting(portal, token, name), names), strict=True)
        )

    # "skipped" is a confirmation too (the API's and the Ansible module's): a run that had already
    # taken the client's committed write into its render confirmed it, so the client's own
    # deployment found the live config identical. The core listing every host below proves it.
    unconfirmed = {
        name: (code, [d["state"] for d in body.get("deployment_results", [])])
        for name, (code, body) in answers.items()
        if code not in (200, 201)
        or not {d["state"] for d in body["deployment_results"]} <= {"confirmed", "skipped"}
    }
    assert not unconfirmed, unconfirmed
    states = [d["state"] for _, body in answers.values() for d in body["deployment_results"]]
    assert "confirmed" in states
    assert set(names) <= nagios_core.status().hosts
    # Coalescing: a run started while others wait covers them (the portal serves 8 at a time).
    reloads = nagios_core.restarts() - restarts
    assert 1 <= reloads <= CLIENTS // 2, reloads
