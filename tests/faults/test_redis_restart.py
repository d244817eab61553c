"""Redis restarted during a burst of registrations: no 500, nothing lost, the node's core converges.

The portal (gunicorn), a node's worker and beat share a Redis of this test's own (broker, deploy
lock, wait slots, counters), which it stops and starts again on the same port. It keeps no data
(no RDB, no AOF), as a Redis pod that restarts: every queued deploy message is lost with it. The
database stays up, so every write is stored; what must hold is that each one is answered as
stored (2xx, never a 500) and that the node ends running every host without a person's help:
no new write, no worker restart.
"""

from __future__ import annotations

import http.client
import json
import queue
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User

from monitoring_portal.models import APIToken
from registry.choices import FINAL_DEPLOYMENT_STATES
from registry.models import Deployment, Host, NaemonNode
from tests.faults.conftest import Worker
from tests.faults.test_beat import BEAT_ENV, Beat
from tests.faults.test_database_down import BODY, portal, put, relay  # noqa: F401  (the live portal's fixtures)
from tests.services.nagios import NagiosCore, wait_for
from tests.services.required import require_service

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(180)]

BURST = 200
WRITERS = 8
STOP_AT = 50  # answers before Redis goes away
DOWN_FOR = 50  # answers while it is away; the rest of the burst goes to the restarted Redis
RESEND_AFTER = 5  # DEPLOY_RESEND_AFTER of the worker: short, so that the test stays short
NODE_ENV = {
    **BEAT_ENV,
    "LEASE_CHECK_SECONDS": "3600",
    "CLUSTER_WATCH_SECONDS": "2",
    "DEPLOY_RESEND_AFTER": str(RESEND_AFTER),
}


class PrivateRedis:
    """A redis-server of this test that keeps nothing on disk; ``stop()`` and ``start()`` again on one port."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
        )  # fmt: skip
        wait_for("the private Redis to answer", self._answers, 10, 0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM (nothing to save) and wait: its data, the queued messages with it, are gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require_service("Redis", shutil.which("redis-server") is not None, "redis-server is missing")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def worker_env(worker_env: dict[str, str], private_redis: PrivateRedis) -> dict[str, str]:
    """The fault tests' environment on the private Redis: the portal, the worker and beat all use it."""
    return {**worker_env, **NODE_ENV, "CELERY_BROKER_URL": private_redis.url, "REDIS_URL": private_redis.url}


@pytest.fixture
def node(worker_env: dict[str, str], nagios_core: NagiosCore) -> NaemonNode:
    return NaemonNode.objects.create(
        name=f"redis-{uuid.uuid4().hex[:8]}", role="master", **nagios_core.node_fields()
    )


@pytest.fixture
def cluster(node: NaemonNode, worker_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Worker, Beat]]:
    """The node's worker (its queue and the periodic tasks' one), running, and beat, for the test to start."""
    worker = Worker(f"{node.queue},celery", worker_env, tmp_path / "worker.log", concurrency=2)
    beat = Beat(worker_env, tmp_path)
    worker.start()
    try:
        yield worker, beat
    finally:
        beat.kill()
        worker.stop()  # before transactional_db flushes the tables under it


@pytest.fixture
def token(transactional_db: None) -> str:
    staff = User.objects.create_user("automation", is_staff=True)
    return APIToken.issue(staff, "faults")[1]


def converged(node: NaemonNode, core: NagiosCore, names: set[str]) -> Deployment | None:
    """The node's newest deployment once nothing is pending or running and its core runs every one of ``names``."""
    if Deployment.objects.filter(node=node).exclude(state__in=FINAL_DEPLOYMENT_STATES).exists():
        return None
    if not names <= core.status().hosts:
        return None
    return Deployment.objects.filter(node=node).order_by("-pk").first()


def wait_converged(node: NaemonNode, core: NagiosCore, names: set[str], worker: Worker) -> Deployment:
    def supervised() -> Deployment | None:
        # kombu 5.7 may end the worker when Redis vanishes while it holds messages
        # (celery/kombu#582): in production its supervisor (Kubernetes, systemd, compose's
        # restart policy) starts it again, and resume_nodes picks its work up. Do the same.
        if worker.proc is not None and worker.proc.poll() is not None:
            worker.start()
        return converged(node, core, names)

    try:
        return wait_for("every host on the node's running core", supervised, 60, 0.5)
    except AssertionError as exc:
        missing = sorted(names - core.status().hosts)[:10]
        open_ = list(Deployment.objects.filter(node=node).exclude(state__in=FINAL_DEPLOYMENT_STATES).values())
        raise AssertionError(f"{exc}; missing {missing}; open {open_}; worker:\n{worker.tail()}") from None


