"""The README's run command serves the portal on the embedded default and the demo login works."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from monitoring_portal.management.commands import demo_core
from registry.models import NaemonNode
from tests.services.icinga import find_icinga2
from tests.services.required import require_service

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaped has ended: its state is Z)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(240)
def test_run_command_serves_login_and_demo_login_works(tmp_path: Path) -> None:
    # The demo core is Icinga 2: the test command installs it; locally the test skips without it.
    require_service("icinga2", find_icinga2() is not None)
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "SECRET_KEY",
            "DEBUG",
            "STATIC_MANIFEST",
        }
    }
    env.update(PORTAL_VAR_DIR=str(tmp_path), PORTAL_ADDR=f"127.0.0.1:{port}")
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["sh", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = urllib.request.urlopen(base + "/login/", timeout=5).read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert page is not None, log.read_text()
        output = log.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        password = re.search(r"Demo login:\s+demo / (\S+)", output)
        assert password, output
        # Icinga 2 is installed: the terminal says which core the demo node reads.
        assert "Demo core attached: Icinga 2" in output and "Deployments are rendered only" in output, output
        pid_file = tmp_path / "demo" / "icinga2" / "icinga2.pid"
        core_pid = int(pid_file.read_text())
        assert _alive(core_pid)
        assert (tmp_path / "portal.sqlite3").exists()

        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = opener.open(base + "/login/", timeout=10).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login)
        assert csrf
        data = urllib.parse.urlencode(
            {
                "username": "demo",
                "password": password.group(1),
                "csrfmiddlewaretoken": csrf.group(1),
            }
        ).encode()
        home = opener.open(urllib.request.Request(base + "/login/", data=data), timeout=10)
        assert home.geturl() == base + "/"
        assert "Hello, Demo Admin" in home.read().decode()
        # The demo login has a Naemon contact, so its notification rules apply to someone.
        notifications = opener.open(base + "/notifications/", timeout=10).read().decode()
        assert "Your Naemon contact is <strong>demo</strong>" in notifications
        # Status lists the demo hosts with the states the demo core's checks give them.
        expected = [
            'data-host="web01" data-service="HTTP" data-node="local" data-state="OK"',
            'data-host="web02" data-service="HTTP" data-node="local" data-state="WARNING"',
            'data-host="db02" data-service="PostgreSQL" data-node="local" data-state="CRITICAL"',
            'data-host="db01" data-service="SSH" data-node="local" data-state="OK"',
        ]
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline:
            status = opener.open(base + "/status/services/", timeout=10).read().decode()
            if all(row in status for row in expected):
                break
            time.sleep(0.5)
        assert all(row in status for row in expected), status[-3000:]
        node_page = opener.open(base + "/registry/nodes/local/", timeout=10).read().decode()
        assert "demo core: Icinga 2 with its own demo objects; deployments are rendered only" in node_page
    finally:
        # Had it ended by itself, its trap stopped the core already; the checks below still hold.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    # Stopping the run command stops its demo core too.
    deadline = time.monotonic() + 20
    while _alive(core_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(core_pid), (tmp_path / "run.log").read_text()
    assert not pid_file.exists()


@pytest.mark.django_db
def test_without_icinga2_the_demo_says_no_core_is_attached_and_how_to_attach_one(
    monkeypatch: pytest.MonkeyPatch, settings, tmp_path: Path
) -> None:
    settings.DEBUG = True  # what `make run` sets
    settings.PORTAL_DEMO_PASSWORD = "demo-portal-2026"
    settings.VAR_DIR = tmp_path
    call_command("load_demo", stdout=StringIO())
    # A previous run left the node pointing at its demo core, now gone with icinga2.
    NaemonNode.objects.filter(name="local").update(
        livestatus=f"unix:{tmp_path / 'demo' / 'icinga2' / 'live.sock'}"
    )
    monkeypatch.setattr(demo_core, "find_icinga2", lambda: None)
    out = StringIO()
    call_command("demo_core", "start", stdout=out)
    assert "No Naemon core attached" in out.getvalue() and "/api/v1/registry/nodes/local/" in out.getvalue()
    assert NaemonNode.objects.get(name="local").livestatus == ""
