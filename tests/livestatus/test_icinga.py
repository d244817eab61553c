"""End to end against a real Livestatus server: Icinga 2 started by the fixtures.

State changes go through the client's own commands and are observed through
its queries, polling with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livestatus.client import (
    NODE_KEY,
    Aggregate,
    Filter,
    LivestatusClient,
    LivestatusCluster,
    LivestatusConnectError,
    LivestatusQuery,
    LivestatusQueryError,
    UnsafeValueError,
    UnsupportedQueryError,
    commands,
)
from tests.services.icinga import (
    DEFAULT_HOSTS,
    ODD_HOST,
    SEMICOLON_SERVICE,
    IcingaServer,
    free_tcp_port,
    wait_until,
)

pytestmark = pytest.mark.services

ALL_SERVICES = sorted((h.name, s.description) for h in DEFAULT_HOSTS for s in h.services)


def service_row(client: LivestatusClient, host: str, service: str, *columns: str) -> dict[str, Any]:
    """One service's row."""
    rows = client.query(
        LivestatusQuery("services")
        .select("host_name", "description", *columns)
        .where(Filter("host_name", "=", host), Filter("description", "=", service))
    )
    assert len(rows) == 1, rows
    return rows[0]


def wait_for_row(
    client: LivestatusClient, host: str, service: str, columns: tuple[str, ...], check: Any
) -> dict[str, Any]:
    """Poll a service until ``check(row)`` holds (the core applies commands asynchronously)."""
    return wait_until(
        lambda: (row := service_row(client, host, service, *columns)) and check(row) and row,
        timeout=15,
        what=f"{host}/{service} {columns}",
    )


def set_state(client: LivestatusClient, host: str, service: str, state: int, output: str) -> None:
    client.command(commands.process_service_check_result(host, service, state, output))
    wait_for_row(client, host, service, ("state", "plugin_output"), lambda r: r["state"] == state)


# -- reading -----------------------------------------------------------------------------


def test_status_and_dialect(client: LivestatusClient) -> None:
    status = client.status()
    assert isinstance(status["program_start"], int) and status["program_start"] > 0
    assert "icinga2" in status["program_version"]
    assert status["num_services"] == len(ALL_SERVICES)
    assert status["enable_notifications"] is True  # 1 on the wire
    assert client.dialect == "icinga2"


def test_all_services_as_dicts(client: LivestatusClient) -> None:
    rows = client.query(LivestatusQuery("services").select("host_name", "description"))
    assert sorted((r["host_name"], r["description"]) for r in rows) == ALL_SERVICES


def test_filters(client: LivestatusClient) -> None:
    query = (
        LivestatusQuery("services")
        .select("host_name", "description")
        .where(
            Filter("description", "=", "disk") | Filter("description", "=", "postgres"),
            ~Filter("host_name", "~", "^odd"),
        )
    )
    rows = client.query(query)
    assert sorted((r["host_name"], r["description"]) for r in rows) == [
        ("db-01", "disk"),
        ("db-01", "postgres"),
        ("web-01", "disk"),
    ]


def test_hostile_but_legal_names_are_data(client: LivestatusClient) -> None:
    rows = client.query(
        LivestatusQuery("services")
        .select("host_name", "description")
        .where(Filter("host_name", "=", ODD_HOST))
    )
    assert sorted(r["description"] for r in rows) == ["disk", SEMICOLON_SERVICE]
    assert {r["host_name"] for r in rows} == {ODD_HOST}
    semi = client.query(
        LivestatusQuery("services").select("description").where(Filter("description", "=", SEMICOLON_SERVICE))
    )
    assert semi == [{"description": SEMICOLON_SERVICE}]


def test_custom_variables_and_flags(client: LivestatusClient) -> None:
    row = service_row(client, "web-01", "http", "custom_variables", "host_custom_variables", "is_flapping")
    assert row["custom_variables"]["owner"] == "team-web"
    assert row["host_custom_variables"] == {"os": "linux"}
    assert row["is_flapping"] is False


