"""Fixtures for the Livestatus client: a real Icinga 2 daemon, and clients for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from livestatus.client import LivestatusClient
from tests.livestatus.icinga import IcingaServer, find_icinga2


def _must_have_services() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("PORTAL_TEST_SERVICES") == "true"


@pytest.fixture(scope="session")
def icinga_binary() -> str:
    """The icinga2 binary; missing → skip locally, fail in CI (the test command installs it)."""
    binary = find_icinga2()
    if binary is None:
        message = "icinga2 is not installed (Debian package icinga2)"
        if _must_have_services():
            pytest.fail(message + "; the test command must provide it", pytrace=False)
        pytest.skip(message)
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
