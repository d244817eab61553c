"""portal-agent against a small real HTTP server on loopback: back-off, bad answers, drain, configuration.

The server plays the portal's part badly on purpose (down, 5xx, HTML, garbage); the agent under
test is the real one, in-process for single steps and as the console script for the signals.
tests/integrations/test_agent.py runs it against the live portal and a real Nagios 4.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from registry.agent import Agent, Backoff, Declaration, Portal, build, main, parse_arguments
from tests.services.icinga import free_tcp_port

AGENT = Path(sys.executable).parent / "portal-agent"

Reply = tuple[int, str, bytes]  # status, content type, body


def portal_json(status: int, data: Any) -> Reply:
    return status, "application/json", json.dumps(data).encode()


def host(name: str = "pod-1") -> Reply:
    return portal_json(200, {"name": name, "expires_at": "2026-01-01T00:00:00Z"})


@dataclass
class Recorded:
    method: str
    path: str
    token: str
    body: Any
    at: float


@dataclass
class FakePortal:
    """A loopback HTTP server answering from a script (the last reply repeats), recording requests."""

    put: list[Reply] = field(default_factory=list)
    delete: list[Reply] = field(default_factory=lambda: [(204, "", b"")])
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        self.requests.append(
            Recorded(
                handler.command,
                handler.path,
                handler.headers.get("Authorization", "").removeprefix("Bearer "),
                json.loads(raw) if raw else None,
                time.monotonic(),
            )
        )
        script = self.put if handler.command == "PUT" else self.delete
        status, kind, body = script.pop(0) if len(script) > 1 else script[0]
        handler.send_response(status)
        if kind:
            handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def methods(self) -> list[str]:
        return [r.method for r in self.requests]


@pytest.fixture
def fake_portal() -> Iterator[FakePortal]:
    fake = FakePortal(put=[host()])

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            fake.answer(self)

        do_DELETE = do_PUT

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def make_agent(url: str, *, lease: int = 30, waits: list[float] | None = None, token: str = "t0k") -> Agent:  # noqa: S107
    waited = waits if waits is not None else []

    def sleep(seconds: float) -> bool:
        waited.append(seconds)
        return False

    return Agent(
        Portal(url, token=token, timeout=5),
        Declaration(name="pod-1", address="10.0.0.7", templates=["generic-host"], lease_seconds=lease),
        backoff=Backoff(1.0, 60.0, random.Random(7)),
        drain_timeout=2,
        sleep=sleep,
    )


# --- back-off ---


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(1.0, 20.0, random.Random(1))
    for attempt in range(12):
        ceiling = min(20.0, 2.0**attempt)
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert len(set(delays)) > 1  # jittered: a fleet does not retry in lockstep
    assert backoff.delay(10_000) <= 20.0


def test_failing_agent_backs_off_but_never_past_a_third_of_the_lease(fake_portal: FakePortal) -> None:
    fake_portal.put = [(503, "text/plain", b"down for maintenance")]
    waits: list[float] = []
    agent = make_agent(fake_portal.url, lease=30, waits=waits)
    original = agent.sleep

    def sleep(seconds: float) -> bool:
        original(seconds)
        if len(waits) == 7:
            agent.stop.set()
        return False

    agent.sleep = sleep
    assert agent.run() == 0  # stopped, then drained (DELETE 204)
    assert waits[:3] == sorted(waits[:3]) and waits[0] <= 1.0 < waits[2]
    assert max(waits) <= 10.0 and waits[-1] > 5.0  # capped at lease/3, not at --max-backoff (60)
    assert fake_portal.methods() == ["PUT"] * 7 + ["DELETE"]


# --- bad answers: logged, retried, never fatal ---


@pytest.mark.parametrize(
    ("reply", "logged"),
    [
        ((502, "text/html", b"<html>Bad gateway</html>"), "HTTP 502"),
        ((200, "text/html", b"<html>Sign in to OKD</html>"), "not the portal's JSON: <html>Sign in to OKD"),
        ((200, "application/json", b"{truncated"), "not the portal's JSON"),
        ((200, "application/json", b"[1, 2]"), "not the portal's JSON"),
        (portal_json(200, {"name": "someone-else"}), "portal refused host pod-1 (HTTP 200)"),
        (portal_json(400, {"templates": ["No host template named 'gone'."]}), "templates: No host template named 'gone'."),
        (portal_json(401, {"detail": "Invalid token."}), "(HTTP 401): Invalid token."),
        ((302, "text/html", b""), "redirect"),
        ((429, "application/json", b'{"detail": "slow down"}'), "HTTP 429"),
    ],
)  # fmt: skip
def test_a_bad_answer_is_logged_and_retried(
    fake_portal: FakePortal, caplog: pytest.LogCaptureFixture, reply: Reply, logged: str
) -> None:
    fake_portal.put = [reply, host()]
    agent = make_agent(fake_portal.url)
    with caplog.at_level(logging.INFO, logger="portal-agent"):
        assert agent.declare() is False
        assert logged in caplog.text
        assert agent.declare() is True  # the next attempt, when the portal is itself again
    assert "declared host pod-1" in caplog.text or "renewed host pod-1" in caplog.text


def test_a_portal_that_is_down_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    agent = make_agent(f"http://127.0.0.1:{free_tcp_port()}")
    with caplog.at_level(logging.WARNING, logger="portal-agent"):
        assert agent.declare() is False
    assert "portal unavailable" in caplog.text and "refused" in caplog.text.lower()


def test_the_declaration_is_the_same_put_every_time(fake_portal: FakePortal) -> None:
    fake_portal.put = [host()]
    agent = make_agent(fake_portal.url)
    assert agent.declare() and agent.declare()
    first, second = fake_portal.requests
    assert first.method == "PUT" and first.path == "/api/v1/registry/hosts/pod-1/"
    assert (
        first.body
        == second.body
        == {
            "name": "pod-1",
            "address": "10.0.0.7",
            "templates": ["generic-host"],
            "hostgroups": [],
            "services": [],
            "lease_seconds": 30,
        }
    )
    assert first.token == "t0k"


def test_drain_gives_up_at_its_deadline_and_says_the_lease_retires_the_host(
    fake_portal: FakePortal, caplog: pytest.LogCaptureFixture
) -> None:
    fake_portal.delete = [(503, "text/plain", b"still down")]
    agent = make_agent(fake_portal.url)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="portal-agent"):
        assert agent.drain() == 1
    assert time.monotonic() - started < 3
    assert fake_portal.methods().count("DELETE") >= 2
    assert "gave up removing host pod-1" in caplog.text and "lease (30s) retires it" in caplog.text


# --- the console script: signals, token file, configuration ---


def test_console_script_retries_renews_and_drains_on_sigterm(fake_portal: FakePortal, tmp_path: Path) -> None:
    fake_portal.put = [(503, "text/plain", b"starting"), (200, "text/html", b"<h1>proxy</h1>"), host("pod-9")]
    token = tmp_path / "token"
    token.write_text("first-token\n")
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"url: {fake_portal.url}\ntoken_file: {token}\nname: pod-9\ntemplates: [generic-host]\n"
        "services:\n  - description: kubelet\n    templates: [generic-service]\n"
    )
    proc = subprocess.Popen(
        [str(AGENT), "--config", str(config), "--lease", "3", "--min-backoff", "0.1", "--log-level", "DEBUG"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while fake_portal.methods().count("PUT") < 5:  # two failures, a declaration, two renewals
            assert proc.poll() is None and time.monotonic() < deadline, fake_portal.methods()
            time.sleep(0.05)
        token.write_text("rotated-token\n")  # a rotated Secret is read at the next request
        seen = len(fake_portal.requests)
        while len(fake_portal.requests) == seen:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, log = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, log
    delete = fake_portal.requests[-1]
    assert (delete.method, delete.path) == ("DELETE", "/api/v1/registry/hosts/pod-9/")
    # It was asleep until the next renewal: the signal woke it at once.
    assert delete.at - signalled < 0.9
    puts = [r for r in fake_portal.requests if r.method == "PUT"]
    renewals = [b.at - a.at for a, b in itertools.pairwise(puts[2:])]
    assert all(0.9 <= gap <= 1.5 for gap in renewals), renewals  # a third of the 3 s lease
    assert puts[0].body["services"] == [{"description": "kubelet", "templates": ["generic-service"]}]
    assert puts[0].token == "first-token" and fake_portal.requests[-1].token == "rotated-token"
    assert "HTTP 503 starting" in log and "not the portal's JSON" in log and "retrying in" in log
    assert "removed host pod-9" in log
    assert "first-token" not in log and "rotated-token" not in log


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--url", "http://127.0.0.1:1"], {}, "no token"),
        (["--token-file", "/nonexistent/token"], {"PORTAL_URL": "http://127.0.0.1:1"}, "cannot read the token file"),
        (["--url", "portal.example.org"], {"PORTAL_API_TOKEN": "x"}, "must start with http"),
        (["--url", "http://x", "--lease", "1"], {"PORTAL_API_TOKEN": "x"}, "lease_seconds must be"),
        (["--url", "http://x", "--service", "=t"], {"PORTAL_API_TOKEN": "x"}, "the description is empty"),
    ],
)  # fmt: skip
def test_a_configuration_it_cannot_start_with_exits_2_saying_why(
    args: list[str], env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    for name in ("PORTAL_URL", "PORTAL_API_TOKEN", "PORTAL_TOKEN_FILE", "PORTAL_AGENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.ERROR, logger="portal-agent"):
        assert main(args) == 2
    assert message in caplog.text


def test_a_bad_config_file_exits_2_naming_the_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_API_TOKEN", "x")
    config = tmp_path / "agent.yaml"
    for text, message in (
        ("url: [unclosed", "is not valid YAML"),
        ("url: http://x\nleese_seconds: 60\n", "unknown keys leese_seconds"),
        ("url: http://x\nservices:\n  - templates: [t]\n", "each service needs a description"),
    ):
        config.write_text(text)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="portal-agent"):
            assert main(["--config", str(config)]) == 2
        assert message in caplog.text, text


def test_environment_names_the_host_as_the_daemonset_does(fake_portal: FakePortal) -> None:
    fake_portal.put = [host("node-7")]
    agent = build(parse_arguments(["--url", fake_portal.url, "--template", "k8s-node"]), {
        "PORTAL_AGENT_NAME": "node-7", "PORTAL_AGENT_ADDRESS": "192.0.2.7", "PORTAL_API_TOKEN": "env-token",
    })  # fmt: skip
    assert agent.declare()
    (put,) = fake_portal.requests
    assert put.path == "/api/v1/registry/hosts/node-7/" and put.body["address"] == "192.0.2.7"
    assert put.token == "env-token"
