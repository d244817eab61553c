"""The client's reply decoding (msgspec, rows built in one comprehension) gives the rows it always gave.

Each test serves a reply's exact bytes from the loopback server and compares the client's
rows with literal expectations or, for large replies, with a per-value oracle built from
``to_bool`` and ``to_custom_variables`` (the normalisation's definition).
"""

from __future__ import annotations

import functools
import gc
import json
import random
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from livestatus.client import (
    NODE_KEY,
    LivestatusBadResponse,
    LivestatusClient,
    LivestatusCluster,
    LivestatusQuery,
)
from livestatus.client.connection import _gc_paused
from livestatus.client.rows import BOOL_COLUMNS, CUSTOM_VARIABLE_COLUMNS, to_bool, to_custom_variables
from tests.services.replay import ReplayServer, fixed16

COLUMNS = (
    "host_name",
    "plugin_output",
    "state",
    "acknowledged",
    "is_flapping",
    "last_check",
    "contacts",
    "custom_variables",
)
QUERY = LivestatusQuery("services").select(*COLUMNS)


class Reply:
    """A handler that answers every GET with ``body`` (settable between queries)."""

    body = b"[]"

    def __call__(self, request: bytes) -> bytes:
        return fixed16(200, self.body)


@pytest.fixture
def reply() -> Reply:
    return Reply()


@pytest.fixture
def client(tmp_path: Path, reply: Reply) -> Iterator[LivestatusClient]:
    server = ReplayServer(reply, directory=tmp_path)
    # The dialect is given so that no GET status or GET columns is asked first.
    with server, LivestatusClient(server.address, dialect="icinga2", timeout=10, retry_window=0.5) as c:
        yield c


def expected_rows(table: str, columns: tuple[str, ...], raw: list[list[Any]]) -> list[dict[str, Any]]:
    """The normalisation's definition, one value at a time."""
    flags = BOOL_COLUMNS[table]

    def normal(column: str, value: Any) -> Any:
        if column in flags:
            return to_bool(value)
        if column in CUSTOM_VARIABLE_COLUMNS:
            return to_custom_variables(value)
        return value

    return [{c: normal(c, v) for c, v in zip(columns, row, strict=True)} for row in raw]


# A captured-style reply with the values that break naive decoders: non-ASCII and escaped
# text, empty and nested lists, integers beyond 64 bits, floats at their limits, nulls.
ODD_REPLY = (
    "["
    '["wéb-01 ☃ 日本", "CRITICAL - \\"quoted\\"\\nsecond line \\u00e9 \\ud83d\\ude00", 2, 1, 0,'
    " 1764776000.123, [], {}],"
    '["web-02", "", 0, 0, 1, 5e-324, ["alice", "bob"], {"OWNER": "team-web", "EMPTY": ""}],'
    '["web-03", null, 1, true, false, 1.7976931348623157e308, [["nested", ["deeper"]]],'
    ' [["owner", "team-db"], ["tier", "1"]]],'
    '["web-04", "big", 123456789012345678901234567890, 0, 0, -0.0, [], []]'
    "]"
).encode()
ODD_EXPECTED = [
    {
        "host_name": "wéb-01 ☃ 日本",
        "plugin_output": 'CRITICAL - "quoted"\nsecond line é 😀',
        "state": 2,
        "acknowledged": True,
        "is_flapping": False,
        "last_check": 1764776000.123,
        "contacts": [],
        "custom_variables": {},
    },
    {
        "host_name": "web-02",
        "plugin_output": "",
        "state": 0,
        "acknowledged": False,
        "is_flapping": True,
        "last_check": 5e-324,
        "contacts": ["alice", "bob"],
        "custom_variables": {"OWNER": "team-web", "EMPTY": ""},
    },
    {
        "host_name": "web-03",
        "plugin_output": None,
        "state": 1,
        "acknowledged": True,
        "is_flapping": False,
        "last_check": 1.7976931348623157e308,
        "contacts": [["nested", ["deeper"]]],
        "custom_variables": {"owner": "team-db", "tier": "1"},
    },
    {
        "host_name": "web-04",
        "plugin_output": "big",
        "state": 123456789012345678901234567890,
        "acknowledged": False,
        "is_flapping": False,
        "last_check": -0.0,
        "contacts": [],
        "custom_variables": {},
    },
]


def test_odd_values_come_back_as_before(client: LivestatusClient, reply: Reply) -> None:
    reply.body = ODD_REPLY
    rows = client.query(QUERY)
    assert rows == ODD_EXPECTED == expected_rows("services", COLUMNS, json.loads(ODD_REPLY))
    # == does not tell a flag's True from 1, nor -0.0 from 0.0.
    assert [type(row["acknowledged"]) for row in rows] == [bool] * 4
    assert str(rows[3]["last_check"]) == "-0.0"
    assert rows[2]["state"] == 1 and type(rows[3]["state"]) is int


@pytest.mark.parametrize(
    "flag, expected",
    [("", None), (None, None), ("true", True), (2, True), ("off", False), ([1], None)],
)
def test_unusual_flag_values_are_normalised(
    client: LivestatusClient, reply: Reply, flag: Any, expected: bool | None
) -> None:
    # One unusual flag in the last of many rows: the whole reply is still right.
    raw = [["h", "ok", 0, 1, 0, 1.5, [], {}]] * 50 + [["h", "ok", 0, flag, 0, 1.5, [], {}]]
    reply.body = json.dumps(raw).encode()
    rows = client.query(QUERY)
    assert len(rows) == 51
    assert rows[0]["acknowledged"] is True
    assert rows[-1]["acknowledged"] is expected


