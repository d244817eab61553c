"""Operator actions: the service module (permission, commands, nodes, record) and the page forms.

Commands go to a real Icinga 2 and their effect is read back from it, polling with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from livestatus import actions
from livestatus.actions import ActionForbidden, ActionInvalid, Target
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from livestatus.models import ActionKind, ActionLog, ActionOutcome
from monitoring_portal.models import Team
from registry.models import DeployedHost, Host, NaemonNode
from tests.livestatus.fixtures import service_state, wait_for

# The status tests' fixtures (their own Icinga 2, nodes, owners); see that module.
pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
Browser = Callable[[Any], Client]


# -- the downtime window ---------------------------------------------------------------------


def test_fixed_downtime_from_duration() -> None:
    start, end, duration = actions.downtime_window(start=None, end=None, duration=3600, fixed=True, now=NOW)
    assert (start, end, duration) == (NOW, NOW + timedelta(hours=1), 3600)


def test_fixed_downtime_from_end_takes_the_window_as_duration() -> None:
    end = NOW + timedelta(minutes=30)
    assert actions.downtime_window(start=NOW, end=end, duration=None, fixed=True, now=NOW) == (NOW, end, 1800)


def test_flexible_downtime_needs_end_and_duration() -> None:
    with pytest.raises(ActionInvalid, match="flexible"):
        actions.downtime_window(start=NOW, end=None, duration=600, fixed=False, now=NOW)
    with pytest.raises(ActionInvalid, match="flexible"):
        actions.downtime_window(start=NOW, end=NOW + timedelta(hours=2), duration=None, fixed=False, now=NOW)
    window = actions.downtime_window(
        start=NOW, end=NOW + timedelta(hours=2), duration=600, fixed=False, now=NOW
    )
    assert window[2] == 600


@pytest.mark.parametrize(
    ("start", "end", "duration", "message"),
    [
        (NOW, NOW - timedelta(minutes=1), None, "end after it starts"),
        (NOW - timedelta(days=2), NOW - timedelta(days=1), None, "in the past"),
        (NOW, None, 0, "duration must be"),
        (NOW, NOW + timedelta(days=400), None, "at most"),
        (NOW, None, None, "end or a duration"),
    ],
)
def test_bad_downtime_windows(
    start: datetime, end: datetime | None, duration: int | None, message: str
) -> None:
    with pytest.raises(ActionInvalid, match=message):
        actions.downtime_window(start=start, end=end, duration=duration, fixed=True, now=NOW)


# -- commands ----------------------------------------------------------------------------------


def test_commands_per_kind() -> None:
    service, host = Target("web-01", "disk"), Target("web-01")
    assert (
        actions.build_command(ActionKind.RECHECK, service, {}, author="a").name == "SCHEDULE_FORCED_SVC_CHECK"
    )
    assert (
        actions.build_command(ActionKind.RECHECK, host, {}, author="a").name == "SCHEDULE_FORCED_HOST_CHECK"
    )
    ack = actions.build_command(
        ActionKind.ACKNOWLEDGE, service, {"comment": "disk full; ticket 42", "sticky": False}, author="ann"
    )
    assert ack.line(1) == "COMMAND [1] ACKNOWLEDGE_SVC_PROBLEM;web-01;disk;1;1;0;ann;disk full; ticket 42"
    delete = actions.build_command(ActionKind.DELETE_DOWNTIME, host, {"downtime_id": 7}, author="a")
    assert delete.line(1) == "COMMAND [1] DEL_HOST_DOWNTIME;7"


@pytest.mark.parametrize(
    ("target", "params"),
    [
        (Target("web-01", "disk"), {"comment": "two\nlines"}),
        (Target("web-01", "disk"), {"comment": "x\n\nCOMMAND [1] SHUTDOWN_PROCESS"}),
        (Target("web-01", "disk"), {"comment": "   "}),
        (Target("web-01", "disk;1;1;1;x;y"), {"comment": "shifted arguments"}),
        (Target("web-01;x"), {"comment": "shifted arguments"}),
        (Target("web-01\r"), {"comment": "carriage return"}),
        (Target("web-01", "disk"), {}),
    ],
)
def test_unsafe_or_incomplete_commands_are_refused(target: Target, params: dict[str, Any]) -> None:
    with pytest.raises(ActionInvalid):
        actions.build_command(ActionKind.ACKNOWLEDGE, target, params, author="ann")


# -- permission ----------------------------------------------------------------------------------


def test_who_may_act(
    owner: User,
    teammate: User,
    outsider: User,
    staff: User,
    master: NaemonNode,
    owned: dict[str, Host],
    team: Team,
) -> None:
    web, db_host, unowned = Target("web-01", "disk"), Target("db-01"), Target("unowned-01", "disk")
    for user in (owner, teammate):
        assert actions.may_act(user, web)  # Host.team
        assert actions.may_act(user, db_host)  # through the host group's team
        assert not actions.may_act(user, unowned)  # not in the registry: staff only
    assert not actions.may_act(outsider, web) and not actions.may_act(outsider, db_host)
    assert actions.denial(outsider, web) == "web-01 is not owned by one of your teams."
    assert (
        actions.denial(owner, unowned)
        == "unowned-01 is not in the registry: only staff and operators may act on it."
    )
    assert all(actions.may_act(staff, target) for target in (web, db_host, unowned))
    assert actions.owned_hosts(owner) == {"web-01", "db-01"}
    assert actions.owned_hosts(outsider) == set()
    assert actions.owned_hosts(staff) is None


def test_a_registry_host_grants_rights_only_where_a_confirmed_deployment_put_it(
    owner: User, staff: User, master: NaemonNode, dead_node: NaemonNode, team: Team, command_spy: list[str]
) -> None:
    # web-01 is registered for the owner's team, but no deployment has put it on a node yet:
    # the object called web-01 on the master is not (yet) this registry host.
    web = Host.objects.create(name="web-01", team=team)
    target = Target("web-01", "check-me")
    assert actions.denial(owner, target) == (
        "web-01 is not yet deployed to node master: you may act on it there once a confirmed deployment "
        "has put this registry host there (an object of that name may be someone else's)."
    )
    with pytest.raises(ActionForbidden, match="not yet deployed to node master"):
        actions.perform(owner, ActionKind.RECHECK, target, {})
    assert command_spy == [] and not ActionLog.objects.exists()
    assert actions.owned_hosts(owner) == set()

    # A confirmed deployment of the master puts it there: actions on the master are allowed,
    # and only there (the poller never got it).
    DeployedHost.objects.record(master, {"web-01": web.pk})
    assert actions.may_act(owner, target) and actions.owned_hosts(owner) == {"web-01"}
    assert actions.perform(owner, ActionKind.RECHECK, target, {}).node == "master"
    with pytest.raises(ActionForbidden, match="not yet deployed to node dead-poller"):
        actions.perform(owner, ActionKind.RECHECK, target, {}, node="dead-poller")

    # Renamed: the node runs the old name until a deployment confirms the new one.
    web.name = "web-01-new"
    web.save()
    assert actions.denial(owner, Target("web-01-new")) is not None
    # Deleted and registered again (a new object): not the one the master runs.
    web.delete()
    again = Host.objects.create(name="web-01", team=team)
    assert not actions.may_act(owner, target)
    DeployedHost.objects.record(master, {"web-01": again.pk})
    assert actions.may_act(owner, target)
    assert actions.may_act(staff, Target("unowned-01", "disk"))  # staff: anything, deployed or not


# -- perform ---------------------------------------------------------------------------------------


def test_forbidden_sends_and_records_nothing(
    outsider: User, master: NaemonNode, owned: dict[str, Host], command_spy: list[str]
) -> None:
    with pytest.raises(ActionForbidden):
        actions.perform(outsider, ActionKind.RECHECK, Target("web-01", "disk"), {})
    assert command_spy == [] and not ActionLog.objects.exists()


def test_unknown_node_is_refused(owner: User, master: NaemonNode, owned: dict[str, Host]) -> None:
    with pytest.raises(ActionInvalid, match="not a node with Livestatus") as info:
        actions.perform(owner, ActionKind.RECHECK, Target("web-01", "disk"), {}, node="nowhere")
    assert info.value.field == "node"


def test_dead_node_is_recorded_as_failed(owner: User, dead_node: NaemonNode, owned: dict[str, Host]) -> None:
    entry = actions.perform(owner, ActionKind.RECHECK, Target("web-01", "disk"), {}, node="dead-poller")
    assert entry.outcome == ActionOutcome.FAILED and not entry.ok
    assert "Connection refused" in entry.error
    assert entry.node == "dead-poller" and entry.command.endswith(
        "SCHEDULE_FORCED_SVC_CHECK;web-01;disk;" + entry.command.rsplit(";", 1)[1]
    )


def test_owning_node_is_found_through_livestatus(
    staff: User, master: NaemonNode, dead_node: NaemonNode, live: LivestatusClient
) -> None:
    # unowned-01 is not in the registry: the node that lists it is asked (the dead one cannot answer).
    entry = actions.perform(staff, ActionKind.RECHECK, Target("unowned-01", "disk"), {})
    assert entry.ok and entry.node == "master"


def test_a_downtime_of_another_object_cannot_be_deleted(
    owner: User,
    staff: User,
    master: NaemonNode,
    owned: dict[str, Host],
    live: LivestatusClient,
    command_spy: list[str],
) -> None:
    # Staff puts a downtime on unowned-01; the owner of web-01 tries to delete it by id.
    now = int(time.time())
    live.command(
        commands.schedule_service_downtime("unowned-01", "disk", now, now + 3600, "theirs", author="x")
    )
    command_spy.clear()
    downtime = wait_for(
        lambda: live.query(
            LivestatusQuery("downtimes").select("id").where(Filter("host_name", "=", "unowned-01"))
        ),
        "downtime on unowned-01",
    )[0]
    with pytest.raises(ActionInvalid, match="has no downtime"):
        actions.perform(
            owner, ActionKind.DELETE_DOWNTIME, Target("web-01", "disk"), {"downtime_id": downtime["id"]}
        )
    assert command_spy == [] and not ActionLog.objects.exists()
    # Staff may, naming the right object.
    entry = actions.perform(
        staff, ActionKind.DELETE_DOWNTIME, Target("unowned-01", "disk"), {"downtime_id": downtime["id"]}
    )
    assert entry.ok
    wait_for(
        lambda: (
            not live.query(
                LivestatusQuery("downtimes").select("id").where(Filter("host_name", "=", "unowned-01"))
            )
        ),
        "downtime deleted",
    )


# -- the pages -------------------------------------------------------------------------------------


def test_acknowledge_from_the_page(
    browser_for: Browser, owner: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    browser = browser_for(owner)
    form = browser.get("/status/acknowledge/web-01/ack-page/?node=master")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'name="comment"' in html and 'name="sticky"' in html and 'value="master"' in html
    response = browser.post(
        "/status/acknowledge/web-01/ack-page/",
        {"comment": "looking; ticket 7", "sticky": "on", "node": "master"},
    )
    assert response.status_code == 302 and response["Location"] == "/status/service/web-01/ack-page/"
    entry = ActionLog.objects.get()
    assert (entry.kind, entry.username, entry.via, entry.node, entry.outcome) == (
        "acknowledge",
        "owner",
        "page",
        "master",
        "sent",
    )
    assert entry.arguments == {
        "comment": "looking; ticket 7",
        "sticky": True,
        "notify": False,
        "persistent": False,
    }
    wait_for(
        lambda: service_state(live, "web-01", "ack-page", "acknowledged")["acknowledged"], "acknowledged"
    )
    detail = browser.get("/status/service/web-01/ack-page/").content.decode()
    assert '<dd class="col-sm-8" id="acknowledged">yes (sticky)</dd>' in detail
    assert "looking; ticket 7" in detail  # the acknowledgement's comment
    assert "Remove acknowledgement" in detail


def test_comment_and_recheck_from_the_page_with_a_slash_in_the_name(
    browser_for: Browser, owner: User, master: NaemonNode, owned: dict[str, Host], live: LivestatusClient
) -> None:
    browser = browser_for(owner)
    response = browser.post(
        "/status/comment/web-01/Disk%20/var/", {"comment": "see ticket 9", "persistent": "on"}
    )
    assert response.status_code == 302
    wait_for(
        lambda: live.query(
            LivestatusQuery("comments")
            .select("comment")
            .where(Filter("service_description", "=", "Disk /var"), Filter("comment", "=", "see ticket 9"))
        ),
        "comment on Disk /var",
    )
    assert "see ticket 9" in browser.get("/status/service/web-01/Disk%20/var/").content.decode()
    assert browser.post("/status/recheck/web-01/", {}).status_code == 302
    assert list(ActionLog.objects.values_list("kind", flat=True)) == ["recheck", "comment"]


def test_invalid_form_is_a_400_and_sends_nothing(
    browser_for: Browser, owner: User, master: NaemonNode, owned: dict[str, Host], command_spy: list[str]
) -> None:
    browser = browser_for(owner)
    response = browser.post("/status/acknowledge/web-01/crit-me/", {"comment": "two\nlines"})
    assert response.status_code == 400
    assert "comment contains the control character" in response.content.decode()
    response = browser.post("/status/downtime/web-01/crit-me/", {"comment": "x", "fixed": "on"})
    assert response.status_code == 400
    assert "A fixed downtime needs an end or a duration." in response.content.decode()
    assert command_spy == [] and not ActionLog.objects.exists()


def test_outsider_gets_403_from_the_pages_and_nothing_is_sent(
    browser_for: Browser,
    outsider: User,
    master: NaemonNode,
    owned: dict[str, Host],
    live: LivestatusClient,
    command_spy: list[str],
) -> None:
    browser = browser_for(outsider)
    assert browser.get("/status/acknowledge/web-01/outsider-me/").status_code == 403
    response = browser.post("/status/acknowledge/web-01/outsider-me/", {"comment": "mine now"})
    assert response.status_code == 403
    assert browser.post("/status/recheck/db-01/", {}).status_code == 403
    assert command_spy == [] and not ActionLog.objects.exists()
    time.sleep(0.5)
    assert service_state(live, "web-01", "outsider-me", "acknowledged")["acknowledged"] is False
    # The pages show no action buttons to them.
    detail = browser.get("/status/service/web-01/outsider-me/").content.decode()
    assert 'id="actions"' not in detail


def test_csrf_is_required(
    owner: User, master: NaemonNode, owned: dict[str, Host], command_spy: list[str]
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.post("/status/recheck/web-01/crit-me/", {}).status_code == 403
    assert command_spy == []


def test_action_log_page(browser_for: Browser, owner: User, outsider: User, staff: User, db: None) -> None:
    for user in (owner, outsider):
        ActionLog.objects.create(
            user=user,
            username=user.username,
            via="page",
            kind=ActionKind.RECHECK,
            host_name=f"host-of-{user.username}",
            node="master",
            command="COMMAND [1] SCHEDULE_FORCED_HOST_CHECK;x;1",
            outcome=ActionOutcome.SENT,
        )
    mine = browser_for(owner).get("/status/actions/").content.decode()
    assert "host-of-owner" in mine and "host-of-outsider" not in mine
    everything = browser_for(staff).get("/status/actions/").content.decode()
    assert "host-of-owner" in everything and "host-of-outsider" in everything
    filtered = browser_for(staff).get("/status/actions/?q=outsider").content.decode()
    assert "host-of-owner" not in filtered and "host-of-outsider" in filtered


# -- a name that a node monitors outside the registry -------------------------------------------------


def test_registering_a_live_name_does_not_give_rights_over_it(
    api_client_for: Callable[[Any], Any],
    owner: User,
    staff: User,
    team: Team,
    master: NaemonNode,
    live: LivestatusClient,
    command_spy: list[str],
) -> None:
    # unowned-01 runs on the master, outside the registry. A team member registers that name
    # to acknowledge and put downtime on the real one: the registration is refused, naming the node.
    body = {"name": "unowned-01", "team": team.name, "max_check_attempts": 1}
    member = api_client_for(owner)
    response = member.post("/api/v1/registry/hosts/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["name"] == [
        "Node master already monitors a host named 'unowned-01' outside the registry: registering it "
        'would duplicate that object (the node refuses the duplicate). Staff may adopt it with "adopt": true.'
    ]
    assert not Host.objects.filter(name="unowned-01").exists()
    # Adopting is for staff only.
    response = member.post("/api/v1/registry/hosts/", {**body, "adopt": True}, format="json")
    assert response.status_code == 400
    assert response.json()["adopt"] == [
        "Only staff may adopt a host that a node monitors outside the registry."
    ]
    assert not Host.objects.filter(name="unowned-01").exists()

    # Staff adopt it for the team. Until a confirmed deployment has put the registry's
    # unowned-01 on the master, the object there is not the team's: nothing is sent.
    response = api_client_for(staff).post("/api/v1/registry/hosts/", {**body, "adopt": True}, format="json")
    assert response.status_code in (201, 202), response.content
    host = Host.objects.get(name="unowned-01")
    for path, extra in (
        ("acknowledge", {"comment": "mine now"}),
        ("downtime", {"comment": "x", "duration": 600}),
    ):
        response = member.post(
            f"/api/v1/livestatus/actions/{path}/",
            {"host": "unowned-01", "service": "disk", **extra},
            format="json",
        )
        assert response.status_code == 403, response.content
        assert "unowned-01 is not yet deployed to node master" in response.json()["detail"]
    assert command_spy == [] and not ActionLog.objects.exists()
    downtimes = LivestatusQuery("downtimes").select("id").where(Filter("host_name", "=", "unowned-01"))
    assert live.query(downtimes) == []

    # Once the master confirmed a deploy with it, it is the team's there.
    DeployedHost.objects.record(master, {"unowned-01": host.pk})
    response = member.post(
        "/api/v1/livestatus/actions/downtime/",
        {"host": "unowned-01", "service": "disk", "comment": "adopted", "duration": 600},
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    wait_for(lambda: live.query(downtimes), "downtime on unowned-01")
