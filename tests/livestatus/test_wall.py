"""The control-room wall: kiosk links (read-only, nothing else), and the page in a real browser.

The browser test drives headless Chromium (Playwright) against a portal server of its own,
with a private Icinga 2 Livestatus and the real Redis: a passive CRITICAL result appears
within one refresh, an acknowledgement takes it off the unhandled list, the portal server
is stopped (its port closed, its open connections cut) and started again and the wall
resumes by itself, many fast refreshes leave the page's DOM nodes and event listeners
where they were (Chrome's Performance.getMetrics), and a stopped core shows as unreachable,
then the wall as stale. Screenshots go to var/test/artifacts/.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections
from django.test import Client
from django.test.testcases import LiveServerThread
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from pytest_django.fixtures import Settings

from livestatus import nodes, overview_store, wall_kiosk
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from livestatus.nodes import forget_clients
from livestatus.tasks import refresh_status_snapshot
from monitoring_portal.models import Team
from registry.choices import DeploymentState
from tests.factories import DeploymentFactory, HostGroupFactory, NaemonNodeFactory
from tests.services.icinga import Host, IcingaServer, Service, free_tcp_port, wait_until
from tests.services.required import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"

# live_server runs in a thread of this process and Playwright's sync API runs an event loop in
# this thread: Django's async-safety check would refuse the ORM calls of the test itself.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

if TYPE_CHECKING := False:
    from playwright.sync_api import Page


# -- kiosk tokens ----------------------------------------------------------------------


def test_token_round_trip_expiry_revocation_and_salt(settings: Settings) -> None:
    token = wall_kiosk.make_token("control-room-1", days=2, now=1_000_000)
    grant = wall_kiosk.read_token(token, now=1_000_000 + 86400)
    assert grant == wall_kiosk.KioskGrant("control-room-1", 1_000_000 + 2 * 86400)
    with pytest.raises(wall_kiosk.KioskError, match="expired"):
        wall_kiosk.read_token(token, now=1_000_000 + 3 * 86400)
    with pytest.raises(wall_kiosk.KioskError, match="not valid"):
        wall_kiosk.read_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), now=1_000_000)
    settings.WALL_KIOSK_REVOKED = ["other", "control-room-1"]
    with pytest.raises(wall_kiosk.KioskError, match="revoked"):
        wall_kiosk.read_token(token, now=1_000_000)
    settings.WALL_KIOSK_REVOKED = "other, control-room-2"  # a comma-separated string works too
    assert wall_kiosk.read_token(token, now=1_000_000).name == "control-room-1"
    settings.WALL_KIOSK_SALT = "rotated"
    with pytest.raises(wall_kiosk.KioskError, match="not valid"):
        wall_kiosk.read_token(token, now=1_000_000)
    with pytest.raises(ValueError, match="kiosk name"):
        wall_kiosk.make_token("bad name\n")


@pytest.mark.django_db
def test_create_kiosk_link_prints_a_working_link(settings: Settings) -> None:
    settings.REDIS_URL = ""
    out = io.StringIO()
    call_command("create_kiosk_link", "--name", "control-room-1", "--days", "30", stdout=out)
    link = out.getvalue().strip()
    assert link.startswith("/wall/?kiosk=")
    response = Client().get(link)
    assert response.status_code == 200
    assert b'data-kiosk="' in response.content and b"control-room-1" in response.content
    assert response["Referrer-Policy"] == "no-referrer"
    out = io.StringIO()
    call_command("create_kiosk_link", "--name", "x", "--base-url", "https://portal.example.org/", stdout=out)
    assert out.getvalue().startswith("https://portal.example.org/wall/?kiosk=")


@pytest.mark.django_db
def test_wall_access(settings: Settings, owner: User) -> None:
    settings.REDIS_URL = ""
    token = wall_kiosk.make_token("screen")
    anonymous = Client()
    page = anonymous.get("/wall/")
    assert page.status_code == 302 and page["Location"].startswith("/login/?next=/wall/")
    data = anonymous.get("/wall/data/")
    assert data.status_code == 403 and data.json() == {"error": "log in or use a kiosk link"}
    assert anonymous.get("/wall/", {"kiosk": "forged"}).status_code == 403
    assert anonymous.get("/wall/data/", {"kiosk": "forged"}).status_code == 403

    page = anonymous.get("/wall/", {"kiosk": token})
    assert page.status_code == 200 and b"<nav" not in page.content
    data = anonymous.get("/wall/data/", {"kiosk": token})
    assert data.status_code == 200 and data["Cache-Control"].startswith("max-age=0")
    body = data.json()
    assert set(body) == {"now", "stale_after", "refresh_seconds", "version", "snapshot"}
    assert body["snapshot"]["nodes"] == []
    # Read-only and stateless: no session, no cookie.
    assert not page.cookies and not data.cookies and Session.objects.count() == 0
    assert anonymous.post("/wall/data/", {"kiosk": token}).status_code == 405

    settings.WALL_KIOSK_REVOKED = ["screen"]
    revoked = anonymous.get("/wall/data/", {"kiosk": token})
    assert revoked.status_code == 403 and "revoked" in revoked.json()["error"]

    member = Client()
    member.force_login(owner)
    assert member.get("/wall/").status_code == 200
    assert member.get("/wall/data/").status_code == 200
    # A logged-in user with a stale bookmark still gets in.
    assert member.get("/wall/", {"kiosk": "forged"}).status_code == 200


@pytest.mark.django_db
def test_wall_data_says_when_redis_does_not_answer(settings: Settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_tcp_port()}/0"  # nothing listens there
    response = Client().get("/wall/data/", {"kiosk": wall_kiosk.make_token("screen")})
    assert response.status_code == 503
    assert "the status store (Redis) does not answer" in response.json()["error"]


def _sample(pattern: Any) -> str | None:
    """A concrete path segment for a URL pattern (None: not worth probing, e.g. format suffixes)."""
    text = str(pattern)
    if "format" in text:
        return None
    if text.startswith("^") or text.endswith("$"):
        text = text.lstrip("^").rstrip("$")

        def group(match: re.Match[str]) -> str:
            body = match.group(1)
            if re.fullmatch(r"[\w|]+", body):
                return body.split("|")[0]
            return "1"

        text = re.sub(r"\(\?P<\w+>((?:[^()]|\([^()]*\))*)\)", group, text)
        text = text.replace("\\.", ".").replace("/?", "/")
        return text
    return re.sub(r"<(?:\w+:)?\w+>", "1", text)


def all_paths() -> list[str]:
    """One concrete path for every URL pattern of the project that resolves."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            part = _sample(entry.pattern)
            if part is None:
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + part)
            elif isinstance(entry, URLPattern):
                found.append(prefix + part)

    walk(get_resolver().url_patterns, "/")
    paths = []
    for path in sorted(set(found)):
        # The admin repeats the same views per model: one model stands for all.
        model_admin = re.match(r"/admin/(\w+)/(\w+)/", path)
        if model_admin and model_admin.group(0) != "/admin/registry/host/":
            continue
        if path in PUBLIC:
            continue
        try:
            resolve(path)
        except Resolver404:
            continue
        paths.append(path)
    return paths


