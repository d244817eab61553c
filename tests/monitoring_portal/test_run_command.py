"""The README's run command serves the portal on the embedded default and the demo login works."""

from __future__ import annotations

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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(240)
def test_run_command_serves_login_and_demo_login_works(tmp_path: Path) -> None:
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
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
