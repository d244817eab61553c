"""A node that does not answer is remembered for a short time: the next page does not wait for it.

The dead node is a loopback socket that accepts connections and never answers (a hung core):
asking it costs the full read timeout. The oracle is the HTTP client's own timeout on the
second page load, shorter than that read timeout: no wall-clock assertion.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from livestatus import nodes
from registry.choices import NodeRole
from registry.models import NaemonNode

# The dead node costs a page this long (the read timeout); the second load may take at most
# PAGE_TIMEOUT, which a page that asked the node again could not meet.
DEAD_NODE_TIMEOUT = 6.0
PAGE_TIMEOUT = 3.0
WINDOW = 60


@pytest.fixture
def silent_socket() -> Iterator[str]:
    """A loopback Livestatus address that accepts connections (backlog) and never replies."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"tcp:127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def remembering(settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    settings.REDIS_URL = redis_url
    settings.LIVESTATUS_UNREACHABLE_SECONDS = WINDOW
    monkeypatch.setattr(nodes, "TIMEOUT", DEAD_NODE_TIMEOUT)
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter("livestatus:silent:*"):
        store.delete(key)
    nodes.forget_clients()
    nodes.forget_clusters()
    yield store
    nodes.forget_clients()
    nodes.forget_clusters()
    nodes.forget_silent()


def login(user: User) -> str:
    """A session cookie of ``user`` (the livestatus tests' ``client`` fixture is a Livestatus client)."""
    browser = Client()
    browser.force_login(user)
    return str(browser.cookies["sessionid"].value)


def get(live_server: LiveServer, session: str, path: str, timeout: float) -> str:
    request = urllib.request.Request(f"{live_server.url}{path}", headers={"Cookie": f"sessionid={session}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(response.read().decode())


@pytest.mark.services
def test_second_load_does_not_wait_for_the_dead_node_and_says_when_it_is_asked_again(
    transactional_db: None,
    live_server: LiveServer,
    remembering: redis.Redis,
    silent_socket: str,
    owner: User,
) -> None:
    NaemonNode.objects.create(name="hung", role=NodeRole.MASTER, livestatus=silent_socket)
    session = login(owner)

    first = get(live_server, session, "/status/hosts/", timeout=DEAD_NODE_TIMEOUT * 3)
    assert 'data-node="hung"' in first  # the first load waited and said the node did not answer

    # Remembered in Redis, not in this process: every web worker and the wall's refresh see it.
    keys = [key.decode() for key in remembering.scan_iter("livestatus:silent:*")]
    assert keys == [f"livestatus:silent:hung={silent_socket}"]
    assert 0 < remembering.ttl(keys[0]) <= WINDOW
    nodes.forget_clients()  # a fresh process would start without clients: the memory is Redis's
    nodes.forget_clusters()

    second = get(live_server, session, "/status/hosts/", timeout=PAGE_TIMEOUT)  # times out if it asks
    assert 'data-node="hung"' in second
    assert "retrying in " in second and "did not answer" in second


@pytest.mark.services
def test_without_the_memory_every_load_asks_the_node_again(
    transactional_db: None,
    live_server: LiveServer,
    remembering: redis.Redis,
    silent_socket: str,
    owner: User,
    settings: Settings,
) -> None:
    settings.LIVESTATUS_UNREACHABLE_SECONDS = 0
    NaemonNode.objects.create(name="hung", role=NodeRole.MASTER, livestatus=silent_socket)
    session = login(owner)
    get(live_server, session, "/status/hosts/", timeout=DEAD_NODE_TIMEOUT * 3)
    assert list(remembering.scan_iter("livestatus:silent:*")) == []
    with pytest.raises(TimeoutError):
        get(live_server, session, "/status/hosts/", timeout=PAGE_TIMEOUT)
