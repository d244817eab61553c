"""Fifty wall screens against the portal: the cores must see one refresh's queries, not fifty.

    .venv/bin/python bench/bench_wall.py [--duration 60] [--screens 50] [--refresh 2] [--poll 2]

Self-contained, everything on loopback, under var/bench/wall-<pid>/ (removed afterwards):

1. a Livestatus replay server (tests/services/replay.py) that answers every query the
   snapshot asks with plausible rows (12 host groups, 200 service problems...) and counts
   what it receives: it stands in for a Naemon core;
2. Redis from ``REDIS_URL`` if set, else a redis-server started here;
3. the portal under gunicorn (gthread) on a fresh SQLite database with one node;
4. a real Celery worker with beat, running ``refresh_status_snapshot`` every ``--refresh``
   seconds (a generated settings module adds the beat entry);
5. ``--screens`` threads, each a wall screen polling ``/wall/data/?kiosk=...`` every
   ``--poll`` seconds with a kept-alive connection, for ``--duration`` seconds.

Prints the page latency (p50/p95/p99/max), the refreshes the worker ran, and the queries
the core received, which must be refreshes x QUERIES_PER_REFRESH plus the one ``log``
query of the 24-hour tops (recomputed hourly here): the screens add none.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.services.replay import ReplayServer, fixed16, header_value, json_body  # noqa: E402

VENV_BIN = Path(sys.executable).parent
GROUPS = 12
SERVICE_PROBLEMS = 200
HOST_PROBLEMS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: {what} did not come up on port {port} within {timeout:.0f}s")


# -- the stand-in core ---------------------------------------------------------------------


def _value(column: str, index: int, now: int) -> Any:
    """A plausible value for a column of row ``index``."""
    if column in ("name", "host_name"):
        return f"host-{index % 150:03d}.example.com"
    if column in ("description", "service_description"):
        return f"svc-{index:03d}"
    if column == "hostgroup_name":
        return f"group-{index:02d}"
    if column in ("groups", "host_groups"):
        return [f"group-{index % GROUPS:02d}"]
    if column == "state":
        return 1 + index % 3
    if column == "state_type":
        return 1
    if column == "last_state_change":
        return now - 60 * index
    if column == "plugin_output":
        return f"CRITICAL - bench row {index}"
    return 0


def _stats_width(lines: list[str]) -> int:
    """How many stats columns the request asks for (``StatsAnd: n`` folds n into one)."""
    stack = 0
    for line in lines:
        if line.startswith("Stats:"):
            stack += 1
        elif line.startswith(("StatsAnd:", "StatsOr:")):
            stack -= int(line.split(":", 1)[1]) - 1
    return stack


class CountingCore:
    """Answers the snapshot's queries like a core with a few hundred problems; counts them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: Counter[str] = Counter()

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.tables.values())

    def __call__(self, request: bytes) -> bytes:
        text = request.decode("utf-8", "replace")
        lines = text.split("\n")
        table = lines[0].split(" ", 1)[1].strip() if lines[0].startswith("GET ") else "?"
        with self.lock:
            self.tables[table] += 1
        now = int(time.time())
        columns = (header_value(request, "Columns") or "").split()
        width = _stats_width(lines)
        rows: list[list[Any]]
        if table == "status":
            head = ["program_start", "program_version", "nagios_pid"]
            rows = [head, [now - 3600, "1.4.1-bench", 4242]]
        elif width:
            count = 1 if not columns else (GROUPS if columns == ["hostgroup_name"] else 20)
            rows = [
                [_value(c, i, now) for c in columns] + [(i * 7 + s * 3) % 50 for s in range(width)]
                for i in range(count)
            ]
        else:
            count = HOST_PROBLEMS if table == "hosts" else SERVICE_PROBLEMS
            rows = [[_value(c, i, now) for c in columns] for i in range(count)]
        return fixed16(200, json_body(rows))


# -- the portal ----------------------------------------------------------------------------


SETTINGS_TEMPLATE = """\
# Generated by bench/bench_wall.py: the project's settings plus the snapshot's beat entry.
from monitoring_portal.settings import *  # noqa: F403

WALL_REFRESH_SECONDS = {refresh}
WALL_TOPS_SECONDS = 3600
CELERY_BEAT_SCHEDULE = {{
    "livestatus-refresh-status-snapshot": {{
        "task": "livestatus.tasks.refresh_status_snapshot",
        "schedule": {refresh},
        "options": {{"expires": {refresh}}},
    }},
}}
"""


