"""Fixtures of the fault tests: a real Celery worker on a node's queue that a test can park and kill.

The worker is a separate process (``celery worker --pool solo``) in its own session, connected to
the test database (committed for real: ``transactional_db``) and the test Redis, so SIGKILL hits
exactly what a crashed node worker would lose. ``PORTAL_FAULT_PAUSE_AT`` / ``PORTAL_FAULT_FIFO``
(registry/deploy.py ``pause_point``) park its deploy at a phase until the test kills it.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.registry.conftest import basics, nagios_core  # noqa: F401  (the registry's own fixtures)
from tests.services.nagios import wait_for

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the fault tests share the database with a worker process: PostgreSQL only")
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Worker:
    """A Celery worker on one queue; ``start(pause_at=...)`` parks its deploys at that phase."""

    def __init__(self, queue: str, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.queue, self.env, self.log = queue, env, log
        # More than one slot (threads): two messages of one task can run at the same moment.
        self.pool = ["--pool", "solo"]
        if concurrency > 1:
            self.pool = ["--pool", "threads", "--concurrency", str(concurrency)]
        self.fifo = log.with_suffix(".fifo")
        self.proc: subprocess.Popen[bytes] | None = None
        self.parked_fd: int | None = None

    def start(self, pause_at: str = "") -> None:
        env = dict(self.env)
        if pause_at:
            if not self.fifo.exists():
                os.mkfifo(self.fifo)
            env.update(PORTAL_FAULT_PAUSE_AT=pause_at, PORTAL_FAULT_FIFO=str(self.fifo))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "monitoring_portal", "worker", *self.pool,
                 "-Q", self.queue, "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "--loglevel", "INFO"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def _reader_waiting(self) -> bool:
        # Opening a FIFO for writing without blocking fails (ENXIO) until a reader has it open:
        # success means the worker is blocked in pause_point, at the phase.
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        try:
            self.parked_fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            return False
        return True

    def wait_parked(self, timeout: float = 90.0) -> None:
        """Wait until the worker's deploy is parked at its phase."""
        wait_for(f"the worker to park its deploy ({self.log})", self._reader_waiting, timeout)

    def kill(self) -> None:
        """SIGKILL the worker's whole session, as a crash or the OOM killer would, and reap it."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        if self.parked_fd is not None:
            os.close(self.parked_fd)
            self.parked_fd = None

    def stop(self) -> None:
        """Stop it warmly (SIGTERM), else kill it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def worker_env(transactional_db: None, redis_url: str) -> dict[str, str]:
    """The environment of a node worker: the test database and the test Redis as broker and lock service."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": "",
        "REDIS_URL": redis_url,
    }