@pytest.mark.parametrize(
    "body, expected_output",
    [
        # Plugin output that is not UTF-8: replaced, the row kept.
        (b'[["h", "disk \xff full", 0, 0, 0, 1, [], {}]]', "disk \ufffd full"),
        # A lone surrogate escape, NaN and a float beyond double: json.loads reads them.
        (b'[["h", "half \\ud800", 0, 0, 0, 1, [], {}]]', "half \ud800"),
        (b'[["h", "nan", 0, 0, 0, NaN, [], {}]]', "nan"),
        (b'[["h", "inf", 0, 0, 0, 1e400, [], {}]]', "inf"),
    ],
)
def test_replies_the_fast_decoder_refuses_are_still_read(
    client: LivestatusClient, reply: Reply, body: bytes, expected_output: str
) -> None:
    reply.body = body
    [row] = client.query(QUERY)
    assert row["plugin_output"] == expected_output
    assert row["acknowledged"] is False and row["custom_variables"] == {}


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"host_name": "h"}', "not a list of rows"),
        # A string as wide as the column list must not be taken apart into letters.
        (b'["abcdefgh"]', "not a list of rows"),
        (b'[{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}]', "not a list of rows"),
        (b'[["h", "ok", 0, 0, 0, 1, []]]', "rows have [7] fields, expected 8"),
        (b'[["h", "ok", 0, 0, 0, 1, [], {}, "extra"]]', "rows have [9] fields, expected 8"),
        (b'[["h", "ok"', "not valid JSON"),
    ],
)
def test_malformed_replies_are_bad_responses(
    client: LivestatusClient, reply: Reply, body: bytes, message: str
) -> None:
    reply.body = body
    with pytest.raises(LivestatusBadResponse, match=message.replace("[", r"\[").replace("]", r"\]")):
        client.query(QUERY)


def random_value(rng: random.Random, column: str) -> Any:
    if column in ("acknowledged", "is_flapping"):
        return rng.choice([0, 1, True, False])
    if column == "custom_variables":
        # A flat list of 2-character strings is not a list of pairs: it gives {}.
        pairs = [["owner", "t"], ["tier", str(rng.randrange(3))]]
        return rng.choice([{}, [], {"OWNER": "t"}, pairs, ["ab", "cd"]])
    if column == "contacts":
        return [f"c{rng.randrange(100)}" for _ in range(rng.randrange(3))]
    if column in ("state", "last_check"):
        return rng.choice([rng.randrange(4), rng.random() * 1e9, 2**64 + rng.randrange(9)])
    return "".join(rng.choice('aé☃\n"\\ 日x') for _ in range(rng.randrange(12)))


def test_a_large_reply_gives_the_rows_of_its_definition(client: LivestatusClient, reply: Reply) -> None:
    # Above 1 MB: the client pauses the garbage collector while it decodes.
    rng = random.Random(19)
    raw = [[random_value(rng, column) for column in COLUMNS] for _ in range(20_000)]
    reply.body = json.dumps(raw, ensure_ascii=False).encode()
    assert len(reply.body) > 1_000_000
    rows = client.query(QUERY)
    assert rows == expected_rows("services", COLUMNS, raw)
    assert {type(row["is_flapping"]) for row in rows} == {bool}


def test_no_columns_header_row_gives_the_servers_column_names(client: LivestatusClient, reply: Reply) -> None:
    # Without Columns: the first row names them, and flags are still normalised.
    reply.body = b'[["name", "acknowledged", "custom_variables"], ["web-01", 1, [["k", "v"]]]]'
    assert client.query(LivestatusQuery("hosts")) == [
        {"name": "web-01", "acknowledged": True, "custom_variables": {"k": "v"}}
    ]


def test_the_gc_stays_paused_until_the_last_concurrent_decode_ends() -> None:
    # A cluster decodes several nodes' replies on threads at once: the first to finish
    # must not switch the collector back on under the others.
    assert gc.isenabled()
    first, second = _gc_paused(2_000_000), _gc_paused(2_000_000)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    with _gc_paused(10):  # small replies leave it alone
        assert gc.isenabled()


def test_fan_out_of_large_replies_merges_every_nodes_rows(tmp_path: Path) -> None:
    # Four nodes decoding >1 MB each on their own threads (the GC paused for all of them),
    # one answering late: every row arrives once, tagged with its node, and the collector
    # is back on afterwards.
    rng = random.Random(4)
    raws = [[[random_value(rng, column) for column in COLUMNS] for _ in range(20_000)] for _ in range(4)]
    replies = []
    for raw in raws:
        replies.append(Reply())
        replies[-1].body = json.dumps(raw).encode()
    assert all(len(reply.body) > 1_000_000 for reply in replies)
    with ExitStack() as stack:
        servers = [
            stack.enter_context(ReplayServer(reply, delay=0.3 if i == 3 else 0.0, directory=tmp_path))
            for i, reply in enumerate(replies)
        ]
        icinga = functools.partial(LivestatusClient, dialect="icinga2", timeout=10)
        nodes = {f"node{i}": server.address for i, server in enumerate(servers)}
        cluster = stack.enter_context(LivestatusCluster(nodes, timeout=10, client_factory=icinga))
        merged = cluster.query(QUERY)
    assert merged.complete
    assert merged.rows == [
        {**row, NODE_KEY: f"node{i}"}
        for i, raw in enumerate(raws)
        for row in expected_rows("services", COLUMNS, raw)
    ]
    assert gc.isenabled()
