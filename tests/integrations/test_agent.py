"""portal-agent as real processes against the live portal, its worker and a running Nagios 4 core.

The agents talk to a gunicorn of their own (same database, broker and worker as ``live_portal``),
so that "the portal is down" can be played without stopping the portal the other tests use.
No Celery beat runs in this package (its cluster watch would move shares under the other tests):
the lease expiry task is sent to the real worker with ``celery call``, as beat would every
LEASE_CHECK_SECONDS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import REPO, VENV_BIN, LivePortal, _stop, _wait_http
from tests.services.icinga import free_tcp_port

AGENT = VENV_BIN / "portal-agent"


@dataclass
class AgentPortal:
    """A gunicorn for the agents, which the tests may stop and start again on the same port."""

    live: LivePortal
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "monitoring_portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "1", "--timeout", "60", "--graceful-timeout", "2"],
                cwd=REPO, env=self.live.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_http(f"{self.url}/healthz", self.proc, self.log)

    def stop(self) -> None:
        _stop(self.proc)


@dataclass
class RunningAgent:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def agent_portal(live_portal: LivePortal) -> Iterator[AgentPortal]:
    portal = AgentPortal(live_portal, free_tcp_port(), live_portal.workdir / "agent-gunicorn.log")
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()


@pytest.fixture
def start_agent(agent_portal: AgentPortal, tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    """Start ``portal-agent`` for a host, with alice's token in a file (as from a Secret)."""
    token = tmp_path / "token"
    token.write_text(agent_portal.live.tokens["alice"] + "\n")
    token.chmod(0o600)
    started: list[RunningAgent] = []

    def start(name: str, lease: int) -> RunningAgent:
        config = tmp_path / f"{name}.yaml"
        config.write_text(
            f"url: {agent_portal.url}\ntemplates: [generic-host]\n"
            "services:\n  - description: agent-check\n    templates: [generic-service]\n"
        )
        log = tmp_path / f"{name}.log"
        env = {**os.environ, "PORTAL_TOKEN_FILE": str(token), "PORTAL_AGENT_NAME": name,
               "PORTAL_AGENT_ADDRESS": "192.0.2.10"}  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(AGENT), "--config", str(config), "--lease", str(lease), "--min-backoff", "0.5",
                 "--max-backoff", "4", "--log-level", "DEBUG"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        agent = RunningAgent(name, proc, log)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait(10)


def until(what: str, check: Callable[[], Any], timeout: float, *, log: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} within {timeout}s\n{log()[-3000:]}")
        time.sleep(0.25)


def retire_expired_hosts(live: LivePortal) -> None:
    """One run of the lease expiry in the real worker (what beat sends every LEASE_CHECK_SECONDS)."""
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "monitoring_portal", "call", "registry.tasks.retire_expired_hosts"],
        cwd=REPO, env=live.env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def expires(live: LivePortal, name: str) -> datetime:
    host = live.host(name)
    assert host is not None and host["lease"] == "active", host
    return datetime.fromisoformat(host["expires_at"])


def test_agents_register_drain_on_sigterm_and_a_killed_one_is_retired_by_its_lease(
    live_portal: LivePortal, start_agent: Callable[..., RunningAgent]
) -> None:
    drained = start_agent("agent-drained", lease=120)
    killed = start_agent("agent-killed", lease=15)
    both = {"agent-drained", "agent-killed"}
    until("both agents' hosts in the running core", lambda: both <= live_portal.core_hosts(), 150,
          log=lambda: drained.text() + killed.text())  # fmt: skip
    assert {("agent-drained", "agent-check"), ("agent-killed", "agent-check")} <= live_portal.core_services()
    host = live_portal.host("agent-killed")
    assert host is not None and host["address"] == "192.0.2.10" and host["team"] == "web"

    drained.proc.send_signal(signal.SIGTERM)
    assert drained.proc.wait(30) == 0, drained.text()
    assert "removed host agent-drained" in drained.text()
    assert live_portal.host("agent-drained") is None
    until("the drained host gone from the core", lambda: "agent-drained" not in live_portal.core_hosts(), 120)

    killed.proc.send_signal(signal.SIGKILL)
    killed.proc.wait(10)
    ends = expires(live_portal, "agent-killed")  # nobody removed it: only the lease will
    assert "agent-killed" in live_portal.core_hosts()

    def retired() -> bool:
        retire_expired_hosts(live_portal)
        return live_portal.host("agent-killed") is None

    until("the killed agent's host retired by its lease", retired, 90)
    assert datetime.now(ends.tzinfo) >= ends  # not before the lease ended
    until("the retired host gone from the core", lambda: "agent-killed" not in live_portal.core_hosts(), 120)


def test_the_agent_retries_while_the_portal_is_down_and_renews_after(
    live_portal: LivePortal, agent_portal: AgentPortal, start_agent: Callable[..., RunningAgent]
) -> None:
    agent = start_agent("agent-outage", lease=30)  # renews every 10 s
    until(
        "the host in the running core",
        lambda: "agent-outage" in live_portal.core_hosts(),
        150,
        log=agent.text,
    )
    before = expires(live_portal, "agent-outage")
    agent_portal.stop()
    try:
        # A renewal fails, then the retries back off (0.5, 1, 2, 4 s, jittered).
        until("three failed attempts in the agent's log",
              lambda: agent.text().count("retrying in") >= 3, 40, log=agent.text)  # fmt: skip
        assert "portal unavailable" in agent.text() and "Connection refused" in agent.text()
        assert agent.proc.poll() is None  # still running, still trying
    finally:
        agent_portal.start()
    failed = agent.text().count("retrying in")
    until("a renewal once the portal is back",
          lambda: "renewed host agent-outage" in agent.text().split("retrying in")[-1], 30, log=agent.text)  # fmt: skip
    assert agent.text().count("retrying in") == failed  # back to renewing, no more failures
    assert expires(live_portal, "agent-outage") > before
    assert "agent-outage" in live_portal.core_hosts()
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(30) == 0, agent.text()