WRITE_METHODS = ("post", "put", "patch", "delete")
# Public to everyone and read-only (and slow to render): not probed.
PUBLIC = ("/metrics", "/api/schema/")
# Answer a post with the form again (200), changing nothing.
HARMLESS = ("/login/", "/admin/login/")


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_a_kiosk_token_opens_the_wall_and_nothing_else(
    settings: Settings, owner: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Every URL and method: with the token the answer is the anonymous one, and no write passes."""
    settings.REDIS_URL = ""
    caplog.set_level(logging.ERROR, logger="django.request")  # hundreds of expected 4xx
    token = wall_kiosk.make_token("control-room-1")
    paths = all_paths()
    assert "/wall/data/" in paths and "/api/v1/registry/hosts/1/" in paths
    assert "/api/v1/preferences/rules/" in paths and "/profile/tokens/1/revoke/" in paths
    before = _row_counts()

    anonymous = Client()
    screen = Client()
    assert screen.get("/wall/", {"kiosk": token}).status_code == 200  # a screen that opened its link
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    differences = {}
    for path in paths:
        for method in ("get", *WRITE_METHODS):
            expected = getattr(anonymous, method)(path).status_code
            with_token = getattr(screen, method)(f"{path}?kiosk={token}").status_code
            as_bearer = getattr(bearer, method)(path).status_code
            if with_token != expected:
                differences[method.upper(), path] = (expected, with_token)
            if method != "get" and path not in HARMLESS:
                assert not 200 <= with_token < 300, (method, path, with_token)
                assert not 200 <= as_bearer < 300, (method, path, as_bearer)
    assert differences == {("GET", "/wall/"): (302, 200), ("GET", "/wall/data/"): (403, 200)}
    assert _row_counts() == before  # nothing was written, not even a session


# -- the wall in a browser ---------------------------------------------------------------

WALL_HOSTS = (
    Host("app-01", services=(Service("http"), Service("disk")), groups=("web",)),
    Host("db-01", services=(Service("postgres"),), groups=("db",)),
)
REFRESH = 1
STALE_AFTER = 6
#: The refresh of the memory phase, and how many polls it watches.
FAST_REFRESH = 0.25
POLLS = 60
METRICS = ("JSEventListeners", "Nodes", "JSHeapUsedSize")


@pytest.fixture
def wall_icinga(icinga_binary: str) -> Iterator[IcingaServer]:
    """A private Icinga 2: the test stops it, which the shared one must survive."""
    server = IcingaServer(binary=icinga_binary, name="wall", hosts=WALL_HOSTS)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        forget_clients()
        nodes.forget_clusters()


@pytest.fixture
def wall_settings(settings: Settings, redis_url: str) -> Iterator[redis.Redis]:
    """The production set-up: snapshots in the real Redis; short intervals for the test."""
    settings.REDIS_URL = redis_url
    settings.WALL_REFRESH_SECONDS = REFRESH
    settings.WALL_STALE_SECONDS = STALE_AFTER
    client = redis.Redis.from_url(redis_url)
    keys = (overview_store.KEY_SNAPSHOT, overview_store.KEY_PAYLOAD, overview_store.KEY_LOCK)
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()


class _PortalHTTPServer(ThreadedWSGIServer):
    """Django's threaded test server, remembering its open connections so that stop() cuts them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """What the end of a server process does to its clients' kept-alive connections."""
        with self._connections_lock:
            open_connections = list(self.open_connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _PortalThread(LiveServerThread):
    server_class = _PortalHTTPServer

    def _create_server(self, connections_override: Any = None) -> ThreadedWSGIServer:
        # The same port again right after a stop: allow reuse (TIME_WAIT) unlike live_server.
        return self.server_class(
            (self.host, self.port),
            _QuietHandler,
            allow_reuse_address=True,
            connections_override=connections_override,
        )

    def terminate(self) -> None:
        httpd = getattr(self, "httpd", None)
        if httpd is not None:
            httpd.shutdown()  # no more accepts
            httpd.cut_connections()  # and nothing more on kept-alive connections
            httpd.server_close()
        self.join(10)


class PortalServer:
    """The portal on a fixed port in a thread of this process, stopped and started like a real server.

    pytest-django's live_server cannot be restarted, and its kept-alive connections would
    survive a stop: this one closes its port and cuts its connections, as a dying process does.
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_tcp_port()
        self.thread: _PortalThread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        thread = _PortalThread(self.host, StaticFilesHandler, port=self.port)
        thread.daemon = True
        thread.start()
        assert thread.is_ready.wait(30), "the portal server did not start"
        if thread.error:
            raise thread.error
        self.thread = thread

    def stop(self) -> None:
        thread, self.thread = self.thread, None
        if thread is not None:
            thread.terminate()

    def refuses_connections(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(1)
            return probe.connect_ex((self.host, self.port)) != 0


@pytest.fixture
def portal(settings: Settings) -> Iterator[PortalServer]:
    """A portal server the test may stop and start again."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    server = PortalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def page_metrics(cdp: Any, page: Page, samples: int = 8) -> dict[str, float]:
    """Chrome's counters after a full garbage collection: JS heap, event listeners, DOM nodes.

    The least of a few samples over more than one poll: a fetch in flight holds a listener on
    its AbortSignal for a moment, a leak holds its listeners and nodes for good.
    """
    seen: list[dict[str, float]] = []
    for _ in range(samples):
        cdp.send("HeapProfiler.collectGarbage")
        seen.append({m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]})
        page.wait_for_timeout(FAST_REFRESH * 1000 / 4)
    return {name: min(sample[name] for sample in seen) for name in METRICS}


@pytest.fixture
def browser_page(portal: PortalServer) -> Iterator[Page]:
    """A browser page (no login: the test opens a kiosk link) that fails the test on JS errors."""
    require_service(
        "Chromium", os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (Debian package chromium)"
    )
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1920, "height": 1080})
            page = context.new_page()
            page.set_default_timeout(30_000)  # a loaded CI machine, not luck: every wait polls
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
        finally:
            # Playwright's greenlet has its own Django connections: close them (see preferences).
            connections.close_all()
            browser.close()
    assert not errors, errors


def refresh() -> dict[str, Any]:
    """Run the refresh task as the beat would (in this process)."""
    result: dict[str, Any] = refresh_status_snapshot.apply().get()
    return result


def wait_service(client: LivestatusClient, host: str, service: str, column: str, value: Any) -> None:
    query = (
        LivestatusQuery("services")
        .select(column)
        .where(Filter("host_name", "=", host), Filter("description", "=", service))
    )
    wait_until(lambda: client.query(query)[0][column] == value, timeout=15, what=f"{host}/{service} {column}")


@pytest.mark.browser
@pytest.mark.services
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_wall_follows_the_core_in_a_browser(
    browser_page: Page,
    portal: PortalServer,
    wall_icinga: IcingaServer,
    wall_settings: redis.Redis,
    settings: Settings,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    web_team = Team.objects.create(name="web")
    master = NaemonNodeFactory.create(name="master", livestatus=wall_icinga.unix_address)
    HostGroupFactory.create(name="web", team=web_team)
    DeploymentFactory.create(node=master, state=DeploymentState.CONFIRMED, reason="registry change")
    ls = LivestatusClient(wall_icinga.unix_address, timeout=10, retry_window=5)
    for host in ("app-01", "db-01"):
        ls.command(commands.process_host_check_result(host, 0, "PING OK"))
    for host, service in (("app-01", "http"), ("app-01", "disk"), ("db-01", "postgres")):
        ls.command(commands.process_service_check_result(host, service, 0, "fine"))
        wait_service(ls, host, service, "state", 0)
    refresh()

    page.goto(f"{portal.url}/wall/?kiosk={wall_kiosk.make_token('control-room-1')}")
    wall = page.locator("#wall")
    expect(wall).to_have_attribute("data-status", "ok")
    expect(page.locator("#problems")).to_contain_text("No unhandled problems")
    expect(page.locator(".tile[data-group=web]")).to_have_attribute("data-severity", "ok")
    expect(page.locator("[data-node=master]")).to_have_attribute("data-reachable", "true")
    expect(page.locator("#deployments")).to_contain_text("confirmed")
    expect(page.locator("#panel-noisiest")).to_be_visible()  # this Icinga 2 keeps a compat log
    expect(page.locator("#panel-notified")).to_be_hidden()  # no decision logs yet
    expect(page.locator("nav")).to_have_count(0)

    # A passive CRITICAL: on the wall within one refresh of the task.
    ls.command(
        commands.process_service_check_result("app-01", "http", 2, "HTTP CRITICAL - 503 Service Unavailable")
    )
    ls.command(commands.process_service_check_result("db-01", "postgres", 1, "replication lag 40 s"))
    wait_service(ls, "app-01", "http", "state", 2)
    wait_service(ls, "db-01", "postgres", "state", 1)
    refresh()
    row = page.locator("#problems tr[data-host=app-01][data-service=http]")
    expect(row).to_be_visible(timeout=(REFRESH + 1) * 1000)
    expect(row).to_have_attribute("data-state", "CRITICAL")
    expect(page.locator("#problems tr").first).to_have_attribute("data-host", "app-01")  # worst first
    expect(page.locator(".tile[data-group=web]")).to_have_attribute("data-severity", "critical")
    expect(page.locator(".tile[data-group=db]")).to_have_attribute("data-severity", "warning")
    expect(page.locator("#top-problem-hosts")).to_contain_text("app-01")
    page.screenshot(path=str(ARTIFACTS / "wall.png"))

    # Polling replaces content: the page does not grow.
    size = "document.getElementsByTagName('*').length"
    nodes_before = page.evaluate(size)
    taken = wall.get_attribute("data-taken-at")
    refresh()
    expect(wall).not_to_have_attribute("data-taken-at", taken or "", timeout=(REFRESH + 1) * 1000)
    page.wait_for_timeout(3 * REFRESH * 1000)
    assert page.evaluate(size) == nodes_before

    # Acknowledged: off the unhandled list.
    ls.command(commands.acknowledge_service("app-01", "http", "on it", author="control-room", notify=False))
    wait_service(ls, "app-01", "http", "acknowledged", True)
    refresh()
    expect(row).to_have_count(0, timeout=(REFRESH + 1) * 1000)
    expect(page.locator("#problems tr[data-host=db-01]")).to_be_visible()

    # A node nobody can ask (no Livestatus address): its hosts are in no count, so the wall
    # says so instead of looking all green; gone again once the node is.
    silent = NaemonNodeFactory.create(name="silent-poller", livestatus="")
    refresh()
    expect(page.locator("#banner")).to_contain_text(
        "Node silent-poller not watched", timeout=(REFRESH + 1) * 1000
    )
    expect(wall).to_have_attribute("data-status", "partial")
    silent.delete()
    refresh()
    expect(wall).to_have_attribute("data-status", "ok", timeout=(REFRESH + 1) * 1000)

    # The portal server stops (port closed, connections cut): "connection lost"; it starts
    # again on the same port and the wall resumes by itself, without a reload.
    polls: list[str] = []
    page.on(
        "response", lambda response: polls.append(response.url) if "/wall/data/" in response.url else None
    )
    portal.stop()
    assert portal.refuses_connections()
    expect(wall).to_have_attribute("data-status", "lost", timeout=(REFRESH + 2) * 1000)
    expect(page.locator("#banner")).to_contain_text("Connection lost")
    portal.start()
    refresh()
    expect(wall).to_have_attribute("data-status", "ok", timeout=10_000)
    expect(page.locator("#banner")).to_be_hidden()
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # not reloaded

    # Hours on a wall in seconds: a fast refresh, many polls; nodes and listeners do not grow.
    settings.WALL_REFRESH_SECONDS = FAST_REFRESH
    page.reload()
    expect(wall).to_have_attribute("data-refresh", str(FAST_REFRESH))
    expect(wall).to_have_attribute("data-status", "ok")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def run_polls(count: int) -> None:
        # Snapshots keep coming (new data every few polls) so the wall never turns stale.
        target = len(polls) + count
        deadline = time.monotonic() + 60
        while len(polls) < target:
            assert time.monotonic() < deadline, f"only {len(polls)} of {target} polls"
            refresh()
            page.wait_for_timeout(FAST_REFRESH * 1000)

    run_polls(10)  # warm up: caches, compiled code, the first layouts
    expect(wall).to_have_attribute("data-status", "ok")
    before = page_metrics(cdp, page)
    run_polls(POLLS)
    expect(wall).to_have_attribute("data-status", "ok")
    after = page_metrics(cdp, page)
    print(f"wall over {POLLS} polls: " + ", ".join(f"{k} {before[k]:.0f} -> {after[k]:.0f}" for k in METRICS))
    # Every poll replaces every panel: a leak would add a panel's nodes (dozens) per poll.
    assert after["JSEventListeners"] <= before["JSEventListeners"]
    assert after["Nodes"] <= before["Nodes"] + 10
    assert after["JSHeapUsedSize"] < before["JSHeapUsedSize"] * 1.5

    # The core stops: the node is unreachable, its groups grey, its problems kept as last known.
    wall_icinga.stop()
    summary = refresh()
    assert summary["unreachable"] == ["master"]
    expect(page.locator("[data-node=master]")).to_have_attribute(
        "data-reachable", "false", timeout=(REFRESH + 1) * 1000
    )
    expect(wall).to_have_attribute("data-status", "partial")
    expect(page.locator("#banner")).to_contain_text("Node master unreachable")
    expect(page.locator(".tile[data-group=web]")).to_have_attribute("data-severity", "stale")
    expect(page.locator("#problems tr[data-host=db-01]")).to_have_class(re.compile("stale"))

    # No refresh any more (the beat is down too): past the threshold the whole wall is stale.
    expect(wall).to_have_attribute("data-status", "stale", timeout=(STALE_AFTER + 3) * 1000)
    expect(page.locator("#banner")).to_contain_text("STALE")
    expect(wall).to_have_class(re.compile("is-stale"))
    page.screenshot(path=str(ARTIFACTS / "wall-stale.png"))
    body = json.loads(wall_settings.get(overview_store.KEY_PAYLOAD) or b"{}")
    assert body["unreachable"] == ["master"]
