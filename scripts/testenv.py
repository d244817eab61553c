#!/usr/bin/env python3
"""Start PostgreSQL and Redis for the tests, run lint + types + import boundaries + pytest, stop them.

Runs with the project's virtualenv Python (stdlib only here). Services listen on
loopback only, on free ports, with data under var/test/, and are stopped in a
``finally`` so a failing test run still cleans up. When run as root (CI, containers)
PostgreSQL, which refuses root, runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One directory per run, so two runs on one machine never wipe each other's database.
VAR = ROOT / "var" / "test" / f"run-{os.getpid()}"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"testenv: {what} did not come up within {deadline_s:.0f}s")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Postgres:
    """A throwaway PostgreSQL cluster on loopback."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise SystemExit("testenv: PostgreSQL is not installed (initdb not found)")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.as_user: list[str] = []
        base = VAR
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            # The postgres user must reach the data dir; a private checkout path blocks it.
            if subprocess.run([*self.as_user, "test", "-x", str(VAR)], check=False).returncode != 0:
                base = Path(tempfile.mkdtemp(prefix="portal-test-pg-"))
                base.chmod(0o755)  # mkdtemp makes it private to root
                print(f"testenv: {VAR} is not reachable by user postgres; using {base}")
        self.data = base / "pg"
        self.sock = base / "pg-sock"

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.as_user, *args], check=True, text=True, **kw)

    def start(self) -> None:
        for d in (self.data, self.sock):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
            if self.as_user:
                shutil.chown(d, "postgres", "postgres")
        self.run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "portal",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            stdout=subprocess.DEVNULL,
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.sock} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self.run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
            stdout=subprocess.DEVNULL,
        )
        self.run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "portal",
            "portal",
        )
        self.version = self.run(str(self.bin / "postgres"), "--version", capture_output=True).stdout.strip()

    @property
    def url(self) -> str:
        return f"postgres://portal@127.0.0.1:{self.port}/portal"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class Redis:
    """A throwaway Redis on loopback, no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = VAR / "redis"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
                # A block of databases per pytest-xdist worker (tests/services/workers.py).
                "--databases",
                "256",
            ],
        )
        wait_for("redis", lambda: port_open(self.port))
        self.version = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[2]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def step(name: str, cmd: list[str], env: dict[str, str]) -> int:
    print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


# compilemessages walks the whole tree for locale/ folders: only ours, not the packages' own.
COMPILE_IGNORE = ["--ignore", ".venv", "--ignore", "var", "--ignore", "node_modules"]


def parallel(pytest_args: list[str]) -> list[str]:
    """pytest-xdist options for a whole-suite run; none when given test paths or ``-n``.

    Most of the suite waits (on cores reloading, browsers, polls with deadlines), so more workers
    than cores pay: ``TEST_WORKERS`` (default 3; 0 runs in one process). ``--dist loadfile`` keeps
    a module's tests on one worker, with their module-scoped cores and servers.
    """
    targeted = any(Path(arg.split("::")[0]).exists() for arg in pytest_args if not arg.startswith("-"))
    workers = os.environ.get("TEST_WORKERS", "3")
    if targeted or "-n" in pytest_args or not workers.isdigit() or int(workers) == 0:
        return []
    return ["-n", workers, "--dist", "loadfile"]


def main(pytest_args: list[str]) -> int:
    VAR.mkdir(parents=True, exist_ok=True)
    VAR.chmod(0o755)
    pg, redis = Postgres(), Redis()
    # Stop services on SIGTERM too (CI time limit), through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        pg.start()
        redis.start()
        env = dict(os.environ)
        env.update(
            DATABASE_URL=pg.url,
            REDIS_URL=redis.url,
            PORTAL_TEST_REDIS_URL=redis.url,
            PORTAL_TEST_SERVICES="true",
            SECRET_KEY=env.get("SECRET_KEY", "insecure-test-key-only-for-tests"),
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.pop("CELERY_BROKER_URL", None)  # the test process runs tasks eagerly unless a test says otherwise
        results = {
            "ruff": step("ruff", [str(VENV_BIN / "ruff"), "check", "."], env),
            "ruff format": step("ruff format", [str(VENV_BIN / "ruff"), "format", "--check", "."], env),
            "mypy": step("mypy", [str(VENV_BIN / "mypy"), "."], env),
            # The import boundaries between the rooms (.importlinter, docs/architecture.md).
            "import-linter": step("import-linter", [str(VENV_BIN / "lint-imports"), "--no-cache"], env),
            # The French interface (locale/) is compiled, never committed: tests read the fresh .mo.
            "compilemessages": step(
                "compilemessages",
                [str(VENV_BIN / "python"), "manage.py", "compilemessages", "-v0", *COMPILE_IGNORE],
                env,
            ),
            "pytest": step("pytest", [str(VENV_BIN / "pytest"), *parallel(pytest_args), *pytest_args], env),
        }
        print(
            f"\ntestenv: tests ran against {pg.version} at {pg.url} and Redis {redis.version} at {redis.url}"
        )
        failed = [name for name, rc in results.items() if rc != 0]
        if failed:
            print(f"testenv: FAILED: {', '.join(failed)}")
            return 1
        print("testenv: all checks passed")
        return 0
    finally:
        redis.stop()
        pg.stop()
        shutil.rmtree(VAR, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
