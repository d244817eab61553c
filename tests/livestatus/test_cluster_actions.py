"""Actions in a cluster go to every node holding the object, the checker first (issue 14).

Two masters (master-a active, master-b standby) and a poller owning the host group ``web``, each
a Livestatus stand-in that records and applies the commands it gets
(``tests.livestatus.test_cluster_status.FakeCore``). A node that does not take a command gets it
from ``livestatus.tasks.retry_pending_actions`` once it answers again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from livestatus.models import ActionLog, PendingAction, PendingState
from livestatus.tasks import retry_pending_actions
from monitoring_portal.models import Team
from registry.models import DeployedHost, Host, HostGroup
from tests.factories import NaemonNodeFactory
from tests.livestatus.test_cluster_status import start_cluster

pytest_plugins = ["tests.livestatus.fixtures"]

ACK = "/api/v1/livestatus/actions/acknowledge/"
ALL = ["poller-web", "master-a", "master-b"]


@pytest.fixture
def nodes(db: None, fresh_clients: None, team: Team) -> Iterator[dict[str, Any]]:
    """The cluster, and the registry's hosts: web-01 (group web, the team's), db-01 (group db)."""
    with ExitStack() as stack:
        cluster = start_cluster(stack)
        # Each core numbers its downtimes and comments its own way, as real cores do.
        for name, start in (("poller-web", 1), ("master-a", 10), ("master-b", 20)):
            cluster["cores"][name].next_id = start
        web = Host.objects.create(name="web-01", team=team)
        web.hostgroups.add(HostGroup.objects.get(name="web"))
        db_host = Host.objects.create(name="db-01", team=team)
        db_host.hostgroups.add(HostGroup.objects.get(name="db"))
        for node in cluster["nodes"].values():
            hosts = {"db-01": db_host.pk} if node.name != "poller-web" else {}
            DeployedHost.objects.record(node, {"web-01": web.pk, **hosts})
        yield cluster


def commands_of(cluster: dict[str, Any], name: str) -> list[str]:
    """The command lines a node got (its stand-in server's record)."""
    return [line for node, line in cluster["journal"] if node == name]


def stamp(line: str) -> str:
    """A command line without its ``COMMAND [t]`` prefix's time: what must be equal on every node."""
    return re.sub(r"^COMMAND \[\d+\] ", "", line)


def test_an_acknowledgement_reaches_every_holder_checker_first(
    nodes: dict[str, Any], staff: User, api_client_for: Callable[[Any], Any]
) -> None:
    response = api_client_for(staff).post(
        ACK, {"host": "web-01", "service": "http", "comment": "on it"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(d["node"], d["ok"], d["outcome"]) for d in body["deliveries"]] == [
        (name, True, "sent") for name in ALL
    ]
    assert body["node"] == "poller-web" and body["complete"] is True
    # The checker first, then every copy, the same line (same timestamp) everywhere.
    assert [node for node, _ in nodes["journal"]] == ALL
    lines = {line for _, line in nodes["journal"]}
    assert len(lines) == 1 and stamp(lines.pop()) == "ACKNOWLEDGE_SVC_PROBLEM;web-01;http;2;1;0;staff;on it"
    assert all(nodes["cores"][name].copy("web-01", "http").acknowledged for name in ALL)

    # A master-owned object: the active master checks it, the standby holds a copy, no poller.
    nodes["journal"].clear()
    response = api_client_for(staff).post(
        ACK, {"host": "db-01", "service": "postgres", "comment": "db"}, format="json"
    )
    assert response.status_code == 201
    assert [node for node, _ in nodes["journal"]] == ["master-a", "master-b"]


def test_a_holder_that_is_down_gets_the_copy_when_it_answers_again(
    nodes: dict[str, Any], staff: User, api_client_for: Callable[[Any], Any]
) -> None:
    nodes["down"]("master-b")
    response = api_client_for(staff).post(
        ACK, {"host": "web-01", "service": "http", "comment": "on it"}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["complete"] is False and body["outcome"] == "sent"
    delivery = body["deliveries"][2]
    assert (delivery["node"], delivery["ok"], delivery["outcome"]) == ("master-b", False, "queued")
    assert "Connection refused" in delivery["error"]
    assert not nodes["cores"]["master-b"].copy("web-01", "http").acknowledged
    pending = PendingAction.objects.get()
    assert (pending.node.name, pending.state, pending.attempts) == ("master-b", PendingState.PENDING, 1)
    sent_line = commands_of(nodes, "poller-web")[0]
    assert pending.command == sent_line

    # Still down: still waiting.
    assert retry_pending_actions(max_age=3600) == {"delivered": 0, "pending": 1, "expired": 0, "rejected": 0}
    pending.refresh_from_db()
    assert pending.attempts == 2 and "Connection refused" in pending.last_error

    # Back: delivered once, with the original timestamp, and the record says so.
    nodes["up"]("master-b")
    assert retry_pending_actions(max_age=3600)["delivered"] == 1
    assert commands_of(nodes, "master-b") == [sent_line]
    assert nodes["cores"]["master-b"].copy("web-01", "http").acknowledged
    pending.refresh_from_db()
    assert pending.state == PendingState.DONE and pending.done_at is not None
    entry = ActionLog.objects.get()
    assert entry.complete and entry.deliveries[2]["outcome"] == "delivered_later"
    assert retry_pending_actions(max_age=3600)["delivered"] == 0
    assert commands_of(nodes, "master-b") == [sent_line]


def test_a_copy_is_given_up_after_the_maximum_age_and_recorded(
    nodes: dict[str, Any], staff: User, api_client_for: Callable[[Any], Any]
) -> None:
    nodes["down"]("poller-web")
    response = api_client_for(staff).post(
        ACK, {"host": "web-01", "service": "http", "comment": "on it"}, format="json"
    )
    # The checker itself did not take it: 502, and its copy is queued like any other.
    assert response.status_code == 502 and response.json()["deliveries"][0]["outcome"] == "queued"
    PendingAction.objects.update(created_at=timezone.now() - timedelta(hours=2))
    nodes["up"]("poller-web")
    assert retry_pending_actions(max_age=3600)["expired"] == 1
    pending = PendingAction.objects.get()
    assert pending.state == PendingState.EXPIRED and pending.last_error.startswith("given up after 3600 s")
    assert ActionLog.objects.get().deliveries[0]["outcome"] == "expired"
    assert commands_of(nodes, "poller-web") == []


def test_a_downtime_is_deleted_on_every_holder_by_each_nodes_own_id(
    nodes: dict[str, Any], staff: User, api_client_for: Callable[[Any], Any]
) -> None:
    api = api_client_for(staff)
    response = api.post(
        "/api/v1/livestatus/actions/downtime/",
        {"host": "web-01", "service": "http", "comment": "patching; ticket 5", "duration": 3600},
        format="json",
    )
    assert response.status_code == 201, response.content
    cores = nodes["cores"]
    copies = {name: cores[name].downtimes for name in ALL}
    assert {name: [d["id"] for d in found] for name, found in copies.items()} == {
        "poller-web": [1],
        "master-a": [10],
        "master-b": [20],
    }
    assert len({(d[0]["entry_time"], d[0]["comment"]) for d in copies.values()}) == 1  # one event
    listed = api.get("/api/v1/livestatus/downtimes/").json()["results"]
    assert [(d["node"], d["id"], d["nodes"]) for d in listed] == [("master-a", 10, sorted(ALL))]

    # master-a is down when the downtime is deleted by master-b's id (as a row of master-b shows it).
    nodes["journal"].clear()
    nodes["down"]("master-a")
    response = api.post(
        "/api/v1/livestatus/actions/delete-downtime/",
        {"host": "web-01", "service": "http", "downtime_id": 20, "node": "master-b"},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert [(d["node"], d["outcome"]) for d in response.json()["deliveries"]] == [
        ("poller-web", "sent"),
        ("master-a", "queued"),
        ("master-b", "sent"),
    ]
    assert sorted(node for node, _ in nodes["journal"]) == ["master-b", "poller-web"]
    assert stamp(commands_of(nodes, "poller-web")[0]) == "DEL_SVC_DOWNTIME;1"
    assert stamp(commands_of(nodes, "master-b")[0]) == "DEL_SVC_DOWNTIME;20"
    assert cores["poller-web"].downtimes == [] and cores["master-b"].downtimes == []
    # master-a's id is found when it answers again.
    nodes["up"]("master-a")
    assert retry_pending_actions(max_age=3600)["delivered"] == 1
    assert stamp(commands_of(nodes, "master-a")[0]) == "DEL_SVC_DOWNTIME;10"
    assert cores["master-a"].downtimes == []


def test_comments_go_to_every_holder_and_a_recheck_to_the_checker_only(
    nodes: dict[str, Any], staff: User, api_client_for: Callable[[Any], Any]
) -> None:
    api = api_client_for(staff)
    response = api.post(
        "/api/v1/livestatus/actions/comment/",
        {"host": "web-01", "service": "http", "comment": "seen"},
        format="json",
    )
    assert response.status_code == 201
    assert [node for node, _ in nodes["journal"]] == ALL
    assert len({c["entry_time"] for name in ALL for c in nodes["cores"][name].comments}) == 1
    detail = api.get("/api/v1/livestatus/services/web-01/http/").json()
    assert [(c["comment"], c["nodes"]) for c in detail["comments"]] == [("seen", sorted(ALL))]

    for host, service, checker in (("web-01", "http", "poller-web"), ("db-01", "postgres", "master-a")):
        nodes["journal"].clear()
        response = api.post(
            "/api/v1/livestatus/actions/recheck/", {"host": host, "service": service}, format="json"
        )
        assert response.status_code == 201
        assert [(node, stamp(line).split(";")[0]) for node, line in nodes["journal"]] == [
            (checker, "SCHEDULE_FORCED_SVC_CHECK")
        ]


def test_non_staff_actions_go_only_to_the_holders_their_host_was_deployed_to(
    nodes: dict[str, Any],
    owner: User,
    outsider: User,
    staff: User,
    api_client_for: Callable[[Any], Any],
) -> None:
    # A confirmed deployment put web-01 on the poller and master-a only (master-b not yet).
    DeployedHost.objects.record(nodes["nodes"]["master-b"], {})
    body = {"host": "web-01", "service": "http", "comment": "mine"}
    assert api_client_for(None).post(ACK, body, format="json").status_code in (401, 403)
    response = api_client_for(outsider).post(ACK, body, format="json")
    assert response.status_code == 403
    assert nodes["journal"] == [] and not ActionLog.objects.exists()

    response = api_client_for(owner).post(ACK, body, format="json")
    assert response.status_code == 201, response.content
    assert [d["node"] for d in response.json()["deliveries"]] == ["poller-web", "master-a"]
    assert [node for node, _ in nodes["journal"]] == ["poller-web", "master-a"]
    assert not nodes["cores"]["master-b"].copy("web-01", "http").acknowledged
    assert not PendingAction.objects.exists()

    nodes["journal"].clear()
    response = api_client_for(staff).post(ACK, body, format="json")
    assert [node for node, _ in nodes["journal"]] == ALL


def test_a_node_without_livestatus_gets_the_line_in_its_command_file(
    nodes: dict[str, Any], staff: User, api_client_for: Callable[[Any], Any], tmp_path: Path
) -> None:
    # A third master reachable only through its command file, which is not there yet (core down).
    command_file = tmp_path / "naemon.cmd"
    NaemonNodeFactory.create(name="master-c", priority=30, livestatus="", command_file=str(command_file))
    response = api_client_for(staff).post(
        ACK, {"host": "web-01", "service": "http", "comment": "on it"}, format="json"
    )
    assert response.status_code == 202, response.content
    delivery = response.json()["deliveries"][3]
    assert (delivery["node"], delivery["outcome"]) == ("master-c", "queued")
    assert "does not exist" in delivery["error"]

    command_file.write_text("")  # the core is back (a plain file stands in for its FIFO)
    assert retry_pending_actions(max_age=3600)["delivered"] == 1
    (line,) = command_file.read_text().splitlines()
    assert re.fullmatch(r"\[\d+\] ACKNOWLEDGE_SVC_PROBLEM;web-01;http;2;1;0;staff;on it", line)
    # The same timestamp as the copies the other nodes got.
    assert f"COMMAND {line}" == commands_of(nodes, "poller-web")[0]


def test_notifications_are_toggled_on_every_holder_so_a_failover_does_not_bring_them_back(
    nodes: dict[str, Any], operator: User, api_client_for: Callable[[Any], Any]
) -> None:
    # Every copy runs Naemon's notification logic (the notify-filter picks the notifier): a copy
    # left enabled would notify once a failover made it the notifier.
    api = api_client_for(operator)
    for path, line in (
        ("disable-notifications", "DISABLE_SVC_NOTIFICATIONS;web-01;http"),
        ("enable-notifications", "ENABLE_SVC_NOTIFICATIONS;web-01;http"),
    ):
        nodes["journal"].clear()
        response = api.post(
            f"/api/v1/livestatus/actions/{path}/", {"host": "web-01", "service": "http"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert [d["node"] for d in response.json()["deliveries"]] == ALL
        assert [(node, stamp(text)) for node, text in nodes["journal"]] == [(name, line) for name in ALL]


def test_active_checks_are_toggled_on_the_checker_only_and_a_passive_copy_never_checks(
    nodes: dict[str, Any], operator: User, api_client_for: Callable[[Any], Any]
) -> None:
    api = api_client_for(operator)
    cores = nodes["cores"]
    # Asked from master-b's row (a passive copy): still only the checker gets it.
    body = {"host": "web-01", "service": "http", "node": "master-b"}
    for path, line, active in (
        ("disable-checks", "DISABLE_SVC_CHECK;web-01;http", False),
        ("enable-checks", "ENABLE_SVC_CHECK;web-01;http", True),
    ):
        nodes["journal"].clear()
        response = api.post(f"/api/v1/livestatus/actions/{path}/", body, format="json")
        assert response.status_code == 201, response.content
        assert [d["node"] for d in response.json()["deliveries"]] == ["poller-web"]
        assert [(node, stamp(text)) for node, text in nodes["journal"]] == [("poller-web", line)]
        assert cores["poller-web"].copy("web-01", "http").active is active
        assert not cores["master-a"].copy("web-01", "http").active
        assert not cores["master-b"].copy("web-01", "http").active
    # An object the masters check: the active master only.
    nodes["journal"].clear()
    response = api.post("/api/v1/livestatus/actions/enable-checks/", {"host": "db-01"}, format="json")
    assert response.status_code == 201, response.content
    assert [(node, stamp(text)) for node, text in nodes["journal"]] == [
        ("master-a", "ENABLE_HOST_CHECK;db-01")
    ]