def put_waiting(port: int, token: str, name: str, wait: int) -> tuple[int, dict[str, Any]]:
    """PUT one host with ``?wait=``: the answer's status and JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("PUT", f"/api/v1/registry/hosts/{name}/?wait={wait}", json.dumps(BODY), headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_redis_restarted_mid_burst_loses_no_registration(
    private_redis: PrivateRedis,
    portal: int,  # noqa: F811  (the fixture imported above)
    cluster: tuple[Worker, Beat],
    node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    token: str,
) -> None:
    worker, beat = cluster
    beat.start()
    names: queue.Queue[str] = queue.Queue()
    for index in range(BURST):
        names.put(f"burst-{index:03d}")
    answers: list[tuple[str, int, dict[str, Any], str | None, bool]] = []
    redis_down = threading.Event()
    lock = threading.Condition()

    def writer() -> None:
        while True:
            try:
                name = names.get_nowait()
            except queue.Empty:
                return
            down_before = redis_down.is_set()
            status, body, retry_after = put(portal, token, name)
            with lock:
                # Answered while Redis was away from start to end: its commit found no broker.
                answers.append((name, status, body, retry_after, down_before and redis_down.is_set()))
                lock.notify_all()

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        with lock:
            assert lock.wait_for(lambda: len(answers) >= STOP_AT, 60), "the burst did not start"
        private_redis.stop()
        redis_down.set()
        with lock:
            assert lock.wait_for(lambda: len(answers) >= STOP_AT + DOWN_FOR, 90), answers[-3:]
        private_redis.start()
        redis_down.clear()
    finally:
        for thread in threads:
            thread.join(60)

    # Every answer says what happened: stored (2xx) or, at worst, refused with a retry time.
    assert len(answers) == BURST
    bad = [
        (name, status, body) for name, status, body, retry, _ in answers if status >= 300 and status != 503
    ]
    assert not bad, bad[:5]
    assert all(retry for _, status, _, retry, _ in answers if status == 503)
    during = [(name, status, body) for name, status, body, _, down in answers if down]
    assert during, "no write was answered while Redis was away"
    # Stored, its deployment to come: what the client is told while the broker is away.
    assert all(status == 202 and body["deployments"] for _, status, body in during), during[:3]

    stored = {name for name, status, _, _, _ in answers if 200 <= status < 300}
    assert stored <= set(Host.objects.filter(name__startswith="burst-").values_list("name", flat=True))

    final = wait_converged(node, nagios_core, stored, worker)
    assert final.state == "confirmed", (final.state, final.error)


def test_deploy_lost_with_redis_is_sent_again(
    private_redis: PrivateRedis,
    portal: int,  # noqa: F811  (the fixture imported above)
    cluster: tuple[Worker, Beat],
    node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    token: str,
) -> None:
    worker, beat = cluster
    assert put(portal, token, "before")[0] == 202
    wait_converged(node, nagios_core, {"before"}, worker)
    # Redis goes away while the worker holds no message: kombu 5.7 may crash the worker when it
    # loses the broker holding one (reported to the lead); here only the lost message is tested.
    broker = redis.Redis.from_url(private_redis.url)
    wait_for("the worker to hold no message", lambda: broker.hlen("unacked") == 0, 40, 0.2)
    broker.close()

    private_redis.stop()
    # A client waiting for its confirmation while Redis is away gets its answer when its wait
    # ends: stored, the deployment pending (no wait slot in Redis: the process's own bound).
    status, body = put_waiting(portal, token, "lost", wait=2)
    assert status == 202, body
    assert [d["state"] for d in body["deployment_results"]] == ["pending"]
    private_redis.start()
    beat.start()  # the periodic work, from now on (its ticks kept out of the outage, as above)

    # No write after it and no worker restart: only the cluster watch can bring the lost deploy.
    final = wait_converged(node, nagios_core, {"before", "lost"}, worker)
    assert final.state == "confirmed", (final.state, final.error)
