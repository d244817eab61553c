"""Coverage gaps: the objects about which nobody would be told, why, and where to fix it.

registry/coverage.py finds what Naemon itself would tell nobody; preferences/coverage.py adds
"every recipient's rules suppress its problems"; the page, the API, the gauge and the
deployment warnings all read that one report.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client import generate_latest

from monitoring_portal.models import Team
from preferences import coverage
from preferences.models import NotificationProfile
from registry.coverage import deployment_warnings
from registry.models import Command, Contact, Host, HostGroup, HostTemplate, HostUse, Service, TimePeriod
from tests.factories import NaemonNodeFactory
from tests.preferences.conftest import make_rule

API = "/api/v1/preferences/coverage/"


def member(name: str, team: Team, **fields: Any) -> User:
    user = User.objects.create_user(name, f"{name}@example.org", **fields)
    team.members.add(user)  # a team member with an email gets a managed contact (registry/signals.py)
    return user


@pytest.fixture
def site(db: None, team: Team, other_team: Team, owner: User, outsider: User) -> dict[str, Any]:
    """One covered host and one host per reason; ``team`` (owner's) owns all but ``orphan`` and ``theirs`` (ops')."""
    NaemonNodeFactory.create(name="master1")
    Command.objects.create(name="notify-email", command_line="/bin/true $CONTACTEMAIL$", channel="email")
    alice = member("alice", team)
    ops = Team.objects.create(name="ops")
    carol = member("carol", ops)
    assert Contact.objects.filter(name__in=["alice", "carol"]).count() == 2
    hosts = {name: Host.objects.create(name=name, team=team) for name in ("web1", "muted", "never", "nochan")}
    hosts["orphan"] = Host.objects.create(name="orphan")  # no team, no contacts, no staff contact
    hosts["theirs"] = Host.objects.create(name="theirs", team=ops)
    # Disabled through a template, not on the host itself.
    quiet = HostTemplate.objects.create(name="quiet-host", notifications_enabled=False)
    HostUse.objects.create(host=hosts["muted"], template=quiet)
    hosts["never"].notification_period = TimePeriod.objects.create(name="never", ranges={})
    hosts["never"].save()
    # A contact without any notification command instead of the team.
    hosts["nochan"].notify_owners = False
    hosts["nochan"].save()
    hosts["nochan"].contacts.add(Contact.objects.create(name="mute-bob"))
    # carol drops every problem of "theirs".
    make_rule(carol, action="suppress", hosts=["theirs"])
    return {"hosts": hosts, "alice": alice, "carol": carol}


def rows(user: User | None = None, **filters: Any) -> dict[str, list[str]]:
    return {
        f"{g.target.host}/{g.target.service}" if g.target.service else g.target.host: list(g.reasons)
        for g in coverage.gaps(user, **filters)
    }


def test_each_reason_is_reported_and_a_covered_host_is_not(site: dict[str, Any]) -> None:
    assert rows() == {
        "muted": ["notifications_disabled"],
        "never": ["period_never"],
        "nochan": ["no_channel"],
        "orphan": ["no_contacts"],
        "theirs": ["rules_suppress"],
    }
    gap = next(g for g in coverage.gaps() if g.target.host == "theirs")
    assert "carol: rule" in gap.reasons["rules_suppress"]
    assert gap.fixes()["rules_suppress"] == "/notifications/"
    muted = next(g for g in coverage.gaps() if g.target.host == "muted")
    assert muted.fixes()["notifications_disabled"] == "/registry/hosts/muted/edit/"


def test_a_disabled_node_silences_everything_it_notifies_for(site: dict[str, Any]) -> None:
    from registry.models import NaemonNode

    NaemonNode.objects.filter(name="master1").update(enabled=False)
    assert rows()["web1"] == ["node_disabled"]


def test_a_narrow_notify_window_is_found_where_hourly_sampling_would_miss_it(site: dict[str, Any]) -> None:
    carol = site["carol"]
    NotificationProfile.objects.update_or_create(user=carol, defaults={"timezone": "Asia/Kolkata"})
    # Before the suppress rule: only Saturday 03:10-03:20 (Kolkata) lets a problem of "theirs" through.
    rule = carol.notification_rules.get()
    rule.position = 5
    rule.save()
    make_rule(carol, action="notify", hosts=["theirs"], days=["sat"], start="03:10", end="03:20")
    carol.notification_rules.filter(position=6).update(position=0)
    assert "theirs" not in rows()
    carol.notification_rules.filter(position=0).delete()
    assert rows()["theirs"] == ["rules_suppress"]


def test_a_service_on_host_groups_is_a_row_per_host_that_would_notify_nobody(site: dict[str, Any]) -> None:
    group = HostGroup.objects.create(name="everywhere")
    group.hosts.add(site["hosts"]["web1"], site["hosts"]["orphan"])
    service = Service.objects.create(description="PING", max_check_attempts=1)
    service.hostgroups.add(group)
    found = rows()
    assert found["orphan/PING"] == ["no_contacts"]  # inherits the orphan's nobody
    assert "web1/PING" not in found  # inherits web1's team


def test_an_engineer_sees_their_teams_objects_and_staff_everything(
    site: dict[str, Any], owner: User, outsider: User, staff: User
) -> None:
    assert set(rows(owner)) == {"muted", "never", "nochan"}
    assert set(rows(site["carol"])) == {"theirs"}
    assert rows(outsider) == {}
    assert set(rows(staff)) == {"muted", "never", "nochan", "orphan", "theirs"}


def test_api_filters_paginates_and_refuses_bad_parameters(
    site: dict[str, Any], api_client_for: Any, owner: User, staff: User
) -> None:
    client = api_client_for(staff)
    body = client.get(API, {"reason": "no_contacts"}).json()
    assert [r["host"] for r in body["results"]] == ["orphan"]
    assert body["results"][0]["reasons"][0] == {
        "reason": "no_contacts",
        "summary": "no contacts",
        "detail": "nobody is a contact",
        "fix_url": "/registry/hosts/orphan/edit/",
    }
    assert [r["host"] for r in client.get(API, {"team": owner.teams.get().name}).json()["results"]] == [
        "muted",
        "never",
        "nochan",
    ]
    assert [r["host"] for r in client.get(API, {"host": "never"}).json()["results"]] == ["never"]
    page = client.get(API, {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5 and [r["host"] for r in page["results"]] == ["nochan", "orphan"]
    for params, field in (
        ({"reason": "nope"}, "reason"),
        ({"team": "nope"}, "team"),
        ({"hots": "x"}, "hots"),
    ):
        response = client.get(API, params)
        assert response.status_code == 400 and field in response.json(), response.json()
    # An engineer sees only their teams' objects, even when asking for another team.
    mine = api_client_for(owner)
    assert {r["host"] for r in mine.get(API).json()["results"]} == {"muted", "never", "nochan"}
    assert mine.get(API, {"host": "orphan"}).json()["results"] == []
    assert api_client_for(None).get(API).status_code in (401, 403)


def test_the_page_lists_gaps_with_a_link_to_the_fix(
    site: dict[str, Any], owner: User, outsider: User
) -> None:
    client = Client()
    client.force_login(owner)
    html = client.get("/notifications/coverage/").content.decode()
    assert 'data-host="never"' in html and 'data-reason="period_never"' in html
    assert 'href="/registry/hosts/never/edit/"' in html
    assert "orphan" not in html and "theirs" not in html
    assert client.get("/notifications/coverage/", {"reason": "bogus"}).status_code == 400
    client.force_login(site["carol"])
    assert 'data-host="theirs"' in client.get("/notifications/coverage/").content.decode()
    assert Client().get("/notifications/coverage/").status_code == 302


def test_the_gauge_counts_each_reason_from_the_stored_counts(site: dict[str, Any], settings: Any) -> None:
    settings.REDIS_URL = ""  # the zero-setup site: counted in this process
    coverage.refresh_counts()
    metrics = generate_latest().decode()
    assert 'portal_coverage_gap_objects{reason="no_contacts"} 1.0' in metrics
    assert 'portal_coverage_gap_objects{reason="rules_suppress"} 1.0' in metrics
    Host.objects.create(name="orphan2")
    coverage.refresh_counts()
    assert 'portal_coverage_gap_objects{reason="no_contacts"} 2.0' in generate_latest().decode()


def test_the_gauge_reads_what_the_task_stored_in_redis(
    site: dict[str, Any], settings: Any, redis_url: str
) -> None:
    from preferences.tasks import refresh_coverage

    settings.REDIS_URL = redis_url
    refresh_coverage.apply()
    assert coverage.stored_counts()["counts"]["period_never"] == 1  # type: ignore[index]
    assert 'portal_coverage_gap_objects{reason="period_never"} 1.0' in generate_latest().decode()


def test_a_deployment_that_adds_a_host_nobody_would_hear_of_says_so(site: dict[str, Any]) -> None:
    warnings = deployment_warnings(["orphan", "web1", "never"])
    assert warnings == [
        "Coverage: Host 'never' would notify nobody: notification period never applies "
        "(notification period 'never' has no time ranges)",
        "Coverage: Host 'orphan' would notify nobody: no contacts (nobody is a contact)",
    ]


def test_the_report_costs_a_bounded_number_of_queries(
    site: dict[str, Any], team: Team, django_assert_max_num_queries: Any
) -> None:
    group = HostGroup.objects.create(name="many", team=team)
    for i in range(150):
        host = Host.objects.create(name=f"h{i}", team=team if i % 2 else None)
        host.hostgroups.add(group) if i % 3 == 0 else None
        Service.objects.create(host=host, description="HTTP", max_check_attempts=1)
    with django_assert_max_num_queries(45):
        found = coverage.gaps()
    assert len(found) > 50
