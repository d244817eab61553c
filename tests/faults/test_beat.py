"""Periodic work runs one at a time: sent twice at once, and across a beat killed (SIGKILL) and restarted.

The periodic task under test is ``retire_expired_hosts``. The test holds an EXCLUSIVE lock on the
hosts table from a connection of its own, so every run of the task blocks in PostgreSQL at its
``SELECT ... FOR UPDATE``: the number of backends waiting there is the number of runs at once,
seen from outside the product (pg_stat_activity). The worker has two slots, so without the
singleton lock (monitoring_portal/singleton.py) two runs would be waiting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitoring_portal.singleton import KEY_PREFIX
from registry.models import Host
from tests.faults.conftest import ROOT, Worker, database_url
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(180)]

TASK = "registry.tasks.retire_expired_hosts"
SKIPPED = f"{KEY_PREFIX}{TASK}: skipped"
# The lease check every second; every other periodic entry out of the way for the test's length.
BEAT_ENV = {
    "LEASE_CHECK_SECONDS": "1",
    "WALL_REFRESH_SECONDS": "3600",
    "CLUSTER_WATCH_SECONDS": "3600",
    "DRIFT_CHECK_SECONDS": "3600",
    "SNAPSHOT_REFRESH_SECONDS": "3600",
}


class Beat:
    """A ``celery beat`` process with its schedule file, in its own session so that SIGKILL hits it all."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.schedule, self.log = env, workdir / "beat-schedule", workdir / "beat.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "monitoring_portal", "beat",
                 "-s", str(self.schedule), "--loglevel", "INFO"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL, as a lost pod or the OOM killer would: no shutdown, no schedule saved."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def periodic(worker_env: dict[str, str], redis_url: str, tmp_path: Path) -> Iterator[tuple[Worker, Beat]]:
    """A worker with two slots on the default queue and a beat, both stopped and cleaned up afterwards."""
    env = {**worker_env, **BEAT_ENV}
    worker = Worker("celery", env, tmp_path / "worker.log", concurrency=2)
    beat = Beat(env, tmp_path)
    try:
        yield worker, beat
    finally:
        beat.kill()
        worker.stop()  # before transactional_db flushes the tables under it
        # Nothing of this test may reach the next one: queued ticks, a lock of a run cut short.
        Celery(broker=redis_url, set_as_current=False).control.purge()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{KEY_PREFIX}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def hosts_table_lock(transactional_db: None) -> Iterator[Any]:
    """Hold the hosts table (EXCLUSIVE: plain reads pass, ``FOR UPDATE`` waits) until ``.rollback()``."""
    conn = psycopg2.connect(database_url())
    try:
        yield conn
    finally:
        conn.close()


def lock_hosts(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE registry_host IN EXCLUSIVE MODE")


def runs_waiting() -> int:
    """How many runs of the task wait at the hosts table right now (a fresh look each call)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            # Only the FOR UPDATE waits under EXCLUSIVE; the text is cut at 1 kB, before its FROM.
            ['SELECT "registry_host"."id"%'],
        )
        return int(cur.fetchone()[0])


def expired_host(name: str) -> Host:
    return Host.objects.create(
        name=name, address="127.0.0.1", expires_at=timezone.now() - timedelta(minutes=1)
    )


def gone(name: str) -> bool:
    return not Host.objects.filter(name=name).exists()


def skips(worker: Worker) -> int:
    return worker.log.read_text(errors="replace").count(SKIPPED)


def one_run_at_a_time(worker: Worker, skipped_before: int) -> bool:
    """True once one run waits and a later one was skipped; fails as soon as two runs wait at once."""
    waiting = runs_waiting()
    assert waiting <= 1, f"{waiting} runs of {TASK} at once; the worker's log:\n{worker.tail()}"
    return waiting == 1 and skips(worker) > skipped_before


def watch(what: str, check: Any, worker: Worker, timeout: float = 60) -> None:
    """``wait_for`` that shows the worker's log when it times out."""
    try:
        wait_for(what, check, timeout, 0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {runs_waiting()} waiting; the worker's log:\n{worker.tail()}") from None


def test_sent_twice_at_once_runs_once_at_a_time(
    periodic: tuple[Worker, Beat], hosts_table_lock: Any, redis_url: str
) -> None:
    worker, _ = periodic
    expired_host("lease-1")
    worker.start()
    client = Celery(broker=redis_url, set_as_current=False)
    try:
        lock_hosts(hosts_table_lock)
        client.send_task(TASK)
        client.send_task(TASK)
        watch("one run waiting, the other skipped", lambda: one_run_at_a_time(worker, 0), worker)
        hosts_table_lock.rollback()  # the waiting run goes on
        wait_for("the lease to be retired", lambda: gone("lease-1"), 30, 0.1)

        # The lock was given back when the run ended: the next message runs.
        expired_host("lease-2")
        client.send_task(TASK)
        wait_for("the next run to retire its lease", lambda: gone("lease-2"), 30, 0.1)
    finally:
        client.close()
    assert skips(worker) == 1


def test_beat_killed_and_restarted_goes_on_one_run_at_a_time(
    periodic: tuple[Worker, Beat], hosts_table_lock: Any
) -> None:
    worker, beat = periodic
    expired_host("before-kill")
    worker.start()
    beat.start()
    wait_for("beat's lease check to run", lambda: gone("before-kill"), 60, 0.2)

    # A run held up in the database while beat keeps sending: one waits, the later ticks are skipped.
    expired_host("held")
    lock_hosts(hosts_table_lock)
    watch("a held run and a skipped tick", lambda: one_run_at_a_time(worker, 0), worker)
    beat.kill()
    skipped = skips(worker)

    # The restarted beat goes on sending (new skips), and still never more than one run at once.
    beat.start()
    watch("the restarted beat's ticks", lambda: one_run_at_a_time(worker, skipped), worker)
    hosts_table_lock.rollback()
    wait_for("the held run to finish", lambda: gone("held"), 30, 0.1)
    expired_host("after-restart")
    wait_for("the next tick after the restart", lambda: gone("after-restart"), 30, 0.2)
    assert runs_waiting() == 0


def test_every_periodic_task_is_a_singleton_locked_for_its_time_limit() -> None:
    # A new beat entry without the lock, or a lock shorter than the run it guards, fails here.
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        module, _, name = str(entry["task"]).rpartition(".")
        task = getattr(import_module(module), name)
        ttl = getattr(task.run, "singleton_ttl", None)
        assert ttl is not None and ttl >= task.time_limit, (entry["task"], ttl, task.time_limit)
