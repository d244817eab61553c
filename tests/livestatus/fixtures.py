"""Fixtures for the status pages, actions and API: their own Icinga 2, nodes, registry owners.

The status tests run their own Icinga 2 (``pages_icinga``, once per session) with objects
they alone change, so acknowledgements and downtimes here never meet the client tests'.
Test modules load it with ``pytest_plugins = ["tests.livestatus.fixtures"]``.

Initial states (set through passive results when the server starts):

- ``web-01`` UP; ``crit-me`` CRITICAL (with long output), ``warn-me`` WARNING,
  ``http`` and ``disk`` OK; every other service never checked (pending).
- ``db-01`` DOWN; ``postgres`` CRITICAL.
- the odd host UP, its ``disk`` UNKNOWN.
- ``unowned-01`` UP, not in the registry.
- service group ``frontend``: ``http`` (OK) and ``frontend-crit`` (CRITICAL); no other service
  is in a service group.
- ``acked-filter`` CRITICAL and acknowledged, ``downtime-filter`` WARNING and in a fixed
  downtime for a day: the acknowledged/downtime filters have real matches. No test changes them.
- ``history-me``: left to the history test (it changes its state and reads the ``log`` table,
  which this Icinga 2 serves from its compat log).
- ``availability-me``: left to the availability tests (same: state changes, the ``log`` table).
- ``toggle-*`` OK: left to test_toggle_actions (notifications and active checks off and on).

Registry: ``web-01`` belongs to the ``team`` fixture's team directly, ``db-01`` through its
host group ``databases``; ``outsider`` is in another team.

Tests run in any order and share the server: each changes only its own services, and no
test relies on another's change. (PYTEST_DONT_REWRITE: test modules import its helpers
before pytest loads it as a plugin.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from livestatus import nodes
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from livestatus.nodes import forget_clients
from monitoring_portal.models import Team
from registry.choices import NodeRole
from registry.models import DeployedHost, Host, HostGroup, NaemonNode
from tests.services.icinga import (
    ODD_HOST,
    IcingaServer,
    Service,
    free_tcp_port,
    wait_until,
)
from tests.services.icinga import (
    Host as IcingaHost,
)

PAGE_HOSTS = (
    IcingaHost(
        "web-01",
        services=(
            Service("http", groups=("frontend",)),
            Service("disk"),
            # A notes link that is a web address; an action "link" that is none (not shown as a link).
            Service(
                "crit-me",
                attributes={
                    "notes_url": "https://wiki.example.org/crit-me",
                    "action_url": "javascript:alert(1)",
                },
            ),
            Service("warn-me"),
            Service("ack-me"),
            Service("ack-page"),
            Service("unack-me"),
            Service("downtime-me"),
            Service("deldowntime-me"),
            Service("check-me", dummy_state=1, dummy_text="forced check ran"),
            Service("comment-me"),
            Service("outsider-me"),
            Service("Disk /var"),
            Service("frontend-crit", groups=("frontend",)),
            Service("acked-filter"),
            Service("downtime-filter"),
            Service("history-me"),
            Service("availability-me"),
            # test_toggle_actions: notifications and active checks switched off and back on.
            Service("toggle-notify"),
            Service("toggle-checks"),
            Service("toggle-bulk-a"),
            Service("toggle-bulk-b"),
        ),
        groups=("linux", "web"),
    ),
    IcingaHost("db-01", services=(Service("postgres"),), groups=("linux", "databases")),
    IcingaHost(ODD_HOST, services=(Service("disk"),)),
    IcingaHost("unowned-01", services=(Service("disk"),)),
)

#: (host, service, state, output) pushed when the server starts; the output of crit-me has a long part.
INITIAL_SERVICE_STATES = (
    ("web-01", "crit-me", 2, "CRITICAL - disk (sda) 99% full [x] a.b\\nlong line one\\nlong line two"),
    ("web-01", "warn-me", 1, "WARNING - load 7.1"),
    ("web-01", "http", 0, "HTTP OK"),
    ("web-01", "disk", 0, "DISK OK"),
    ("web-01", "ack-me", 2, "CRITICAL - to acknowledge"),
    ("web-01", "ack-page", 2, "CRITICAL - to acknowledge on the page"),
    ("web-01", "unack-me", 2, "CRITICAL - acknowledged, then not"),
    ("web-01", "outsider-me", 2, "CRITICAL - nobody else may touch"),
    ("web-01", "Disk /var", 1, "WARNING - slash in the name"),
    ("web-01", "frontend-crit", 2, "CRITICAL - frontend down"),
    ("web-01", "acked-filter", 2, "CRITICAL - acknowledged from the start"),
    ("web-01", "downtime-filter", 1, "WARNING - in downtime from the start"),
    ("db-01", "postgres", 2, "CRITICAL - connection refused"),
    *(
        ("web-01", name, 0, "OK - toggled")
        for name in ("toggle-notify", "toggle-checks", "toggle-bulk-a", "toggle-bulk-b")
    ),
    (ODD_HOST, "disk", 3, "UNKNOWN - odd host"),
    ("unowned-01", "disk", 0, "DISK OK"),
)
#: Every service of the test server (node health counts them).
SERVICE_COUNT = sum(len(host.services) for host in PAGE_HOSTS)
INITIAL_HOST_STATES = (
    ("web-01", 0, "PING OK"),
    ("db-01", 1, "PING CRITICAL - host down"),
    (ODD_HOST, 0, "PING OK"),
    ("unowned-01", 0, "PING OK"),
)


def service_state(client: LivestatusClient, host: str, service: str, *columns: str) -> dict[str, Any]:
    """One service's row straight from the server (not through the code under test)."""
    rows = client.query(
        LivestatusQuery("services")
        .select("state", "plugin_output", *columns)
        .where(Filter("host_name", "=", host), Filter("description", "=", service))
    )
    assert len(rows) == 1, rows
    return rows[0]