def test_grouped_stats(client: LivestatusClient) -> None:
    query = (
        LivestatusQuery("services")
        .select("host_name")
        .stats(
            services=Filter("state", ">=", 0),
            disks=Filter("description", "=", "disk"),
            not_disk_or_http=~(Filter("description", "=", "disk") | Filter("description", "=", "http")),
            worst=Aggregate("max", "state"),
        )
    )
    rows = {row["host_name"]: row for row in client.query(query)}
    assert set(rows) == {h.name for h in DEFAULT_HOSTS}
    assert rows["web-01"]["services"] == 7
    assert rows["web-01"]["disks"] == 1
    assert rows["web-01"]["not_disk_or_http"] == 5
    assert rows["db-01"]["services"] == 2
    assert rows[ODD_HOST]["services"] == 2


def test_ungrouped_stats(client: LivestatusClient) -> None:
    rows = client.query(LivestatusQuery("hosts").stats(hosts=Filter("name", "!=", "")))
    assert rows == [{"hosts": len(DEFAULT_HOSTS)}]


def test_limit(client: LivestatusClient) -> None:
    rows = client.query(LivestatusQuery("services").select("description").limit(2))
    assert len(rows) == 2
    assert client.query(LivestatusQuery("services").select("description").limit(0)) == []


def test_sort_and_offset_are_emulated_for_icinga(client: LivestatusClient) -> None:
    everything = sorted(ALL_SERVICES, key=lambda hs: hs[1], reverse=True)
    query = (
        LivestatusQuery("services")
        .select("host_name", "description")
        .sort("description", "desc")
        .offset(2)
        .limit(3)
    )
    rows = client.query(query)
    assert [r["description"] for r in rows] == [d for _, d in everything[2:5]]
    with pytest.raises(UnsupportedQueryError, match="AuthUser"):
        client.query(LivestatusQuery("services").select("description").auth_user("alice"))


def test_unknown_columns_answer_like_naemon(client: LivestatusClient) -> None:
    row = service_row(client, "web-01", "http", "no_such_column", "acknowledged")
    assert row["no_such_column"] == ""
    with pytest.raises(LivestatusQueryError) as caught:
        client.query(LivestatusQuery("nosuchtable"))
    assert caught.value.status == 404 and not caught.value.retryable


def test_both_transports_agree(client: LivestatusClient, tcp_client: LivestatusClient) -> None:
    query = LivestatusQuery("services").select("host_name", "description", "custom_variables")

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return (row["host_name"], row["description"])

    assert sorted(client.query(query), key=key) == sorted(tcp_client.query(query), key=key)
    assert tcp_client.status()["program_start"] == client.status()["program_start"]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_keepalive_reuses_the_connection(icinga: IcingaServer, transport: str) -> None:
    address = icinga.unix_address if transport == "unix" else icinga.tcp_address
    with LivestatusClient(address) as client:
        before = client.status()["connections"]
        assert client.idle_connections == 1
        for _ in range(3):
            client.query(LivestatusQuery("services").select("description").limit(1))
        assert client.idle_connections == 1
        after = client.status()["connections"]
        assert client.connections_opened == 1
        assert client.requests_sent == 6  # 2 status, 3 queries, the dialect's GET status once
        assert after == before  # the server saw no new connection


# -- commands --------------------------------------------------------------------------------


def test_passive_critical_result(client: LivestatusClient) -> None:
    client.command(commands.process_service_check_result("web-01", "crit-me", 2, "CRIT; down"))
    row = wait_for_row(client, "web-01", "crit-me", ("state", "plugin_output"), lambda r: r["state"] == 2)
    assert row["plugin_output"] == "CRIT; down"  # ';' in the last field survives


