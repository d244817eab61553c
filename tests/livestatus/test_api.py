"""The status API against a real Icinga 2: live lists, node health, actions and their record.

Literal URLs pin the contract. Effects of actions are read back from the server through the
API itself, polling with a deadline (the core applies commands asynchronously).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from livestatus.client import LivestatusClient, commands
from livestatus.models import ActionKind, ActionLog, ActionOutcome
from registry.choices import DeploymentState
from registry.models import Deployment, Host, NaemonNode
from tests.livestatus.fixtures import SERVICE_COUNT, service_state, wait_for
from tests.services.icinga import ODD_HOST

# The status tests' fixtures (their own Icinga 2, nodes, owners); see that module.
pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

ApiFor = Callable[[User | None], APIClient]
LIVE_LISTS = ("hosts", "services", "problems", "downtimes", "nodes")
ACTION_PATHS = (
    "acknowledge",
    "remove-acknowledgement",
    "downtime",
    "delete-downtime",
    "recheck",
    "comment",
    "enable-notifications",
    "disable-notifications",
    "enable-checks",
    "disable-checks",
)


def service_row(api: APIClient, host: str, service: str) -> dict[str, Any]:
    """The service as the API shows it."""
    response = api.get("/api/v1/livestatus/services/", {"host": host, "service": service})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == 1, results
    return dict(results[0])


# -- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*LIVE_LISTS, "actions"])
def test_anonymous_reads_are_401(api_client_for: ApiFor, db: None, path: str) -> None:
    response = api_client_for(None).get(f"/api/v1/livestatus/{path}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ACTION_PATHS)
def test_anonymous_actions_are_401(
    api_client_for: ApiFor, db: None, command_spy: list[str], path: str
) -> None:
    response = api_client_for(None).post(
        f"/api/v1/livestatus/actions/{path}/", {"host": "web-01", "comment": "x"}, format="json"
    )
    assert response.status_code == 401
    assert command_spy == []


# -- live lists ------------------------------------------------------------------------------


def test_live_lists(api_client_for: ApiFor, owner: User, master: NaemonNode) -> None:
    api = api_client_for(owner)
    hosts = api.get("/api/v1/livestatus/hosts/").json()
    assert hosts["count"] == 4 and hosts["unreachable"] == []
    assert {row["host"] for row in hosts["results"]} == {"web-01", "db-01", ODD_HOST, "unowned-01"}
    db_host = next(row for row in hosts["results"] if row["host"] == "db-01")
    assert db_host["state"] == 1 and db_host["state_label"] == "DOWN" and db_host["node"] == "master"
    assert db_host["hostgroups"] == ["databases", "linux"] and db_host["num_services"] == 1

    services = api.get("/api/v1/livestatus/services/", {"limit": 5}).json()
    assert services["count"] == SERVICE_COUNT and len(services["results"]) == 5 and services["next"]
    crit = service_row(api, "web-01", "crit-me")
    assert crit["state_label"] == "CRITICAL" and crit["hard"] is True and crit["pending"] is False
    assert crit["output"] == "CRITICAL - disk (sda) 99% full [x] a.b"
    assert crit["attempt"] == 1 and crit["max_attempts"] == 1
    assert crit["last_check"] and crit["duration_seconds"] is not None
    assert service_row(api, "web-01", "check-me")["state_label"] in ("PENDING", "WARNING")

    problems = api.get("/api/v1/livestatus/problems/").json()["results"]
    assert problems[0]["kind"] == "host" and problems[0]["host"] == "db-01"
    severities = [row["severity"] for row in problems]
    assert severities == sorted(
        severities, key=["down", "critical", "unreachable", "unknown", "warning"].index
    )
    assert all(row["state"] != 0 for row in problems)


CRIT_ME = ("web-01", "crit-me")


@pytest.mark.parametrize(
    ("query", "expected", "absent"),
    [
        ({"state": ["warning"]}, {("web-01", "warn-me"), ("web-01", "Disk /var")}, {CRIT_ME, ("db-01", "")}),
        ({"state": ["down"]}, {("db-01", "")}, {("db-01", "postgres")}),
        ({"hostgroup": "databases"}, {("db-01", ""), ("db-01", "postgres")}, {CRIT_ME}),
        ({"q": "CONNECTION REFUSED"}, {("db-01", "postgres")}, {CRIT_ME, ("db-01", "")}),
        ({"q": "(sda)", "node": "master"}, {CRIT_ME}, {("web-01", "warn-me")}),
        ({"q": ".*"}, set(), {CRIT_ME, ("web-01", "warn-me")}),
        ({"host": ODD_HOST}, {(ODD_HOST, "disk")}, {CRIT_ME}),
        (
            {"servicegroup": "frontend"},
            {("web-01", "frontend-crit")},
            {CRIT_ME, ("web-01", "http"), ("db-01", "")},
        ),
        ({"acknowledged": "true"}, {("web-01", "acked-filter")}, {CRIT_ME, ("web-01", "downtime-filter")}),
        ({"acknowledged": "false"}, {CRIT_ME}, {("web-01", "acked-filter")}),
        (
            {"downtime": "true"},
            {("web-01", "downtime-filter")},
            {CRIT_ME, ("web-01", "acked-filter"), ("db-01", "")},
        ),
        ({"downtime": "false"}, {CRIT_ME, ("db-01", "")}, {("web-01", "downtime-filter")}),
    ],
)
def test_problem_filters(
    api_client_for: ApiFor,
    owner: User,
    master: NaemonNode,
    query: dict[str, Any],
    expected: set[tuple[str, str]],
    absent: set[tuple[str, str]],
) -> None:
    response = api_client_for(owner).get("/api/v1/livestatus/problems/", query)
    assert response.status_code == 200
    found = {(row["host"], row["service"]) for row in response.json()["results"]}
    assert expected <= found
    assert not absent & found


@pytest.mark.parametrize(
    ("query", "exactly"),
    [
        ({"servicegroup": "frontend"}, {("web-01", "frontend-crit")}),
        ({"downtime": "true"}, {("web-01", "downtime-filter")}),
        ({"servicegroup": "frontend", "acknowledged": "true"}, set()),
    ],
)
def test_group_and_downtime_filters_match_exactly(
    api_client_for: ApiFor,
    owner: User,
    master: NaemonNode,
    query: dict[str, str],
    exactly: set[tuple[str, str]],
) -> None:
    body = api_client_for(owner).get("/api/v1/livestatus/problems/", query).json()
    assert {(row["host"], row["service"]) for row in body["results"]} == exactly
    assert body["count"] == len(exactly)
    for row in body["results"]:
        if "servicegroup" in query:
            assert row["servicegroups"] == ["frontend"]
        if "downtime" in query:
            assert row["in_downtime"] is True and row["acknowledged"] is False


def test_acknowledged_filter_finds_the_acknowledged_problem(
    api_client_for: ApiFor, owner: User, master: NaemonNode
) -> None:
    rows = (
        api_client_for(owner).get("/api/v1/livestatus/problems/", {"acknowledged": "true"}).json()["results"]
    )
    found = {(row["host"], row["service"]): row for row in rows}
    assert found["web-01", "acked-filter"]["acknowledged"] is True
    assert all(row["acknowledged"] for row in rows)  # others' acknowledgements may be there too
    assert CRIT_ME not in found and ("db-01", "") not in found


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("problems", {"status": "critical"}, "status"),
        ("problems", {"state": "fine"}, "state"),
        ("hosts", {"state": "critical"}, "state"),
        ("hosts", {"servicegroup": "x"}, "servicegroup"),
        ("services", {"acknowledged": "yes please"}, "acknowledged"),
        ("services", {"node": "nowhere"}, "node"),
        ("services", {"q": "x\nCOMMAND [1] SHUTDOWN_PROCESS"}, "q"),
        ("services", {"hostgroup": "web\r\nFilter: state = 0"}, "hostgroup"),
        ("downtimes", {"state": "critical"}, "state"),
        ("nodes", {"q": "x"}, "q"),
    ],
)
def test_bad_query_parameters_are_a_400(
    api_client_for: ApiFor,
    owner: User,
    master: NaemonNode,
    live: LivestatusClient,
    path: str,
    query: dict[str, str],
    field: str,
) -> None:
    pid = live.status()["nagios_pid"]
    response = api_client_for(owner).get(f"/api/v1/livestatus/{path}/", query)
    assert response.status_code == 400
    assert field in response.json()
    assert live.status()["nagios_pid"] == pid


def test_unreachable_node_is_reported(
    api_client_for: ApiFor, owner: User, master: NaemonNode, dead_node: NaemonNode
) -> None:
    api = api_client_for(owner)
    for path in ("hosts", "services", "problems", "downtimes"):
        body = api.get(f"/api/v1/livestatus/{path}/").json()
        assert [u["node"] for u in body["unreachable"]] == ["dead-poller"], path
        assert "Connection refused" in body["unreachable"][0]["error"]
        assert {row["node"] for row in body["results"]} <= {"master"}
    assert api.get("/api/v1/livestatus/hosts/").json()["count"] == 4


def test_node_health(api_client_for: ApiFor, owner: User, master: NaemonNode, dead_node: NaemonNode) -> None:
    Deployment.objects.create(node=master, state=DeploymentState.FAILED, reason="test", error="verify failed")
    body = api_client_for(owner).get("/api/v1/livestatus/nodes/").json()
    nodes = {row["node"]: row for row in body["results"]}
    up, down = nodes["master"], nodes["dead-poller"]
    assert up["reachable"] is True and up["error"] == ""
    assert up["core"] == "Icinga 2" and "icinga2" in up["version"]
    assert up["num_hosts"] == 4 and up["num_services"] == SERVICE_COUNT
    assert datetime.fromisoformat(up["program_start"]) <= datetime.now(UTC)
    assert up["last_deployment"]["state"] == "failed" and up["last_deployment"]["error"] == "verify failed"
    assert down["reachable"] is False and "Connection refused" in down["error"]
    assert down["last_deployment"] is None and down["num_hosts"] is None
    assert body["unreachable"] == [{"node": "dead-poller", "error": down["error"]}]


# -- actions ----------------------------------------------------------------------------------


def test_acknowledge_by_the_owner_shows_in_the_next_query(
    api_client_for: ApiFor, owner: User, master: NaemonNode, owned: dict[str, Host], make_token: Any
) -> None:
    api = api_client_for(owner)
    assert service_row(api, "web-01", "ack-me")["acknowledged"] is False
    response = api.post(
        "/api/v1/livestatus/actions/acknowledge/",
        {"host": "web-01", "service": "ack-me", "comment": "on it; INC-42", "notify": False},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "acknowledge" and body["outcome"] == "sent" and body["node"] == "master"
    assert body["host"] == "web-01" and body["service"] == "ack-me" and body["username"] == "owner"
    assert body["via"] == "api (token test)"
    assert body["command"].endswith("ACKNOWLEDGE_SVC_PROBLEM;web-01;ack-me;2;0;0;owner;on it; INC-42")
    assert body["arguments"] == {
        "comment": "on it; INC-42",
        "sticky": True,
        "notify": False,
        "persistent": False,
    }
    wait_for(lambda: service_row(api, "web-01", "ack-me")["acknowledged"], "ack-me acknowledged")
    acknowledged = api.get("/api/v1/livestatus/problems/", {"acknowledged": "true"}).json()["results"]
    assert ("web-01", "ack-me") in {(row["host"], row["service"]) for row in acknowledged}
    assert ActionLog.objects.get().outcome == ActionOutcome.SENT


def test_remove_acknowledgement(
    api_client_for: ApiFor, teammate: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    live.command(commands.acknowledge_service("web-01", "unack-me", "ack", author="someone"))
    api = api_client_for(teammate)
    wait_for(lambda: service_row(api, "web-01", "unack-me")["acknowledged"], "acknowledged")
    response = api.post(
        "/api/v1/livestatus/actions/remove-acknowledgement/",
        {"host": "web-01", "service": "unack-me"},
        format="json",
    )
    assert response.status_code == 201
    wait_for(lambda: not service_row(api, "web-01", "unack-me")["acknowledged"], "acknowledgement removed")


def test_downtime_shows_and_can_be_deleted(
    api_client_for: ApiFor, owner: User, master: NaemonNode, owned: dict[str, Host]
) -> None:
    api = api_client_for(owner)
    end = datetime.now(UTC) + timedelta(hours=2)
    response = api.post(
        "/api/v1/livestatus/actions/downtime/",
        {"host": "web-01", "service": "downtime-me", "comment": "maintenance", "end": end.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    wait_for(lambda: service_row(api, "web-01", "downtime-me")["in_downtime"], "in downtime")
    downtimes = api.get("/api/v1/livestatus/downtimes/", {"host": "web-01", "service": "downtime-me"}).json()
    assert downtimes["unreachable"] == []
    [downtime] = downtimes["results"]
    assert (
        downtime["comment"] == "maintenance" and downtime["author"] == "owner" and downtime["fixed"] is True
    )
    assert abs(datetime.fromisoformat(downtime["end"]).timestamp() - end.timestamp()) < 2

    # A flexible one: one hour, starting when the service goes down within the next day.
    response = api.post(
        "/api/v1/livestatus/actions/downtime/",
        {
            "host": "web-01",
            "service": "deldowntime-me",
            "comment": "flexible",
            "fixed": False,
            "end": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "duration": 3600,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    flexible = wait_for(
        lambda: api.get(
            "/api/v1/livestatus/downtimes/", {"host": "web-01", "service": "deldowntime-me"}
        ).json()["results"],
        "flexible downtime",
    )
    assert flexible[0]["fixed"] is False and flexible[0]["duration"] == 3600

    response = api.post(
        "/api/v1/livestatus/actions/delete-downtime/",
        {"host": "web-01", "service": "downtime-me", "downtime_id": downtime["id"], "node": downtime["node"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    wait_for(lambda: not service_row(api, "web-01", "downtime-me")["in_downtime"], "downtime deleted")
    assert list(ActionLog.objects.values_list("kind", flat=True)) == [
        "delete_downtime",
        "downtime",
        "downtime",
    ]


def test_forced_check(
    api_client_for: ApiFor, owner: User, master: NaemonNode, owned: dict[str, Host]
) -> None:
    api = api_client_for(owner)
    response = api.post(
        "/api/v1/livestatus/actions/recheck/", {"host": "web-01", "service": "check-me"}, format="json"
    )
    assert response.status_code == 201
    row = wait_for(
        lambda: (row := service_row(api, "web-01", "check-me"))["output"] == "forced check ran" and row,
        "forced check result",
    )
    assert row["state_label"] == "WARNING"


def test_comment(
    api_client_for: ApiFor, owner: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    response = api_client_for(owner).post(
        "/api/v1/livestatus/actions/comment/",
        {"host": "web-01", "service": "comment-me", "comment": "a; b", "persistent": False},
        format="json",
    )
    assert response.status_code == 201
    wait_for(
        lambda: service_state(live, "web-01", "comment-me", "comments_with_info")["comments_with_info"],
        "comment added",
    )


def test_outsider_gets_403_and_nothing_changes(
    api_client_for: ApiFor,
    outsider: User,
    master: NaemonNode,
    owned: dict[str, Host],
    live: LivestatusClient,
    command_spy: list[str],
) -> None:
    api = api_client_for(outsider)
    payloads: dict[str, dict[str, Any]] = {
        "acknowledge": {"comment": "mine"},
        "downtime": {"comment": "mine", "duration": 600},
        "recheck": {},
        "comment": {"comment": "mine"},
        "remove-acknowledgement": {},
        "delete-downtime": {"downtime_id": 1},
    }
    for path, extra in payloads.items():
        response = api.post(
            f"/api/v1/livestatus/actions/{path}/",
            {"host": "web-01", "service": "outsider-me", **extra},
            format="json",
        )
        assert response.status_code == 403, (path, response.content)
        assert "not owned by one of your teams" in response.json()["detail"]
    # Not in the registry: only staff.
    response = api.post("/api/v1/livestatus/actions/recheck/", {"host": "unowned-01"}, format="json")
    assert response.status_code == 403
    assert command_spy == [] and not ActionLog.objects.exists()
    time.sleep(0.5)
    row = service_state(live, "web-01", "outsider-me", "acknowledged", "scheduled_downtime_depth", "comments")
    assert row["acknowledged"] is False and row["scheduled_downtime_depth"] == 0 and row["comments"] == []


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        (
            "acknowledge",
            {"host": "web-01", "service": "crit-me", "comment": "x\nCOMMAND [1] SHUTDOWN_PROCESS"},
            None,
        ),
        ("acknowledge", {"host": "web-01", "service": "crit-me"}, "comment"),
        ("comment", {"host": "web-01", "service": "crit-me;1;1", "comment": "shifted"}, None),
        ("comment", {"host": "web-01", "service": "crit-me", "comment": "x", "node": "nowhere"}, "node"),
        ("downtime", {"host": "web-01", "comment": "no end"}, "end"),
        ("downtime", {"host": "web-01", "comment": "x", "fixed": False, "duration": 60}, "end"),
        ("downtime", {"host": "web-01", "comment": "x", "duration": 0}, "duration"),
        ("delete-downtime", {"host": "web-01", "downtime_id": -1}, "downtime_id"),
        ("delete-downtime", {"host": "web-01", "downtime_id": 999999}, "downtime_id"),
        ("recheck", {"service": "crit-me"}, "host"),
    ],
)
def test_invalid_actions_are_a_400_and_send_nothing(
    api_client_for: ApiFor,
    staff: User,
    master: NaemonNode,
    owned: dict[str, Host],
    command_spy: list[str],
    path: str,
    payload: dict[str, Any],
    field: str | None,
) -> None:
    response = api_client_for(staff).post(f"/api/v1/livestatus/actions/{path}/", payload, format="json")
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()
    else:
        message = str(response.json())
        assert "control character" in message or "may not contain ';'" in message
    assert command_spy == [] and not ActionLog.objects.exists()


def test_unreachable_node_answers_502_and_is_recorded(
    api_client_for: ApiFor, owner: User, dead_node: NaemonNode, owned: dict[str, Host]
) -> None:
    response = api_client_for(owner).post(
        "/api/v1/livestatus/actions/recheck/", {"host": "web-01", "node": "dead-poller"}, format="json"
    )
    assert response.status_code == 502
    assert response.json()["outcome"] == "failed" and "Connection refused" in response.json()["error"]
    assert ActionLog.objects.get().outcome == ActionOutcome.FAILED


# -- the record -------------------------------------------------------------------------------


def _record(user: User, host: str, kind: str = ActionKind.RECHECK) -> ActionLog:
    return ActionLog.objects.create(
        user=user,
        username=user.username,
        via="api",
        kind=kind,
        host_name=host,
        node="master",
        command="COMMAND [1] SCHEDULE_FORCED_HOST_CHECK;x;1",
        outcome=ActionOutcome.SENT,
    )


def test_action_log_visibility(
    api_client_for: ApiFor,
    owner: User,
    outsider: User,
    staff: User,
    django_assert_max_num_queries: Any,
) -> None:
    mine = _record(owner, "web-01")
    _record(outsider, "db-01", ActionKind.COMMENT)
    owner_api = api_client_for(owner)
    with django_assert_max_num_queries(6):
        body = owner_api.get("/api/v1/livestatus/actions/").json()
    assert [entry["id"] for entry in body["results"]] == [mine.pk]
    assert owner_api.get(f"/api/v1/livestatus/actions/{mine.pk}/").status_code == 200
    assert api_client_for(outsider).get(f"/api/v1/livestatus/actions/{mine.pk}/").status_code == 404
    staff_api = api_client_for(staff)
    assert staff_api.get("/api/v1/livestatus/actions/").json()["count"] == 2
    assert staff_api.get("/api/v1/livestatus/actions/", {"kind": "comment"}).json()["count"] == 1
    assert staff_api.get("/api/v1/livestatus/actions/", {"host": "web-01"}).json()["count"] == 1
    assert staff_api.get("/api/v1/livestatus/actions/", {"hots": "web-01"}).status_code == 400
