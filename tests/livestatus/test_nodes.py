"""The portal's per-process clients of its nodes: a small pool per node, replaced on address edits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from livestatus import nodes
from livestatus.client import LivestatusQuery
from livestatus.nodes import client_for, forget_clients
from registry.models import NaemonNode
from tests.livestatus.test_client import EXPECTED, NAEMON_STATUS, SERVICES, HoldUntil, naemon, run_together
from tests.services.replay import ReplayServer, fixed16, json_body


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget_clients()
    yield
    forget_clients()


def test_two_status_pages_on_one_slow_node_do_not_wait_for_each_other(tmp_path: Path) -> None:
    slow = HoldUntil(2)
    with ReplayServer(slow, directory=tmp_path) as srv:
        node = NaemonNode(name="master", livestatus=srv.address)  # client_for reads name and address only
        client = client_for(node)
        assert client.max_connections == nodes.POOL_SIZE >= 2
        client._dialect = "naemon"  # HoldUntil holds every query but GET status; skip detection
        results = run_together(lambda: client_for(node).query(SERVICES), 2)
        assert results == [EXPECTED, EXPECTED]
        assert slow.most_at_once == 2  # both were in the core at once, on two connections
        assert client_for(node) is client and client.connections_opened == 2


def moved(request: bytes) -> bytes:
    """The new core: Naemon, with one host."""
    if request.startswith(b"GET status"):
        return fixed16(200, json_body(list(NAEMON_STATUS)))
    return fixed16(200, json_body([["moved"]]))


def test_a_changed_address_closes_the_old_connections(tmp_path: Path) -> None:
    with (
        ReplayServer(naemon(), directory=tmp_path) as old_server,
        ReplayServer(moved, directory=tmp_path) as new_server,
    ):
        node = NaemonNode(name="master", livestatus=old_server.address)
        old = client_for(node)
        old.query(SERVICES)
        assert old.idle_connections == 1
        node.livestatus = new_server.address
        new = client_for(node)
        assert new is not old and new.address != old.address
        assert old.idle_connections == 0  # closed, not left open until the process ends
        assert new.query(LivestatusQuery("hosts").select("name")) == [{"name": "moved"}]
        assert client_for(node) is new
