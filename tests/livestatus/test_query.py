"""The query builder and command helpers at the protocol level: exact bytes, refusals."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livestatus.client import Command, LivestatusError, UnsafeValueError, commands, text
from livestatus.client.query import (
    Aggregate,
    And,
    Filter,
    LivestatusQuery,
    Not,
    Or,
    Wait,
    check_value,
    encode_lines,
    push_negations,
)
from tests.services.icinga import REPO_ROOT

TRAILER = b"OutputFormat: json\nResponseHeader: fixed16\n\n"


def test_plain_query_bytes() -> None:
    query = LivestatusQuery("services").select("host_name", "description", "state")
    assert query.encode() == b"GET services\nColumns: host_name description state\n" + TRAILER
    assert query.encode(keepalive=True).endswith(b"ResponseHeader: fixed16\nKeepAlive: on\n\n")


def test_filters_compose_with_and_or_not() -> None:
    query = LivestatusQuery("services").where(
        Filter("state", "=", 2) | Filter("state", "=", 1),
        ~Filter("acknowledged", "=", True),
        Filter("host_name", "~~", "^web") & Filter("description", "!=", "disk"),
    )
    assert query.header_lines() == [
        "GET services",
        "Filter: state = 2",
        "Filter: state = 1",
        "Or: 2",
        "Filter: acknowledged = 1",
        "Negate:",
        "Filter: host_name ~~ ^web",
        "Filter: description != disk",
        "And: 2",
    ]


def test_nested_and_flattens_and_single_part_needs_no_header() -> None:
    a, b, c = Filter("state", "=", 0), Filter("state", "=", 1), Filter("state", "=", 2)
    assert list((a & b & c).header_lines("")) == [
        "Filter: state = 0",
        "Filter: state = 1",
        "Filter: state = 2",
        "And: 3",
    ]
    assert list(Or(a).header_lines("")) == ["Filter: state = 0"]
    assert list(Not(Or(a, And(b, c))).header_lines("")) == [
        "Filter: state = 0",
        "Filter: state = 1",
        "Filter: state = 2",
        "And: 2",
        "Or: 2",
        "Negate:",
    ]
    with pytest.raises(ValueError, match="at least one"):
        And()


def test_grouped_stats_bytes() -> None:
    query = (
        LivestatusQuery("services")
        .select("host_name")
        .stats(
            ok=Filter("state", "=", 0),
            problems=Filter("state", "!=", 0) & ~Filter("acknowledged", "=", 1),
            crit_or_unknown=Filter("state", "=", 2) | Filter("state", "=", 3),
            slowest=Aggregate("max", "execution_time"),
        )
    )
    assert query.header_lines() == [
        "GET services",
        "Columns: host_name",
        "Stats: state = 0",
        "Stats: state != 0",
        "Stats: acknowledged != 1",  # no StatsNegate: Icinga 2 ignores it
        "StatsAnd: 2",
        "Stats: state = 2",
        "Stats: state = 3",
        "StatsOr: 2",
        "Stats: max execution_time",
    ]
    assert query.result_columns == ("host_name", "ok", "problems", "crit_or_unknown", "slowest")
    assert [stat.function for stat in query.stats_columns] == ["count", "count", "count", "max"]


def test_stats_negations_are_pushed_down() -> None:
    a, b, c = Filter("state", "=", 0), Filter("state", ">=", 1), Filter("groups", "<", "web")
    assert push_negations(~(a | (b & ~c))) == And(
        Filter("state", "!=", 0), Or(Filter("state", "<", 1), Filter("groups", "<", "web"))
    )
    assert push_negations(~~a) == a
    query = LivestatusQuery("hosts").stats(n=~(a | Filter("name", "~~", "^db")))
    assert query.header_lines()[1:] == ["Stats: state != 0", "Stats: name !~~ ^db", "StatsAnd: 2"]
    assert query.where(~a).header_lines()[1:3] == ["Filter: state = 0", "Negate:"]


def test_naemon_only_headers_bytes() -> None:
    """Sort, Offset, AuthUser and Wait* are ignored by Icinga 2: pin their bytes here."""
    query = (
        LivestatusQuery("services")
        .select("host_name", "description")
        .sort("host_name")
        .sort("last_check", "desc")
        .offset(20)
        .limit(10)
        .auth_user("alice")
        .wait(
            Wait(
                condition=Filter("state", "=", 0),
                trigger="state",
                obj="web-01;http",
                timeout_ms=5000,
            )
        )
    )
    assert query.encode(keepalive=True) == (
        b"GET services\n"
        b"Columns: host_name description\n"
        b"Sort: host_name asc\n"
        b"Sort: last_check desc\n"
        b"Offset: 20\n"
        b"Limit: 10\n"
        b"AuthUser: alice\n"
        b"WaitObject: web-01;http\n"
        b"WaitCondition: state = 0\n"
        b"WaitTrigger: state\n"
        b"WaitTimeout: 5000\n"
        b"OutputFormat: json\n"
        b"ResponseHeader: fixed16\n"
        b"KeepAlive: on\n\n"
    )
    assert query.without_paging().header_lines()[2:4] == ["AuthUser: alice", "WaitObject: web-01;http"]


def test_values_render() -> None:
    assert list(Filter("acknowledged", "=", False).header_lines("")) == ["Filter: acknowledged = 0"]
    assert list(Filter("latency", ">", 1.5).header_lines("")) == ["Filter: latency > 1.5"]
    # None is the empty value (e.g. "no parents"); the operator's space stays.
    assert list(Filter("parents", "=", None).header_lines("")) == ["Filter: parents = "]
    assert list(Filter("host_name", "=", "odd 'name' \"x\" \\ ü").header_lines("")) == [
        "Filter: host_name = odd 'name' \"x\" \\ ü"
    ]
    with pytest.raises(UnsafeValueError):
        Filter("latency", ">", float("nan"))


@pytest.mark.parametrize(
    "value",
    [
        "x\nCOMMAND [1] SHUTDOWN_PROGRAM",
        "x\rFilter: state = 0",
        "x\r\n\r\nGET status",
        "nul\0byte",
        "tab\there",
        "nel\x85line",
        "line\u2028separator",
        "\ud800",
    ],
)
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(UnsafeValueError) as caught:
        Filter("host_name", "=", value)
    assert isinstance(caught.value, ValueError)  # plain ValueError handlers catch it too
    assert isinstance(caught.value, LivestatusError)
    with pytest.raises(UnsafeValueError):
        LivestatusQuery("hosts").auth_user(value)
    with pytest.raises(UnsafeValueError):
        Wait(obj=value)
    with pytest.raises(UnsafeValueError):
        commands.add_host_comment("web-01", value, author="me")


@pytest.mark.parametrize(
    "table, column, op",
    [
        ("services\nCOMMAND", "state", "="),
        ("Services", "state", "="),
        ("services", "state\n", "="),
        ("services", "state =", "="),
        ("services", "State", "="),
        ("services", "", "="),
        ("services", "state", "=\n"),
        ("services", "state", "=="),
        ("services", "state", "LIKE"),
    ],
)
def test_names_and_operators_are_whitelisted(table: str, column: str, op: str) -> None:
    with pytest.raises(UnsafeValueError):
        LivestatusQuery(table).where(Filter(column, op, 1))


def test_other_builder_misuse() -> None:
    query = LivestatusQuery("services")
    with pytest.raises(UnsafeValueError):
        query.select("host_name; rm")
    with pytest.raises(UnsafeValueError):
        query.stats(x=Aggregate("median", "latency"))
    with pytest.raises(UnsafeValueError):
        query.sort("x y")
    with pytest.raises(ValueError):
        query.sort("state", "up")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        query.limit(-1)
    with pytest.raises(ValueError):
        query.limit(True)
    with pytest.raises(ValueError, match="unique"):
        query.select("state").stats(state=Filter("state", "=", 0))
    with pytest.raises(TypeError):
        query.where("Filter: state = 2")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        check_value(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(UnsafeValueError):
        encode_lines(["GET hosts", "Columns: name\nCOMMAND [1] X"])


# -- hostile values, property-based -----------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n"), max_size=40)


@settings(max_examples=300)
@given(value=st.text(max_size=40))
def test_any_value_is_refused_or_stays_inside_its_line(value: str) -> None:
    """Whatever the text, the request has exactly the expected lines or is refused."""
    try:
        query = (
            LivestatusQuery("services")
            .select("description")
            .where(Filter("host_name", "=", value), Filter("state", "=", 2))
        )
        data = query.encode()
    except UnsafeValueError:
        assert text.first_refused(value) is not None  # livestatus/text.py's rule
        return
    lines = data.split(b"\n")
    assert lines == [
        b"GET services",
        b"Columns: description",
        b"Filter: host_name = " + value.encode("utf-8"),
        b"Filter: state = 2",
        b"OutputFormat: json",
        b"ResponseHeader: fixed16",
        b"",
        b"",
    ]
    assert b"\r" not in data


@settings(max_examples=200)
@given(host=_TEXT, comment=_TEXT)
def test_any_command_argument_is_refused_or_keeps_its_field(host: str, comment: str) -> None:
    try:
        command = commands.acknowledge_service(host, "http", comment, author="me")
        data = command.encode(1700000000, unescapes=False)
    except UnsafeValueError:
        assert (
            not host
            or ";" in host
            or not comment.strip()
            or text.first_refused(host + comment) is not None  # livestatus/text.py's rule
        )
        return
    assert data.endswith(b"\n\n") and data.count(b"\n") == 2
    line = data[:-2].decode()
    prefix = f"COMMAND [1700000000] ACKNOWLEDGE_SVC_PROBLEM;{host};http;2;1;0;me;"
    assert line == prefix + comment
    # Naemon splits 7 arguments; the comment (last) may hold ';' and stays whole.
    assert line.split(";", 7)[1] == host and line.split(";", 7)[7] == comment


# -- commands -------------------------------------------------------------------------


def test_command_lines() -> None:
    ts = 1700000000
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cases = {
        commands.acknowledge_service("web-01", "http", "on it; ticket 42", author="alice"): (
            "ACKNOWLEDGE_SVC_PROBLEM;web-01;http;2;1;0;alice;on it; ticket 42"
        ),
        commands.acknowledge_host(
            "web-01", "down", author="bob", sticky=False, notify=False, persistent=True
        ): "ACKNOWLEDGE_HOST_PROBLEM;web-01;1;0;1;bob;down",
        commands.remove_service_acknowledgement("web-01", "http"): ("REMOVE_SVC_ACKNOWLEDGEMENT;web-01;http"),
        commands.remove_host_acknowledgement("web-01"): "REMOVE_HOST_ACKNOWLEDGEMENT;web-01",
        commands.schedule_service_downtime(
            "web-01", "http", 1000, 4600, "patching", author="alice"
        ): "SCHEDULE_SVC_DOWNTIME;web-01;http;1000;4600;1;0;3600;alice;patching",
        commands.schedule_host_downtime(
            "web-01", start, 1767229200, "maybe", author="a", fixed=False, duration=600
        ): "SCHEDULE_HOST_DOWNTIME;web-01;1767225600;1767229200;0;0;600;a;maybe",
        commands.delete_service_downtime(7): "DEL_SVC_DOWNTIME;7",
        commands.delete_host_downtime(8): "DEL_HOST_DOWNTIME;8",
        commands.schedule_forced_service_check("web-01", "http", 1234): (
            "SCHEDULE_FORCED_SVC_CHECK;web-01;http;1234"
        ),
        commands.schedule_forced_host_check("web-01", 1234): "SCHEDULE_FORCED_HOST_CHECK;web-01;1234",
        commands.add_service_comment("web-01", "http", "note", author="a"): (
            "ADD_SVC_COMMENT;web-01;http;1;a;note"
        ),
        commands.add_host_comment("web-01", "note", author="a", persistent=False): (
            "ADD_HOST_COMMENT;web-01;0;a;note"
        ),
        commands.restart_program(): "RESTART_PROCESS",  # Naemon's alias of RESTART_PROGRAM
        commands.process_service_check_result("web-01", "http", 2, "CRIT; down|time=1s"): (
            "PROCESS_SERVICE_CHECK_RESULT;web-01;http;2;CRIT; down|time=1s"
        ),
        commands.process_host_check_result("web-01", 1, "DOWN"): ("PROCESS_HOST_CHECK_RESULT;web-01;1;DOWN"),
    }
    for command, expected in cases.items():
        assert command.encode(ts, unescapes=False) == f"COMMAND [{ts}] {expected}\n\n".encode()
        assert command.encode(ts, unescapes=True) == f"COMMAND [{ts}] {expected}\n\n".encode()  # no backslash
    # For Naemon, which unescapes: every backslash doubled, so it decodes to the caller's text.
    comment = commands.add_host_comment("web-01", r"C:\temp\new", author="a")
    assert (
        comment.encode(ts, unescapes=True)
        == rb"COMMAND [1700000000] ADD_HOST_COMMENT;web-01;1;a;C:\\temp\\new" + b"\n\n"
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: commands.acknowledge_service("web;01", "http", "c", author="a"),
        lambda: commands.acknowledge_service("web-01", "ht;tp", "c", author="a"),
        lambda: commands.acknowledge_service("web-01", "http", "c", author="a;b"),
        lambda: commands.acknowledge_service("", "http", "c", author="a"),
        lambda: commands.acknowledge_service("web-01", "http", "   ", author="a"),
        lambda: commands.acknowledge_service("web-01", "http", "two\nlines", author="a"),
        lambda: commands.remove_service_acknowledgement("web-01", "a;b"),
        lambda: commands.schedule_forced_service_check("web-01", "x\nCOMMAND [1] SHUTDOWN_PROGRAM"),
        lambda: Command("RESTART_PROGRAM\nCOMMAND"),
        lambda: Command("lower_case"),
        lambda: Command("DEL_SVC_DOWNTIME", ("1;2",)),
    ],
)
def test_command_injection_is_refused(make: object) -> None:
    with pytest.raises(UnsafeValueError):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: commands.process_service_check_result("h", "s", 4, "x"), ValueError),
        (lambda: commands.process_host_check_result("h", 3, "x"), ValueError),
        (lambda: commands.process_service_check_result("h", "s", True, "x"), TypeError),
        (lambda: commands.delete_service_downtime(-1), ValueError),
        (lambda: commands.schedule_host_downtime("h", 10, 5, "c", author="a"), ValueError),
        (
            lambda: commands.schedule_host_downtime("h", 1, 5, "c", author="a", fixed=False),
            ValueError,
        ),
        (
            lambda: commands.schedule_host_downtime("h", datetime(2026, 1, 1), 2e9, "c", author="a"),
            ValueError,
        ),
    ],
)
def test_command_arguments_are_checked(make: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()  # type: ignore[operator]


def test_library_modules_import_no_django() -> None:
    """The client runs on Naemon nodes without Django: importing it must not load Django."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'django' or name.startswith('django.'):\n"
        "            raise ImportError('django is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import livestatus.client, livestatus.client.connection, livestatus.client.rows\n"
        "import livestatus.client.query, livestatus.client.errors, livestatus.client.text\n"
        "import livestatus.client.cluster, livestatus.client.commands\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