def wait_for(probe: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """Poll until ``probe()`` is truthy (the core applies commands asynchronously)."""
    return wait_until(probe, timeout=timeout, interval=0.1, what=what)


def has_state(client: LivestatusClient, host: str, service: str, state: int) -> Callable[[], bool]:
    def probe() -> bool:
        row = service_state(client, host, service, "has_been_checked")
        return bool(row["has_been_checked"]) and row["state"] == state

    return probe


@pytest.fixture(scope="session")
def pages_icinga(icinga_binary: str) -> Iterator[IcingaServer]:
    """An Icinga 2 for the status tests, with the initial states above."""
    server = IcingaServer(binary=icinga_binary, name="pages", hosts=PAGE_HOSTS)
    server.start()
    try:
        with LivestatusClient(server.unix_address, timeout=10, retry_window=5) as client:
            for host, state, output in INITIAL_HOST_STATES:
                client.command(commands.process_host_check_result(host, state, output))
            for host, service, state, output in INITIAL_SERVICE_STATES:
                client.command(commands.process_service_check_result(host, service, state, output))
            for host, service, state, _ in INITIAL_SERVICE_STATES:
                wait_for(has_state(client, host, service, state), f"initial state of {host}/{service}")
            client.command(
                commands.acknowledge_service(
                    "web-01", "acked-filter", "known", author="fixture", notify=False, persistent=True
                )
            )
            now = int(time.time())
            client.command(
                commands.schedule_service_downtime(
                    "web-01", "downtime-filter", now - 60, now + 86400, "maintenance", author="fixture"
                )
            )
            wait_for(
                lambda: service_state(client, "web-01", "acked-filter", "acknowledged")["acknowledged"],
                "acked-filter acknowledged",
            )
            wait_for(
                lambda: (
                    service_state(client, "web-01", "downtime-filter", "scheduled_downtime_depth")[
                        "scheduled_downtime_depth"
                    ]
                    > 0
                ),
                "downtime-filter in downtime",
            )
        yield server
    finally:
        server.stop()


@pytest.fixture
def live(pages_icinga: IcingaServer) -> Iterator[LivestatusClient]:
    """A client of the test server, independent of the portal's cached clients."""
    with LivestatusClient(pages_icinga.unix_address, timeout=10, retry_window=5) as client:
        yield client


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget cached clients and clusters around a test; a dead node costs 0.2 s, not 2."""
    monkeypatch.setattr("livestatus.nodes.RETRY_WINDOW", 0.2)
    monkeypatch.setattr("livestatus.nodes.CONNECT_TIMEOUT", 1.0)
    forget_clients()
    nodes.forget_clusters()
    yield
    forget_clients()
    nodes.forget_clusters()


@pytest.fixture
def master(db: None, pages_icinga: IcingaServer, fresh_clients: None) -> NaemonNode:
    """The node of the test server (over the unix socket)."""
    return NaemonNode.objects.create(
        name="master",
        role=NodeRole.MASTER,
        livestatus=pages_icinga.unix_address,
        config_dir="/var/lib/portal-test/master/portal.d",
    )


@pytest.fixture
def dead_node(db: None, fresh_clients: None) -> NaemonNode:
    """A poller whose Livestatus address nothing listens on."""
    return NaemonNode.objects.create(
        name="dead-poller",
        role=NodeRole.POLLER,
        livestatus=f"tcp:127.0.0.1:{free_tcp_port()}",
        config_dir="/var/lib/portal-test/dead/portal.d",
    )


@pytest.fixture
def owned(team: Team, request: pytest.FixtureRequest) -> dict[str, Host]:
    """web-01 owned by the team directly, db-01 through its host group; unowned-01 not registered.

    Both count as deployed (a confirmed deployment put them there) on the nodes the test uses:
    owners may act on a registry host only there.
    """
    databases = HostGroup.objects.create(name="databases", team=team)
    web = Host.objects.create(name="web-01", team=team)
    db_host = Host.objects.create(name="db-01")
    db_host.hostgroups.add(databases)
    for fixture in ("master", "dead_node", "detail_node"):
        if fixture in request.fixturenames:
            node = request.getfixturevalue(fixture)
            DeployedHost.objects.record(node, {"web-01": web.pk, "db-01": db_host.pk})
    return {"web-01": web, "db-01": db_host}


@pytest.fixture
def command_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command any LivestatusClient sends during the test (they are still sent)."""
    sent: list[str] = []
    original = LivestatusClient.command

    def spy(self: LivestatusClient, command: commands.Command, *, timestamp: int | None = None) -> None:
        sent.append(command.name)
        original(self, command, timestamp=timestamp)

    monkeypatch.setattr(LivestatusClient, "command", spy)
    return sent


@pytest.fixture
def browser_for(db: None) -> Callable[[Any], Client]:
    """A Django test client logged in as ``user`` (None: anonymous).

    (``client`` is the Livestatus client in this directory's conftest.)
    """

    def make(user: Any) -> Client:
        browser = Client()
        if user is not None:
            browser.force_login(user)
        return browser

    return make
