"""Fixtures for the Livestatus client: a real Icinga 2 daemon, and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from livestatus.client import LivestatusClient
from tests.services.icinga import IcingaServer, find_icinga2
from tests.services.required import require_service


@pytest.fixture(scope="session")
def icinga_binary() -> str:
    """The icinga2 binary; missing → skip locally, fail in CI (the test command installs it)."""
    binary = find_icinga2()
    require_service("Icinga 2", binary is not None, "icinga2 is not installed (Debian package icinga2)")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def icinga(icinga_binary: str) -> Iterator[IcingaServer]:
    """One Icinga 2 daemon with Livestatus for the whole session."""
    server = IcingaServer(binary=icinga_binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(icinga: IcingaServer) -> Iterator[LivestatusClient]:
    """A client on the unix socket; the dialect is detected."""
    with LivestatusClient(icinga.unix_address, timeout=10, retry_window=5) as ls:
        yield ls


@pytest.fixture
def tcp_client(icinga: IcingaServer) -> Iterator[LivestatusClient]:
    """A client on the TCP listener."""
    with LivestatusClient(icinga.tcp_address, timeout=10, retry_window=5) as ls:
        yield ls