class Portal:
    """gunicorn, a Celery worker with beat, Redis if needed: started and stopped together."""

    def __init__(self, base: Path, refresh: float, redis_url: str) -> None:
        self.base = base
        self.refresh = refresh
        self.redis_url = redis_url
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.port = free_port()
        self.env = dict(os.environ)

    def start_redis(self) -> str:
        port = free_port()
        self._spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.base),
            ],
        )
        wait_port(port, "redis-server")
        return f"redis://127.0.0.1:{port}/0"

    def prepare(self, livestatus: str) -> None:
        if not self.redis_url:
            self.redis_url = self.start_redis()
        (self.base / "bench_settings.py").write_text(SETTINGS_TEMPLATE.format(refresh=self.refresh))
        self.env.update(
            PYTHONPATH=f"{self.base}{os.pathsep}{REPO_ROOT}",
            DJANGO_SETTINGS_MODULE="bench_settings",
            SECRET_KEY="bench-only-secret-key-not-for-production-0123456789",  # noqa: S106
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="false",
            STATIC_MANIFEST="false",
            DATABASE_URL=f"sqlite:///{self.base / 'portal.sqlite3'}",
            REDIS_URL=self.redis_url,
            CELERY_BROKER_URL=self.redis_url,
            LOG_LEVEL="WARNING",
        )
        manage = [sys.executable, str(REPO_ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=self.env, check=True)
        setup = (
            "from registry.models import NaemonNode;"
            f"NaemonNode.objects.create(name='core-1', livestatus={livestatus!r}, config_dir='/nonexistent');"
            "from livestatus import overview, wall_kiosk;"
            "print(overview.QUERIES_PER_REFRESH, wall_kiosk.make_token('bench-screen'))"
        )
        out = subprocess.run(
            [*manage, "shell", "-c", setup], env=self.env, check=True, capture_output=True, text=True
        )
        per_refresh, self.token = out.stdout.strip().splitlines()[-1].split()
        self.queries_per_refresh = int(per_refresh)

    def start(self) -> None:
        self._spawn(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "monitoring_portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "4",
                "--threads",
                "8",
                "--worker-class",
                "gthread",
                "--preload",  # Django loaded once, before the workers fork: no cold first requests
                "--keep-alive",
                "30",
                "--log-level",
                "warning",
            ],
        )
        wait_port(self.port, "gunicorn")
        env = dict(self.env, LOG_LEVEL="INFO")
        self._spawn(
            "celery",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "monitoring_portal",
                "worker",
                "--beat",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.base / "celerybeat-schedule"),
            ],
            env=env,
        )

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.base / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            command, env=env or self.env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # Celery: warm shutdown, the running refresh completes
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def refreshes(self) -> int:
        """Refresh tasks the worker completed (its log says so for each)."""
        text = (self.base / "celery.log").read_text(errors="replace")
        return len(re.findall(r"Task livestatus\.tasks\.refresh_status_snapshot\[[^\]]+\] succeeded", text))


# -- the screens ------------------------------------------------------------------------------


def screen(
    port: int, path: str, poll: float, deadline: float, latencies: list[float], errors: Counter[str]
) -> None:
    """One wall: poll every ``poll`` seconds on a kept-alive connection, like wall.js."""
    time.sleep(random.uniform(0, poll))  # screens are not switched on in the same millisecond
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200 or not json.loads(body).get("snapshot"):
                errors[f"HTTP {response.status}" if response.status != 200 else "no snapshot"] += 1
            else:
                latencies.append(elapsed)
        except (OSError, http.client.HTTPException) as exc:
            errors[type(exc).__name__] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        next_at += poll
        time.sleep(max(0.0, next_at - time.monotonic()))
    conn.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of polling (default 60)")
    parser.add_argument("--screens", type=int, default=50, help="simulated wall screens (default 50)")
    parser.add_argument("--refresh", type=float, default=2.0, help="snapshot refresh interval, s (default 2)")
    parser.add_argument("--poll", type=float, default=2.0, help="each screen's poll interval, s (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep var/bench/wall-<pid>/ (logs) afterwards")
    args = parser.parse_args()

    base = REPO_ROOT / "var" / "bench" / f"wall-{os.getpid()}"
    base.mkdir(parents=True, exist_ok=True)
    core = CountingCore()
    replay = ReplayServer(core, tcp=True)
    replay.start()
    portal = Portal(base, args.refresh, os.environ.get("REDIS_URL", ""))
    try:
        portal.prepare(replay.address)
        portal.start()
        path = f"/wall/data/?kiosk={portal.token}"
        # Wait for the first snapshot, as a screen switched on early would.
        deadline = time.monotonic() + 60
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=30)
            try:
                conn.request("GET", path)  # the first request of a gunicorn worker loads Django
                if json.loads(conn.getresponse().read()).get("snapshot"):
                    break
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: no snapshot after 60 s; see {base}/celery.log")
            time.sleep(0.2)

        print(
            f"{args.screens} screens polling every {args.poll:g} s for {args.duration:g} s; "
            f"snapshot refreshed every {args.refresh:g} s by a Celery worker with beat; "
            f"gunicorn 4 workers x 8 threads; Redis {portal.redis_url}"
        )
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        core_before = core.total
        end = time.monotonic() + args.duration
        threads = [
            threading.Thread(target=screen, args=(portal.port, path, args.poll, end, latencies, errors))
            for _ in range(args.screens)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall_time = time.monotonic() - started
        core_during = core.total - core_before
        portal.stop("celery")  # warm shutdown: the refresh in flight completes
        refreshes = portal.refreshes()
        received = core.total
        tables = dict(sorted(core.tables.items()))
        per_refresh = portal.queries_per_refresh
    finally:
        portal.stop_all()
        replay.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)

    requests = len(latencies) + sum(errors.values())
    print(
        f"\nwall data requests: {requests} ({requests / wall_time:.1f}/s), errors: {dict(errors) or 'none'}"
    )
    if latencies:
        ms = [value * 1000 for value in latencies]
        print(
            f"latency ms: p50 {percentile(ms, 0.50):.2f}  p95 {percentile(ms, 0.95):.2f}  "
            f"p99 {percentile(ms, 0.99):.2f}  max {max(ms):.2f}  mean {statistics.fmean(ms):.2f}"
        )
    expected = refreshes * per_refresh + 1  # + the tops' one log query
    print(f"\nrefreshes run by the worker: {refreshes}")
    print(f"queries the core received: {received} by table {tables}")
    print(f"expected: {refreshes} refreshes x {per_refresh} queries + 1 log query = {expected}")
    print(
        f"queries while {args.screens} screens polled: {core_during} (refreshes only, whatever the screens did)"
    )
    ok = received == expected and not errors
    print("OK: the screens cost the core nothing" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
