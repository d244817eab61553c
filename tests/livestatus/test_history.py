"""An object's history from the ``log`` table, at the protocol level (Naemon's behaviour).

Naemon answers the log table in log-file order, oldest first, and applies ``Limit:`` in that
order: a limit would keep the oldest lines of the window. The detail page must show the newest.
(The real-server test of the same is test_pages.py::test_history_shows_state_changes_newest_first.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from livestatus import status
from livestatus.nodes import forget_clients
from registry.models import NaemonNode
from tests.livestatus.replay import ReplayServer, fixed16, header_value, json_body

T0 = 1_800_000_000


class NaemonLog:
    """A log table of ``count`` SERVICE ALERT lines, one a minute, oldest first (as Naemon answers)."""

    def __init__(self, count: int) -> None:
        self.requests: list[bytes] = []
        self.lines = [
            [
                T0 + 60 * i,
                1,
                "SERVICE ALERT",
                i % 4,
                1,
                f"line {i}",
                f"[{T0 + 60 * i}] SERVICE ALERT: line {i}",
                "",
            ]
            for i in range(count)
        ]
        # Two lines in the same second at the end: the later line is the newer.
        last = T0 + 60 * count
        self.lines.append([last, 1, "SERVICE ALERT", 2, 1, "same second, first", "", ""])
        self.lines.append([last, 1, "SERVICE ALERT", 0, 1, "same second, second", "", ""])

    def __call__(self, request: bytes) -> bytes:
        self.requests.append(request)
        if request.startswith(b"GET status"):
            return fixed16(200, json_body([["program_version"], ["1.4.1"]]))
        limit = header_value(request, "Limit")
        rows = self.lines[: int(limit)] if limit else self.lines  # Naemon: the first N in file order
        return fixed16(200, json_body(rows))


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget_clients()
    yield
    forget_clients()


def test_history_keeps_the_newest_rows_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert status.HISTORY_ROWS == 500  # the figures below
    core = NaemonLog(700)
    with ReplayServer(core, directory=tmp_path) as server:
        node = NaemonNode(name="master", livestatus=server.address)
        before = int(time.time())
        rows, error = status.history(node, "web-01", "http")
    assert error == "" and rows is not None
    assert len(rows) == status.HISTORY_ROWS
    assert [r["output"] for r in rows[:3]] == ["same second, second", "same second, first", "line 699"]
    # 2 + 498 lines kept: line 699 down to line 202; lines 0-201, the oldest, are left out.
    assert rows[-1]["output"] == "line 202"
    times = [r["time"] for r in rows]
    assert times == sorted(times, reverse=True)

    request = next(r for r in core.requests if r.startswith(b"GET log"))
    assert header_value(request, "Limit") is None  # a limit would keep the oldest lines
    since = int(
        next(line for line in request.decode().split("\n") if line.startswith("Filter: time >= ")).split()[-1]
    )
    assert before - status.HISTORY_SECONDS <= since <= int(time.time()) - status.HISTORY_SECONDS
    assert b"Filter: host_name = web-01\n" in request and b"Filter: service_description = http\n" in request


def test_a_core_without_a_log_table_gives_no_history_and_says_why(tmp_path: Path) -> None:
    def no_log(request: bytes) -> bytes:
        if request.startswith(b"GET status"):
            return fixed16(200, json_body([["program_version"], ["1.4.1"]]))
        return fixed16(404, b"Invalid GET request, no such table 'log'\n")

    with ReplayServer(no_log, directory=tmp_path) as server:
        rows, error = status.history(NaemonNode(name="master", livestatus=server.address), "web-01")
    assert rows is None
    assert error == "server answered 404: Invalid GET request, no such table 'log'"
    assert server.path not in error  # shown on the page: the message, not the address
