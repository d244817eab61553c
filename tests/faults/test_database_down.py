"""PostgreSQL unreachable while the API is written to: clear 503s, no half-written host, and it converges.

The live portal (gunicorn) reaches the test database through a TCP relay that the test cuts:
its open connections are torn down and new ones are refused, as when the database host or the
network goes away. The outage lasts 10 s (issue 20 says 30: the behaviour is the same from the
first refused connection on, and the faults suite must stay short). Writers PUT hosts with a
service all along; afterwards every host is either whole (its service too) or absent, and a
client that retries what got a 503 ends with every host in place. Meanwhile the notify-filter,
run as Naemon runs it, decides from the node's snapshot as always (it opens no database).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from monitoring_portal.models import APIToken
from registry.models import Host
from tests.faults.conftest import ROOT, database_url
from tests.preferences.test_notify_filter import SUPPRESS_WARNINGS, Node
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(180)]

OUTAGE_SECONDS = 10.0
WRITERS = 4
BODY = {
    "address": "127.0.0.1",
    "templates": ["test-host"],
    "services": [{"description": "Ping", "templates": ["test-service"]}],
}


class Relay:
    """A TCP relay to PostgreSQL; ``cut()`` drops every connection and refuses new ones until ``restore()``."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.server: socket.socket | None = None
        self.port = 0
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    def restore(self) -> None:
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(0.2)  # the accept loop notices a cut within that
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        self.server = None
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def _accept(self, server: socket.socket) -> None:
        while self.server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def put(port: int, token: str, name: str) -> tuple[int, dict[str, Any], str | None]:
    """PUT one host with its service: the answer's status, JSON body and Retry-After."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("PUT", f"/api/v1/registry/hosts/{name}/", json.dumps(BODY), headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"raw": raw[:300].decode(errors="replace")}
        return response.status, body, response.getheader("Retry-After")
    finally:
        conn.close()


@pytest.fixture
def relay(transactional_db: None) -> Iterator[Relay]:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        database_url()  # skips, with its reason
    proxy = Relay((db["HOST"] or "127.0.0.1", int(db["PORT"])))
    proxy.restore()
    try:
        yield proxy
    finally:
        if proxy.server is not None:
            proxy.cut()


@pytest.fixture
def portal(relay: Relay, worker_env: dict[str, str], tmp_path: Path) -> Iterator[int]:
    """The portal under gunicorn, its database reached through the relay; its port."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    env = {
        **worker_env,
        "DATABASE_URL": f"postgres://{db['USER']}{password}@127.0.0.1:{relay.port}/{db['NAME']}",
        "SECRET_KEY": "insecure-faults-test-key",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "STATIC_MANIFEST": "false",
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "monitoring_portal.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--worker-class", "gthread", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def answers() -> bool:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    try:
        wait_for("gunicorn to answer /healthz", answers, 60, 0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def whole_or_absent() -> dict[str, list[str]]:
    """Every fault-test host in the database with its services' descriptions."""
    return {
        host.name: sorted(s.description for s in host.services.all())
        for host in Host.objects.filter(name__startswith="dbdown-").prefetch_related("services")
    }


def notifications_during_outage(node: Node) -> list[dict[str, object]]:
    """Run the real notify-filter (its console script) for a WARNING and a CRITICAL; its decisions."""
    for state in ("WARNING", "CRITICAL"):
        argv = [str(ROOT / ".venv" / "bin" / "notify-filter"), *node.argv(state=state)[3:]]
        node.run(argv)
    return node.decisions()


def test_database_unreachable_answers_503_and_writes_nothing_half(
    relay: Relay, portal: int, basics: dict[str, Any], tmp_path: Path
) -> None:
    # A node's notification preferences as published before the outage: alice mutes warnings.
    notify = Node(tmp_path)
    notify.write(SUPPRESS_WARNINGS)
    staff = User.objects.create_user("automation", is_staff=True)
    token = APIToken.issue(staff, "faults")[1]
    assert put(portal, token, "dbdown-before")[0] == 201

    answers: list[tuple[str, int, dict[str, Any], str | None]] = []
    stop = threading.Event()
    restored = threading.Event()
    after_restore = threading.Semaphore(0)

    def writer(index: int) -> None:
        count = 0
        while not stop.is_set():
            name = f"dbdown-{index}-{count}"
            was_restored = restored.is_set()
            status, body, retry_after = put(portal, token, name)
            answers.append((name, status, body, retry_after))
            if status == 503:
                # As automation does, the same host again after a while (Retry-After, shortened).
                stop.wait(0.2)
                continue
            count += 1
            if was_restored and status in (200, 201):
                after_restore.release()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        wait_for("writes before the outage", lambda: len(answers) >= WRITERS, 30, 0.05)
        relay.cut()
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        filtered = notifications_during_outage(notify)
        # The outage's length is the fault itself, not a wait for luck.
        time.sleep(max(0.0, outage_ends - time.monotonic()))
        relay.restore()
        restored.set()
        for _ in range(WRITERS):  # every writer got through again
            assert after_restore.acquire(timeout=60), "no write succeeded after the database came back"
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    # The filter decided by its snapshot alone, as without the outage: no fail-open, no error.
    assert [(d["state"], d["decision"], d["rule"]) for d in filtered] == [
        ("WARNING", "suppress", 7),
        ("CRITICAL", "notify", None),
    ], filtered
    assert len(notify.sent_lines()) == 1 and "it's down" in notify.sent_lines()[0]

    statuses = {status for _, status, _, _ in answers}
    refused = [(name, body, retry) for name, status, body, retry in answers if status == 503]
    assert statuses <= {200, 201, 503}, [a for a in answers if a[1] not in (200, 201, 503)][:5]
    assert refused, "no write was refused during the outage"
    for name, body, retry_after in refused:
        assert "database is unavailable" in body.get("detail", ""), (name, body)
        assert retry_after == "30", (name, retry_after)

    # No half-written host: each one the database holds has its service; every 2xx is there.
    stored = whole_or_absent()
    assert all(services == ["Ping"] for services in stored.values()), stored
    accepted = {name for name, status, _, _ in answers if status in (200, 201)}
    assert accepted <= set(stored)

    # The clients retried what was refused: every host is in place but those whose last answer,
    # when the writers stopped, was a 503 (sent once more here).
    last = {name: status for name, status, _, _ in answers}
    for name in sorted(name for name, status in last.items() if status == 503):
        assert put(portal, token, name)[0] in (200, 201)
    stored = whole_or_absent()
    assert set(stored) == {"dbdown-before", *last}
    assert all(services == ["Ping"] for services in stored.values())