def test_acknowledge_and_remove(client: LivestatusClient) -> None:
    set_state(client, "web-01", "ack-me", 2, "broken")
    client.command(commands.acknowledge_service("web-01", "ack-me", "on it; see #42", author="alice"))
    row = wait_for_row(
        client,
        "web-01",
        "ack-me",
        ("acknowledged", "comments_with_info"),
        lambda r: r["acknowledged"] is True,
    )
    assert [c[1:] for c in row["comments_with_info"]] == [["alice", "on it; see #42"]]
    client.command(commands.remove_service_acknowledgement("web-01", "ack-me"))
    wait_for_row(client, "web-01", "ack-me", ("acknowledged",), lambda r: r["acknowledged"] is False)


def test_backslashes_reach_icinga_verbatim(client: LivestatusClient) -> None:
    # Icinga 2 does not unescape COMMAND lines (naemon-livestatus does; see test_naemon_commands).
    text = r"path C:\temp\new \nenable_notifications=0"
    client.command(commands.add_service_comment("web-01", "crit-me", text, author=r"CORP\carol"))
    row = wait_for_row(
        client,
        "web-01",
        "crit-me",
        ("comments_with_info",),
        lambda r: any(c[1] == r"CORP\carol" for c in r["comments_with_info"]),
    )
    assert [c[1:] for c in row["comments_with_info"] if c[1] == r"CORP\carol"] == [[r"CORP\carol", text]]


def test_acknowledge_on_a_hostile_host(client: LivestatusClient) -> None:
    set_state(client, ODD_HOST, "disk", 1, "full")
    client.command(commands.acknowledge_service(ODD_HOST, "disk", "ok", author="bob"))
    wait_for_row(client, ODD_HOST, "disk", ("acknowledged",), lambda r: r["acknowledged"] is True)
    # A service whose name holds ';' cannot be addressed by any command.
    with pytest.raises(UnsafeValueError, match=";"):
        commands.acknowledge_service(ODD_HOST, SEMICOLON_SERVICE, "x", author="bob")


def test_downtime_schedule_and_delete(client: LivestatusClient) -> None:
    now = int(time.time())
    client.command(
        commands.schedule_service_downtime(
            "web-01", "downtime-me", now - 10, now + 3600, "patching; reboot", author="carol"
        )
    )
    row = wait_for_row(client, "web-01", "downtime-me", ("downtimes",), lambda r: len(r["downtimes"]) == 1)
    downtime_id = row["downtimes"][0]
    downtimes = client.query(
        LivestatusQuery("downtimes")
        .select("id", "author", "comment", "fixed", "host_name", "service_description")
        .where(Filter("id", "=", downtime_id))
    )
    assert downtimes == [
        {
            "id": downtime_id,
            "author": "carol",
            "comment": "patching; reboot",
            "fixed": True,
            "host_name": "web-01",
            "service_description": "downtime-me",
        }
    ]
    client.command(commands.delete_service_downtime(downtime_id))
    wait_for_row(client, "web-01", "downtime-me", ("downtimes",), lambda r: r["downtimes"] == [])


def test_forced_check_runs(client: LivestatusClient) -> None:
    before = service_row(client, "web-01", "check-me", "last_check", "plugin_output")
    client.command(commands.schedule_forced_service_check("web-01", "check-me"))
    row = wait_for_row(
        client,
        "web-01",
        "check-me",
        ("last_check", "plugin_output", "state"),
        lambda r: r["last_check"] != before["last_check"],
    )
    assert row["plugin_output"] == "forced check ran"
    assert row["state"] == 1


def test_comment(client: LivestatusClient) -> None:
    client.command(commands.add_service_comment("db-01", "disk", "grows 1%/day; fine", author="d"))
    wait_for_row(
        client,
        "db-01",
        "disk",
        ("comments_with_info",),
        lambda r: [c[1:] for c in r["comments_with_info"]] == [["d", "grows 1%/day; fine"]],
    )


# -- hostile values ----------------------------------------------------------------------------


