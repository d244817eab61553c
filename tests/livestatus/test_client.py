"""The client against a scripted loopback server: Naemon's dialect, errors, retries, fan-out.

The real-server tests are in test_icinga.py; here a small server plays Naemon
(0/1 flags, custom variables as a dict, command errors in plain text) and
misbehaves on purpose (garbage, early close, silence, a missing socket).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from livestatus.client import (
    NODE_KEY,
    Address,
    Aggregate,
    Filter,
    LivestatusBadResponse,
    LivestatusClient,
    LivestatusCluster,
    LivestatusCommandError,
    LivestatusConnectError,
    LivestatusConnectionClosed,
    LivestatusQuery,
    LivestatusQueryError,
    LivestatusTimeout,
    UnknownColumnError,
    UnsafeValueError,
    UnsupportedQueryError,
    commands,
    detect_dialect,
    merge_stats,
)
from livestatus.client.rows import (
    rows_to_dicts,
    to_bool,
    to_custom_variables,
)
from tests.services.replay import CLOSE, HANG, ReplayServer, fixed16, header_value, json_body

COLUMNS = ("host_name", "description", "state", "acknowledged", "custom_variables")
NAEMON_ROWS = [
    ["web-01", "http", 2, 1, {"OWNER": "team-web"}],
    ["web-01", "disk", 0, 0, {}],
]
ICINGA_ROWS = [
    ["web-01", "http", 2, True, [["OWNER", "team-web"]]],
    ["web-01", "disk", 0, False, []],
]
EXPECTED = [
    {
        "host_name": "web-01",
        "description": "http",
        "state": 2,
        "acknowledged": True,
        "custom_variables": {"OWNER": "team-web"},
    },
    {
        "host_name": "web-01",
        "description": "disk",
        "state": 0,
        "acknowledged": False,
        "custom_variables": {},
    },
]
NAEMON_STATUS = (
    ["program_version", "program_start", "nagios_pid", "enable_notifications"],
    ["1.4.1", 1700000000, 4242, 1],
)


def naemon(rows: list[list[object]] | None = None) -> Callable[[bytes], bytes]:
    """A handler that answers like Naemon: status, the services table, commands."""

    def handle(request: bytes) -> bytes:
        if request.startswith(b"COMMAND"):
            if b"nosuchhost" in request:
                return b"400: No such host 'nosuchhost'\n"
            return b""
        if request.startswith(b"GET status"):
            return fixed16(200, json_body(list(NAEMON_STATUS)))
        if request.startswith(b"GET nosuchtable"):
            return fixed16(404, b"Invalid GET request, no such table 'nosuchtable'\n")
        return fixed16(200, json_body(rows if rows is not None else NAEMON_ROWS))

    return handle


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReplayServer]:
    with ReplayServer(naemon(), directory=tmp_path) as srv:
        yield srv


def make_client(address: str, **options: object) -> LivestatusClient:
    options.setdefault("timeout", 2.0)
    options.setdefault("retry_window", 0.5)
    return LivestatusClient(address, **options)  # type: ignore[arg-type]


SERVICES = LivestatusQuery("services").select(*COLUMNS)


# -- dialect normalisation -------------------------------------------------------------


def test_both_dialects_give_the_same_rows() -> None:
    naemon_rows = rows_to_dicts("services", list(COLUMNS), [list(r) for r in NAEMON_ROWS])
    icinga_rows = rows_to_dicts("services", list(COLUMNS), [list(r) for r in ICINGA_ROWS])
    assert naemon_rows == icinga_rows == EXPECTED
    assert all(type(row["acknowledged"]) is bool for row in naemon_rows + icinga_rows)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (1, True),
        (0, False),
        (True, True),
        (False, False),
        ("1", True),
        ("false", False),
        ("", None),  # Naemon's answer for a column it does not know
        (None, None),  # Icinga's null
        ("maybe", None),
    ],
)
def test_to_bool(raw: object, expected: bool | None) -> None:
    assert to_bool(raw) is expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"OWNER": "a", "TIER": "1"}, {"OWNER": "a", "TIER": "1"}),
        ([["owner", "a"], ["tier", "1"]], {"owner": "a", "tier": "1"}),
        ([], {}),
        ({}, {}),
        ("", {}),
        (None, {}),
        ([["broken"], ["ok", "v"]], {"ok": "v"}),
    ],
)
def test_to_custom_variables(raw: object, expected: dict[str, str]) -> None:
    assert to_custom_variables(raw) == expected


def test_flags_per_table_and_prefixed_columns() -> None:
    rows = rows_to_dicts(
        "services",
        ["host_acknowledged", "host_custom_variables", "acknowledgement_type", "state"],
        [[1, {"OS": "linux"}, 1, 1]],
    )
    # acknowledgement_type and state are numbers, not flags: untouched.
    assert rows == [
        {
            "host_acknowledged": True,
            "host_custom_variables": {"OS": "linux"},
            "acknowledgement_type": 1,
            "state": 1,
        }
    ]
    status = rows_to_dicts("status", ["enable_notifications", "nagios_pid"], [[1, 1]])
    assert status == [{"enable_notifications": True, "nagios_pid": 1}]
    # Unknown tables are passed through.
    assert rows_to_dicts("log", ["acknowledged"], [[1]]) == [{"acknowledged": 1}]
    with pytest.raises(LivestatusBadResponse):
        rows_to_dicts("services", ["a", "b"], [[1]])


def test_detect_dialect() -> None:
    assert detect_dialect("r2.13.6-1-icinga2") == "icinga2"
    assert detect_dialect("1.4.1") == "naemon"
    assert detect_dialect("1.4.1-1.el9") == "naemon"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("unix:/var/cache/naemon/live", Address("unix", path="/var/cache/naemon/live")),
        ("tcp:naemon.example.com:6557", Address("tcp", host="naemon.example.com", port=6557)),
        ("tcp:127.0.0.1:6557", Address("tcp", host="127.0.0.1", port=6557)),
        ("tcp:[::1]:6557", Address("tcp", host="::1", port=6557)),
    ],
)
def test_address_parse(text: str, expected: Address) -> None:
    assert Address.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    ["/var/live", "unix:relative", "tcp:host", "tcp:host:0", "tcp:host:70000", "http://x", ""],
)
def test_address_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a Livestatus address"):
        Address.parse(text)


# -- the wire -----------------------------------------------------------------------------


def test_query_against_naemon(server: ReplayServer) -> None:
    with make_client(server.address) as client:
        assert client.query(SERVICES) == EXPECTED
        assert client.dialect == "naemon"
    # Once per client: the dialect, then the catalogue the column check uses.
    assert [r.split(b"\n", 1)[0] for r in server.requests] == [b"GET status", b"GET columns", b"GET services"]
    assert server.requests[2] == SERVICES.encode(keepalive=True)[:-1]


def test_keepalive_reuses_one_connection(server: ReplayServer) -> None:
    with make_client(server.address) as client:
        for _ in range(3):
            assert client.query(SERVICES) == EXPECTED
        assert client.connections_opened == 1
        assert client.requests_sent == 2 + 3  # GET status and GET columns once, then the queries
    assert server.connections == 1


def test_without_keepalive_each_query_connects(tmp_path: Path) -> None:
    with (
        ReplayServer(naemon(), directory=tmp_path) as srv,
        make_client(srv.address, keepalive=False, check_columns=False) as client,
    ):
        client.query(SERVICES)
        client.query(SERVICES)
        assert client.connections_opened == 2
        assert b"KeepAlive" not in srv.requests[0]


def test_server_closing_a_kept_alive_connection_is_transparent(tmp_path: Path) -> None:
    # Naemon closes idle keep-alive connections; the next query must just reconnect.
    with (
        ReplayServer(naemon(), directory=tmp_path, honour_keepalive=False) as srv,
        make_client(srv.address, dialect="naemon", check_columns=False) as client,
    ):
        for _ in range(3):
            assert client.query(SERVICES) == EXPECTED
        assert client.connections_opened == 3


def test_no_columns_uses_the_header_row(server: ReplayServer) -> None:
    with make_client(server.address) as client:
        status = client.status()
    assert status == {
        "program_version": "1.4.1",
        "program_start": 1700000000,
        "nagios_pid": 4242,
        "enable_notifications": True,
    }


def test_stats_rows_are_named(tmp_path: Path) -> None:
    with ReplayServer(naemon([["web-01", 3, 1], ["db-01", 2, 0]]), directory=tmp_path) as srv:
        query = (
            LivestatusQuery("services")
            .select("host_name")
            .stats(ok=Filter("state", "=", 0), crit=Filter("state", "=", 2))
        )
        with make_client(srv.address) as client:
            assert client.query(query) == [
                {"host_name": "web-01", "ok": 3, "crit": 1},
                {"host_name": "db-01", "ok": 2, "crit": 0},
            ]


def test_error_status_is_raised_with_the_message(server: ReplayServer) -> None:
    with make_client(server.address) as client:
        with pytest.raises(LivestatusQueryError) as caught:
            client.query(LivestatusQuery("nosuchtable"))
        assert caught.value.status == 404
        assert caught.value.server_message == "Invalid GET request, no such table 'nosuchtable'"
        assert not caught.value.retryable
        assert server.address in str(caught.value)
        assert caught.value.message == "server answered 404: Invalid GET request, no such table 'nosuchtable'"
        # The connection was dropped after the error and the next query works on a new one.
        opened = client.connections_opened
        assert client.query(SERVICES) == EXPECTED
        assert client.connections_opened == opened + 1


def test_icinga_stack_traces_are_cut(tmp_path: Path) -> None:
    body = b"Error: Can't convert '' to a floating point number.\n\nStacktrace:\n 0# __cxa_throw\n"
    with (
        ReplayServer(lambda request: fixed16(452, body), directory=tmp_path) as srv,
        make_client(srv.address) as client,
        pytest.raises(LivestatusQueryError) as caught,
    ):
        client.query(SERVICES)
    assert caught.value.server_message == "Error: Can't convert '' to a floating point number."


@pytest.mark.parametrize(
    "reply, error",
    [
        (b"garbage garbage!", LivestatusBadResponse),
        (b"200 xxxxxxxxxxx\n", LivestatusBadResponse),
        (b"2000          2\n[]", LivestatusBadResponse),
        (fixed16(200, b"[[1, 2"), LivestatusBadResponse),
        (fixed16(200, b'{"not": "rows"}'), LivestatusBadResponse),
        (fixed16(200, b"[[1]]")[:-2], LivestatusConnectionClosed),  # body cut short
    ],
)
def test_bad_replies(tmp_path: Path, reply: bytes, error: type[Exception]) -> None:
    with (
        ReplayServer(lambda request: reply, directory=tmp_path, honour_keepalive=False) as srv,
        make_client(srv.address, retry_window=0) as client,
        pytest.raises(error),
    ):
        client.query(SERVICES)


def test_invalid_utf8_in_plugin_output_is_replaced(tmp_path: Path) -> None:
    body = b'[["web-01","caf\xe9"]]'
    with (
        ReplayServer(lambda request: fixed16(200, body), directory=tmp_path) as srv,
        make_client(srv.address, dialect="naemon") as client,
    ):
        rows = client.query(LivestatusQuery("services").select("host_name", "plugin_output"))
    assert rows == [{"host_name": "web-01", "plugin_output": "caf\ufffd"}]


def test_silence_times_out(tmp_path: Path) -> None:
    with (
        ReplayServer(lambda request: HANG, directory=tmp_path) as srv,
        make_client(srv.address, timeout=0.3) as client,
    ):
        started = time.monotonic()
        with pytest.raises(LivestatusTimeout) as caught:
            client.query(SERVICES)
        assert time.monotonic() - started < 2
        assert caught.value.retryable


def test_missing_socket_is_a_retryable_connect_error(tmp_path: Path) -> None:
    address = f"unix:{tmp_path / 'nothing-here.sock'}"
    with make_client(address, retry_window=0.3) as client:
        started = time.monotonic()
        with pytest.raises(LivestatusConnectError) as caught:
            client.query(SERVICES)
        elapsed = time.monotonic() - started
    assert 0.2 < elapsed < 2  # it retried for the window, then gave up
    assert caught.value.retryable
    assert "nothing-here.sock" in str(caught.value)


def test_refused_tcp_is_a_connect_error() -> None:
    with ReplayServer(naemon(), tcp=True) as srv:
        address = srv.address
    with make_client(address, retry_window=0) as client, pytest.raises(LivestatusConnectError):
        client.query(SERVICES)


def test_socket_that_appears_within_the_window_is_used(tmp_path: Path) -> None:
    """What a reload looks like from outside: the socket is gone for a moment."""
    path = tmp_path / "late.sock"
    started: list[ReplayServer] = []

    def appear() -> None:
        srv = ReplayServer(naemon(), path=path)
        srv.start()
        started.append(srv)

    timer = threading.Timer(0.3, appear)
    timer.start()
    try:
        with make_client(f"unix:{path}", retry_window=5) as client:
            assert client.query(SERVICES) == EXPECTED
            assert client.connections_opened == 1
    finally:
        timer.join()
        for srv in started:
            srv.stop()


# -- commands -------------------------------------------------------------------------------


def test_command_goes_over_its_own_connection(server: ReplayServer) -> None:
    with make_client(server.address) as client:
        client.query(SERVICES)
        client.command(commands.schedule_forced_service_check("web-01", "http", 5), timestamp=9)
        client.query(SERVICES)
        assert client.connections_opened == 2  # one kept-alive query connection + the command
    assert b"COMMAND [9] SCHEDULE_FORCED_SVC_CHECK;web-01;http;5\n" in server.requests


def test_naemon_command_rejection_is_raised(server: ReplayServer) -> None:
    with make_client(server.address) as client, pytest.raises(LivestatusCommandError) as caught:
        client.command(commands.remove_host_acknowledgement("nosuchhost"))
    assert "No such host 'nosuchhost'" in str(caught.value)
    assert not caught.value.retryable


def test_command_to_a_missing_socket(tmp_path: Path) -> None:
    with make_client(f"unix:{tmp_path / 'gone.sock'}", retry_window=0) as client:
        with pytest.raises(LivestatusConnectError) as caught:
            client.command(commands.restart_program())
        assert client.requests_sent == 0 and client.connections_opened == 0
        assert caught.value.retryable


def test_hostile_filter_is_refused_before_anything_is_sent(server: ReplayServer) -> None:
    with make_client(server.address) as client:
        with pytest.raises(UnsafeValueError):
            client.query(
                LivestatusQuery("services").where(
                    Filter("description", "=", "x\nCOMMAND [1] SHUTDOWN_PROGRAM")
                )
            )
        assert client.requests_sent == 0 and client.connections_opened == 0
    assert server.requests == []


# -- dialect-specific behaviour --------------------------------------------------------------


def recording_icinga(tmp_path: Path, rows: list[list[object]]) -> ReplayServer:
    """A server that answers like Icinga 2: ignores Sort/Offset, 452 for unknown columns."""

    def handle(request: bytes) -> bytes:
        columns = (header_value(request, "Columns") or "").split()
        if "nosuch" in columns:
            return fixed16(
                452,
                b"Error: Column 'nosuch' does not exist in table 'services'.\n\nStacktrace:\n",
            )
        return fixed16(200, json_body([row[: len(columns)] for row in rows]))

    return ReplayServer(handle, directory=tmp_path)


def test_icinga_sort_and_offset_are_done_by_the_client(tmp_path: Path) -> None:
    rows: list[list[object]] = [["b", 1], ["c", 3], ["a", 2], ["d", 0]]
    with (
        recording_icinga(tmp_path, rows) as srv,
        make_client(srv.address, dialect="icinga2") as client,
    ):
        query = (
            LivestatusQuery("services")
            .select("description", "state")
            .sort("state", "desc")
            .offset(1)
            .limit(2)
        )
        assert client.query(query) == [
            {"description": "a", "state": 2},
            {"description": "b", "state": 1},
        ]
        # A sort column that is not selected is fetched, used, and dropped.
        by_state = LivestatusQuery("services").select("description").sort("state")
        assert [r["description"] for r in client.query(by_state)] == ["d", "b", "a", "c"]
        assert client.query(by_state)[0] == {"description": "d"}
        with pytest.raises(UnsupportedQueryError):
            client.query(LivestatusQuery("services").select("description").auth_user("alice"))
        sent = b"".join(srv.requests)
        assert b"Sort:" not in sent and b"Offset:" not in sent and b"Limit:" not in sent
        assert b"AuthUser" not in sent


def test_icinga_missing_columns_answer_like_naemon(tmp_path: Path) -> None:
    with (
        recording_icinga(tmp_path, [["web-01", 0]]) as srv,
        make_client(srv.address, dialect="icinga2") as client,
    ):
        query = LivestatusQuery("services").select("host_name", "nosuch", "state")
        expected = [{"host_name": "web-01", "nosuch": "", "state": 0}]
        assert client.query(query) == expected
        assert client.query(query) == expected  # remembered: no second 452
    assert sum(b"nosuch" in r for r in srv.requests) == 1


# -- many nodes --------------------------------------------------------------------------------


def test_cluster_tags_rows_and_lists_unreachable_nodes(tmp_path: Path) -> None:
    with (
        ReplayServer(naemon(), directory=tmp_path) as one,
        ReplayServer(naemon(), tcp=True) as two,
        LivestatusCluster(
            [("one", one.address), ("two", two.address), ("down", f"unix:{tmp_path}/x.sock")],
            retry_window=0.1,
        ) as cluster,
    ):
        result = cluster.query(SERVICES)
        assert [row[NODE_KEY] for row in result.rows] == ["one", "one", "two", "two"]
        assert [{k: v for k, v in r.items() if k != NODE_KEY} for r in result.rows] == (EXPECTED + EXPECTED)
        assert [e.node for e in result.unreachable] == ["down"]
        assert isinstance(result.unreachable[0].error, LivestatusConnectError)
        assert result.unreachable[0].retryable
        assert not result.complete
        statuses = cluster.status()
        assert sorted(r[NODE_KEY] for r in statuses.rows) == ["one", "two"]
        cluster.command("two", commands.restart_program())
        assert any(r.startswith(b"COMMAND") for r in two.requests)
        assert not any(r.startswith(b"COMMAND") for r in one.requests)
        with pytest.raises(KeyError, match="known"):
            cluster.command("three", commands.restart_program())


def test_cluster_sums_grouped_stats(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    query = (
        LivestatusQuery("services")
        .select("host_name")
        .stats(ok=Filter("state", "=", 0), crit=Filter("state", "=", 2))
        .stats(worst=Aggregate("max", "state"), total=Aggregate("sum", "state"))
    )
    with (
        ReplayServer(naemon([["web", 1, 2, 2, 4]]), directory=tmp_path / "a") as a,
        ReplayServer(naemon([["web", 3, 1, 3, 5], ["db", 4, 0, 0, 0]]), directory=tmp_path / "b") as b,
        LivestatusCluster({"a": a.address, "b": b.address}) as cluster,
    ):
        result = cluster.query(query)
        assert result.rows == [
            {"host_name": "web", "ok": 4, "crit": 3, "worst": 3, "total": 9},
            {"host_name": "db", "ok": 4, "crit": 0, "worst": 0, "total": 0},
        ]
        assert result.per_node["b"][1]["host_name"] == "db"
        with pytest.raises(UnsupportedQueryError, match="avg"):
            cluster.query(LivestatusQuery("services").stats(a=Aggregate("avg", "latency")))


def test_merge_stats_with_list_group_keys() -> None:
    query = LivestatusQuery("hosts").select("groups").stats(n=Filter("state", "=", 0))
    merged = merge_stats(
        query,
        {"a": [{"groups": ["linux"], "n": 1}], "b": [{"groups": ["linux"], "n": 2}]},
    )
    assert merged == [{"groups": ["linux"], "n": 3}]


def test_cluster_pages_the_merged_rows(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    query = LivestatusQuery("services").select("description", "state").sort("state", "desc")
    with (
        ReplayServer(naemon([["x", 1], ["y", 0]]), directory=tmp_path / "a") as a,
        ReplayServer(naemon([["z", 2]]), directory=tmp_path / "b") as b,
        LivestatusCluster({"a": a.address, "b": b.address}) as cluster,
    ):
        rows = cluster.query(query.offset(1).limit(1)).rows
        assert rows == [{"description": "x", "state": 1, NODE_KEY: "a"}]
        # Each node was asked for offset+limit rows, sorted, without an offset.
        assert b"Limit: 2\n" in a.requests[-1] and b"Offset" not in a.requests[-1]


def test_close_reply_is_connection_closed(tmp_path: Path) -> None:
    with (
        ReplayServer(lambda request: CLOSE, directory=tmp_path) as srv,
        make_client(srv.address, retry_window=0.2) as client,
        pytest.raises(LivestatusConnectionClosed) as caught,
    ):
        client.query(SERVICES)
    assert caught.value.retryable


def test_naemon_gets_sort_offset_and_auth_user_on_the_wire(server: ReplayServer) -> None:
    query = (
        LivestatusQuery("services")
        .select(*COLUMNS)
        .sort("state", "desc")
        .offset(5)
        .limit(2)
        .auth_user("alice")
    )
    with make_client(server.address) as client:  # dialect detected from GET status
        assert client.query(query) == EXPECTED
    assert server.requests[0].startswith(b"GET status")
    assert server.requests[2] == query.encode(keepalive=True)[:-1]


def test_one_client_is_safe_to_share_between_threads(server: ReplayServer) -> None:
    errors: list[BaseException] = []
    with make_client(server.address) as client:

        def work() -> None:
            try:
                for _ in range(20):
                    assert client.query(SERVICES) == EXPECTED
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        assert client.requests_sent == 2 + 160  # + GET status and GET columns, once
        assert client.connections_opened == 1


class HoldUntil:
    """A slow core: each query is held until ``count`` queries have arrived (or ``give_up`` s pass).

    A client that sends one query at a time can never get two into the server at once: the
    held query is then answered with an error after ``give_up`` seconds, and the test fails
    on the error, not on a clock.
    """

    def __init__(self, count: int, give_up: float = 10.0) -> None:
        self.count = count
        self.give_up = give_up
        self.arrived = 0
        self.most_at_once = 0
        self._busy = 0
        self._cond = threading.Condition()

    def __call__(self, request: bytes) -> bytes:
        if request.startswith(b"GET status"):
            return fixed16(200, json_body(list(NAEMON_STATUS)))
        with self._cond:
            self.arrived += 1
            self._busy += 1
            self.most_at_once = max(self.most_at_once, self._busy)
            self._cond.notify_all()
            together = self._cond.wait_for(lambda: self.arrived >= self.count, timeout=self.give_up)
            self._busy -= 1
        if not together:
            return fixed16(500, b"held alone: the other query never arrived\n")
        return fixed16(200, json_body(NAEMON_ROWS))


def run_together(work: Callable[[], object], count: int) -> list[object]:
    """Run ``work`` in ``count`` threads at once; its results, or the exceptions raised."""
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = work()
        except BaseException as exc:  # reported by the caller
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_a_slow_query_does_not_hold_up_the_next_one(tmp_path: Path) -> None:
    slow = HoldUntil(2)
    with (
        ReplayServer(slow, directory=tmp_path) as srv,
        make_client(srv.address, dialect="naemon", timeout=15, max_connections=4) as client,
    ):
        started = time.monotonic()
        results = run_together(lambda: client.query(SERVICES), 2)
        elapsed = time.monotonic() - started
        assert results == [EXPECTED, EXPECTED]
        # Both were in the server at once: done in one delay, long before the 10 s give-up.
        assert slow.most_at_once == 2 and elapsed < slow.give_up
        assert client.connections_opened == 2 and client.idle_connections == 2
        # Both connections are kept and reused: no new connection for the next queries.
        results = run_together(lambda: client.query(SERVICES), 2)
        assert results == [EXPECTED, EXPECTED] and client.connections_opened == 2
    assert srv.connections == 2


def test_one_connection_serialises_queries(tmp_path: Path) -> None:
    """The proof that the test above can fail: with one connection the second query waits."""
    slow = HoldUntil(2, give_up=0.5)
    with (
        ReplayServer(slow, directory=tmp_path) as srv,
        make_client(srv.address, dialect="naemon", timeout=15, max_connections=1) as client,
    ):
        results = run_together(lambda: client.query(SERVICES), 2)
    assert slow.most_at_once == 1
    failed = [r for r in results if isinstance(r, LivestatusQueryError)]
    assert len(failed) == 1 and failed[0].status == 500  # the first was held alone, then gave up
    assert EXPECTED in results  # the second found the count reached


def test_the_pool_never_opens_more_than_max_connections(tmp_path: Path) -> None:
    slow = HoldUntil(2)
    with (
        ReplayServer(slow, directory=tmp_path) as srv,
        make_client(srv.address, dialect="naemon", timeout=15, max_connections=2) as client,
    ):
        results = run_together(lambda: client.query(SERVICES), 6)
        assert results == [EXPECTED] * 6
        assert slow.most_at_once == 2 and client.connections_opened == 2
    assert srv.connections == 2


def test_busy_pool_times_out_with_a_clear_error(server: ReplayServer) -> None:
    with make_client(server.address, dialect="naemon", timeout=0.3, max_connections=1) as client:
        slot = client._checkout()  # the only connection, taken as a hung query would hold it
        with pytest.raises(LivestatusTimeout, match="all 1 connections stayed busy") as caught:
            client.query(SERVICES)
        assert caught.value.retryable and client.requests_sent == 0
        client._checkin(*slot)
        assert client.query(SERVICES) == EXPECTED
    with pytest.raises(ValueError, match="max_connections"):
        LivestatusClient("unix:/x", max_connections=0)


def test_close_while_a_query_runs_closes_its_connection_afterwards(tmp_path: Path) -> None:
    slow = HoldUntil(2)
    with (
        ReplayServer(slow, directory=tmp_path) as srv,
        make_client(srv.address, dialect="naemon", timeout=15, max_connections=2) as client,
    ):
        results: list[object] = []
        worker = threading.Thread(target=lambda: results.append(client.query(SERVICES)))
        worker.start()
        wait_for_arrivals(slow, 1)
        client.close()  # one query in flight: its connection must not come back to the pool
        assert client.query(SERVICES) == EXPECTED  # the second arrival releases both
        worker.join(10)
        assert results == [EXPECTED]
        assert client.idle_connections == 1  # only the one opened after close()
        assert client.connections_opened == 2


def wait_for_arrivals(slow: HoldUntil, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while slow.arrived < count:
        assert time.monotonic() < deadline, f"{count} queries did not arrive"
        time.sleep(0.01)


# -- columns Naemon does not know ------------------------------------------------------------
# Naemon answers an unknown column with "" and ignores it in Filter/Stats/Sort; the client
# learns each table's columns from GET columns (the stand-in answers with Naemon's catalogue).


@pytest.mark.parametrize(
    "query",
    [
        LivestatusQuery("services").select("host_name", "stat"),
        LivestatusQuery("services").select("host_name").where(Filter("stat", "=", 2)),
        LivestatusQuery("services").stats(bad=Filter("state_typ", "=", 1)),
        LivestatusQuery("services").stats(total=Aggregate("sum", "latencyy")),
        LivestatusQuery("services").select("host_name").sort("last_chek"),
        LivestatusQuery("hosts")
        .select("name")
        .where(Filter("name", "=", "a") | ~Filter("hostgroup", ">=", "x")),
    ],
)
def test_naemon_unknown_columns_are_refused_before_sending(
    server: ReplayServer, query: LivestatusQuery
) -> None:
    with make_client(server.address) as client:
        with pytest.raises(UnknownColumnError, match="has no column") as caught:
            client.query(query)
        assert not caught.value.retryable
    assert not [r for r in server.requests if r.startswith((b"GET services", b"GET hosts"))]


def test_naemon_columns_are_learnt_once_and_prefixes_accepted(tmp_path: Path) -> None:
    with ReplayServer(naemon([]), directory=tmp_path) as srv, make_client(srv.address) as client:
        for _ in range(3):
            assert client.query(SERVICES) == []
        # Naemon's Table::column(): services accept service_<column>, log current_ columns bare.
        client.query(LivestatusQuery("services").select("service_description", "host_name"))
        client.query(LivestatusQuery("log").select("time", "host_alias", "log_type"))
    assert sum(r.startswith(b"GET columns\n") for r in srv.requests) == 1


def test_icinga_is_not_asked_for_its_columns(tmp_path: Path) -> None:
    with (
        recording_icinga(tmp_path, ICINGA_ROWS) as srv,
        make_client(srv.address, dialect="icinga2") as client,
    ):
        client.query(SERVICES)
    assert not [r for r in srv.requests if r.startswith(b"GET columns")]
