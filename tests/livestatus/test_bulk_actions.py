"""POST /api/v1/livestatus/actions/bulk/: one action on a selection, per role, against a real core.

The core is the status tests' Icinga 2 (``tests.livestatus.fixtures``); what it got is read back
from it. Every test leaves the shared services as it found them (acks removed) or only adds
comments of its own text.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from livestatus.actions import Target
from livestatus.bulk import expand
from livestatus.client import LivestatusClient
from livestatus.models import ActionKind, ActionLog
from registry.models import Host, NaemonNode
from tests.livestatus.fixtures import service_state, wait_for

pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

URL = "/api/v1/livestatus/actions/bulk/"
Api = Callable[[User | None], APIClient]


def _comments(live: LivestatusClient, host: str, service: str) -> str:
    return str(service_state(live, host, service, "comments_with_info")["comments_with_info"])


def _acknowledged(live: LivestatusClient, target: dict[str, str], wanted: bool) -> Callable[[], bool]:
    def probe() -> bool:
        row = service_state(live, target["host"], target["service"], "acknowledged")
        return bool(row["acknowledged"]) == wanted

    return probe


def test_operator_acknowledges_a_selection_and_the_core_shows_each_ack(
    api_client_for: Api, operator: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    api = api_client_for(operator)
    selection = [{"host": "web-01", "service": "crit-me"}, {"host": "db-01", "service": "postgres"}]
    response = api.post(
        URL, {"kind": "acknowledge", "targets": selection, "comment": "bulk ack"}, format="json"
    )
    try:
        assert response.status_code == 200, response.content
        body = response.json()
        assert [(r["host"], r["service"], r["result"]) for r in body["results"]] == [
            ("web-01", "crit-me", "sent"),
            ("db-01", "postgres", "sent"),
        ]
        assert body["counts"] == {"sent": 2, "failed": 0, "refused": 0, "invalid": 0}
        for target in selection:
            wait_for(_acknowledged(live, target, True), f"the ack of {target}")
        assert ActionLog.objects.filter(kind=ActionKind.ACKNOWLEDGE, user=operator).count() == 2
    finally:
        # The server is shared: the same selection goes back to unacknowledged, in one request too.
        removed = api.post(URL, {"kind": "remove_acknowledgement", "targets": selection}, format="json")
        assert removed.status_code == 200, removed.content
        for target in selection:
            wait_for(_acknowledged(live, target, False), f"no ack on {target}")


def test_team_member_acts_on_own_objects_and_the_answer_names_the_refused_one(
    api_client_for: Api, owner: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    text = "bulk comment by the team"
    response = api_client_for(owner).post(
        URL,
        {
            "kind": "comment",
            # unowned-01 is not in the registry: only staff and operators may act on it.
            "targets": [
                {"host": "unowned-01", "service": "disk"},
                {"host": "web-01", "service": "comment-me"},
            ],
            "comment": text,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    refused, sent = response.json()["results"]
    assert (refused["host"], refused["result"], refused["action"]) == ("unowned-01", "refused", None)
    assert "not in the registry" in refused["error"]
    assert (sent["host"], sent["result"], sent["action"]["kind"]) == ("web-01", "sent", "comment")
    wait_for(lambda: text in _comments(live, "web-01", "comment-me"), "the team's comment")
    assert text not in _comments(live, "unowned-01", "disk")
    assert list(ActionLog.objects.values_list("host_name", flat=True)) == ["web-01"]


def test_viewer_is_refused_every_target_and_nothing_is_sent(
    api_client_for: Api, viewer: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    text = "bulk comment by a viewer"
    response = api_client_for(viewer).post(
        URL,
        {"kind": "comment", "targets": [{"host": "web-01", "service": "comment-me"}], "comment": text},
        format="json",
    )
    assert response.status_code == 403, response.content
    assert response.json()["counts"]["refused"] == 1
    assert not ActionLog.objects.exists()
    assert text not in _comments(live, "web-01", "comment-me")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # The second target's name would end the command line: nothing is sent for the first either.
        (
            {
                "kind": "comment",
                "comment": "x",
                "targets": [
                    {"host": "web-01", "service": "comment-me"},
                    {"host": "web-01", "service": "a\nb"},
                ],
            },
            "targets",
        ),
        ({"kind": "comment", "comment": "line\nbreak", "targets": [{"host": "web-01"}]}, "comment"),
        ({"kind": "acknowledge", "targets": [{"host": "web-01", "service": "crit-me"}]}, "comment"),
        ({"kind": "delete_downtime", "targets": [{"host": "web-01"}]}, "kind"),
        ({"kind": "comment", "comment": "x", "targets": []}, "targets"),
        ({"kind": "downtime", "comment": "x", "targets": [{"host": "web-01"}]}, "end"),
        ({"kind": "recheck", "hostgroup": "databases"}, "hostgroup"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_sends_nothing(
    api_client_for: Api,
    operator: User,
    master: NaemonNode,
    owned: dict[str, Host],
    command_spy: list[str],
    body: dict[str, object],
    field: str,
) -> None:
    response = api_client_for(operator).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert command_spy == []
    assert not ActionLog.objects.exists()


def test_a_host_with_its_services_and_a_host_group_expand_from_what_the_nodes_list(
    master: NaemonNode, owned: dict[str, Host]
) -> None:
    hosts_and_services, unreachable = expand(ActionKind.DOWNTIME, [Target("db-01")], with_services=True)
    assert hosts_and_services == [Target("db-01"), Target("db-01", "postgres")]
    assert unreachable == []
    group, _ = expand(ActionKind.DOWNTIME, [Target("db-01")], hostgroup="databases")
    assert group == [Target("db-01")]  # selected and in the group: acted on once