def test_hostile_filter_is_refused_and_the_server_keeps_running(
    icinga: IcingaServer, client: LivestatusClient
) -> None:
    pid = icinga.status()["nagios_pid"]
    sent = client.requests_sent
    with pytest.raises(UnsafeValueError):
        client.query(
            LivestatusQuery("services").where(Filter("description", "=", "x\nCOMMAND [1] SHUTDOWN_PROGRAM"))
        )
    with pytest.raises(UnsafeValueError):
        commands.process_service_check_result("web-01", "http", 0, "ok\nCOMMAND [1] SHUTDOWN_PROGRAM")
    assert client.requests_sent == sent
    assert icinga.status()["nagios_pid"] == pid
    assert client.query(LivestatusQuery("hosts").select("name").limit(1))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30))
def test_any_accepted_value_is_one_filter_on_the_real_server(icinga: IcingaServer, value: str) -> None:
    with LivestatusClient(icinga.unix_address, dialect="icinga2") as client:
        try:
            query = LivestatusQuery("services").select("description").where(Filter("host_name", "=", value))
        except UnsafeValueError:
            return
        rows = client.query(query)
    expected = [d for h, d in ALL_SERVICES if h == value]
    assert sorted(r["description"] for r in rows) == sorted(expected)


# -- many nodes ---------------------------------------------------------------------------------


def test_cluster_with_a_node_down(icinga: IcingaServer) -> None:
    down = f"tcp:127.0.0.1:{free_tcp_port()}"
    with LivestatusCluster(
        [("unix", icinga.unix_address), ("tcp", icinga.tcp_address), ("down", down)],
        retry_window=0.2,
    ) as cluster:
        result = cluster.query(LivestatusQuery("services").select("host_name", "description"))
        assert sorted((r[NODE_KEY], r["host_name"], r["description"]) for r in result.rows) == sorted(
            [("unix", h, d) for h, d in ALL_SERVICES] + [("tcp", h, d) for h, d in ALL_SERVICES]
        )
        assert [e.node for e in result.unreachable] == ["down"]
        assert isinstance(result.unreachable[0].error, LivestatusConnectError)
        assert "down" not in result.per_node

        stats = cluster.query(
            LivestatusQuery("services").select("host_name").stats(n=Filter("state", ">=", 0))
        )
        assert {r["host_name"]: r["n"] for r in stats.rows} == {
            "web-01": 14,
            "db-01": 4,
            ODD_HOST: 4,
        }
        cluster.command("tcp", commands.add_host_comment("db-01", "sent to the tcp node", author="e"))
        wait_until(
            lambda: cluster.client("unix").query(
                LivestatusQuery("comments")
                .select("comment")
                .where(Filter("comment", "=", "sent to the tcp node"))
            ),
            what="comment",
        )
        with pytest.raises(LivestatusConnectError):
            cluster.command("down", commands.restart_program())


# -- reloads --------------------------------------------------------------------------------------


@pytest.fixture
def reloading_icinga(icinga_binary: str) -> Iterator[IcingaServer]:
    """A daemon of its own: reloading it must not disturb the other tests."""
    server = IcingaServer(binary=icinga_binary, name="reload")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_queries_survive_a_reload(reloading_icinga: IcingaServer) -> None:
    with LivestatusClient(reloading_icinga.unix_address, retry_window=10) as client:
        pid = client.status()["nagios_pid"]
        reloading_icinga.reload()  # SIGHUP
        deadline = time.monotonic() + 30
        # Every query in between must succeed: the client retries while the socket is gone.
        while (status := client.status())["nagios_pid"] == pid:
            assert time.monotonic() < deadline, "icinga2 did not reload"
            time.sleep(0.05)  # poll interval
        assert status["nagios_pid"] != pid
        assert client.connections_opened >= 2
        rows = client.query(LivestatusQuery("services").select("description"))
        assert len(rows) == len(ALL_SERVICES)

        # restart_program() does the same through Livestatus (what a deploy sends).
        started = status["program_start"]
        pid = status["nagios_pid"]
        client.command(commands.restart_program())
        while (status := client.status())["nagios_pid"] == pid:
            assert time.monotonic() < deadline, "restart_program() did not restart"
            time.sleep(0.05)
        assert status["program_start"] >= started
