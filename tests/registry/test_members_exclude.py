"""Issue 16: time periods' ``exclude`` and groups' ``hostgroup_members``/``servicegroup_members``.

Written through the API only without loops, unknown names or poller placement (a 400 naming
the field, nothing changed), rendered as the core reads them (``nagios4 -v``), filterable, kept
by the importer, and a period another one excludes cannot be deleted from under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry import importer
from registry.models import (
    HostGroup,
    HostGroupMember,
    NaemonNode,
    ServiceGroupMember,
    TimePeriod,
    TimePeriodExclude,
)
from registry.state import render_node
from tests.registry.test_api import API
from tests.services.nagios import VerifyDir, parse_objects

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deploys")]


def _links() -> list[Any]:
    """Every link these fields store (to assert that a refused write changed nothing)."""
    return [
        sorted(TimePeriodExclude.objects.values_list("period__name", "excluded__name")),
        sorted(HostGroupMember.objects.values_list("group__name", "member__name")),
        sorted(ServiceGroupMember.objects.values_list("group__name", "member__name")),
        sorted(HostGroup.objects.values_list("name", "node__name")),
    ]


def _refused(response: Any, field: str, says: str, before: list[Any]) -> None:
    assert response.status_code == 400, response.json()
    assert says in " ".join(response.json()[field]), response.json()
    assert _links() == before


@pytest.fixture
def periods(api: Any, site: Any) -> None:
    for name, exclude in (("holidays", []), ("workhours", ["holidays"])):
        body = {"ranges": {"monday": "09:00-17:00"}, "exclude": exclude}
        assert api.put(f"{API}/timeperiods/{name}/", body, format="json").status_code in (201, 202)


def test_exclude_is_stored_shown_and_filterable(api: Any, periods: None) -> None:
    assert api.get(f"{API}/timeperiods/workhours/").json()["exclude"] == ["holidays"]
    found = api.get(f"{API}/timeperiods/?exclude=holidays").json()["results"]
    assert [p["name"] for p in found] == ["workhours"]


@pytest.mark.parametrize(
    ("name", "exclude", "says"),
    [
        ("holidays", ["workhours"], "loop back to holidays: holidays -> workhours -> holidays"),
        ("workhours", ["workhours"], "loop back to workhours"),
        ("workhours", ["no-such-period"], "No time period named no-such-period"),
    ],
)
def test_bad_exclude_is_a_400_naming_the_field(
    api: Any, periods: None, name: str, exclude: list[str], says: str
) -> None:
    before = _links()
    response = api.patch(f"{API}/timeperiods/{name}/", {"exclude": exclude}, format="json")
    _refused(response, "exclude", says, before)


def test_an_excluded_period_cannot_be_deleted(api: Any, periods: None) -> None:
    response = api.delete(f"{API}/timeperiods/holidays/")
    assert response.status_code == 409, response.json()
    assert "workhours" in str(response.json())
    assert TimePeriod.objects.filter(name="holidays").exists()
    # Once nothing excludes it, it goes.
    assert api.patch(f"{API}/timeperiods/workhours/", {"exclude": []}, format="json").status_code == 202
    assert api.delete(f"{API}/timeperiods/holidays/").status_code in (202, 204)


def test_group_members_are_stored_and_filterable(api: Any, site: Any) -> None:
    response = api.patch(f"{API}/hostgroups/shared/", {"hostgroup_members": ["web-extra"]}, format="json")
    assert response.status_code == 202, response.json()
    assert api.get(f"{API}/hostgroups/shared/").json()["hostgroup_members"] == ["web-extra"]
    found = api.get(f"{API}/hostgroups/?hostgroup_member=web-extra").json()["results"]
    assert [g["name"] for g in found] == ["shared"]
    assert api.put(
        f"{API}/servicegroups/all-services/", {"servicegroup_members": ["web-services"]}, format="json"
    ).status_code in (201, 202)
    found = api.get(f"{API}/servicegroups/?servicegroup_member=web-services").json()["results"]
    assert [g["name"] for g in found] == ["all-services"]


@pytest.mark.parametrize(
    ("group", "body", "field", "says"),
    [
        # web is on poller1: its hosts are checked there, a member group's would not be.
        (
            "shared",
            {"hostgroup_members": ["web"]},
            "hostgroup_members",
            "web (poller poller1) is on a poller",
        ),
        ("web", {"hostgroup_members": ["shared"]}, "hostgroup_members", "on a poller cannot have"),
        ("web-extra", {"node": "poller1"}, "node", "member of shared"),
        ("web-extra", {"hostgroup_members": ["shared"]}, "hostgroup_members", "loop back to web-extra"),
        ("shared", {"hostgroup_members": ["nope"]}, "hostgroup_members", "No host group named nope"),
    ],
)
def test_bad_hostgroup_members_is_a_400_naming_the_field(
    api: Any, site: Any, group: str, body: dict[str, Any], field: str, says: str
) -> None:
    assert (
        api.patch(
            f"{API}/hostgroups/shared/", {"hostgroup_members": ["web-extra"]}, format="json"
        ).status_code
        == 202
    )
    before = _links()
    _refused(api.patch(f"{API}/hostgroups/{group}/", body, format="json"), field, says, before)


def test_servicegroup_loop_is_a_400(api: Any, site: Any) -> None:
    body = {"servicegroup_members": ["web-services"]}
    assert api.put(f"{API}/servicegroups/all-services/", body, format="json").status_code in (201, 202)
    before = _links()
    response = api.patch(
        f"{API}/servicegroups/web-services/", {"servicegroup_members": ["all-services"]}, format="json"
    )
    _refused(response, "servicegroup_members", "loop back to web-services", before)


def test_a_team_may_not_pull_another_teams_group_into_its_own(
    api_client_for: Any, owner: Any, site: Any
) -> None:
    """web's team owns web-extra; shared (no team) and db's groups are not theirs to link in."""
    before = _links()
    client = api_client_for(owner)
    response = client.patch(f"{API}/hostgroups/web-extra/", {"hostgroup_members": ["shared"]}, format="json")
    assert response.status_code == 403, response.json()
    assert "hostgroup_members" in str(response.json())
    assert _links() == before


def _directives(text: str, kind: str, key: str) -> dict[str, dict[str, str]]:
    return {dict(d)[key]: dict(d) for k, d in parse_objects(text) if k == kind and key in dict(d)}


CONFIG = """
define command {
    command_name check-ok
    command_line /bin/true
}
define timeperiod {
    timeperiod_name holidays
    alias Holidays
    december 25 00:00-24:00
}
define timeperiod {
    timeperiod_name workhours
    alias Work hours
    monday 09:00-17:00
    exclude holidays
}
define timeperiod {
    timeperiod_name loopy
    exclude loopy
}
define host {
    host_name web1
    address 192.0.2.1
    max_check_attempts 3
    check_command check-ok
}
define hostgroup {
    hostgroup_name web
    members web1
}
define hostgroup {
    hostgroup_name everything
    hostgroup_members web
}
define service {
    host_name web1
    service_description HTTP
    check_command check-ok
    max_check_attempts 3
    servicegroups http
}
define servicegroup {
    servicegroup_name http
}
define servicegroup {
    servicegroup_name all-services
    servicegroup_members http
}
"""


def test_import_keeps_links_and_the_core_accepts_the_render(tmp_path: Path, verify_dir: VerifyDir) -> None:
    config = tmp_path / "site.cfg"
    config.write_text(CONFIG)
    report = importer.import_paths([config])
    assert not report.skipped, report.lines()
    # A period excluding itself would have the core recurse without end: dropped, with its line.
    line = next(i for i, text in enumerate(CONFIG.split("\n"), 1) if "exclude loopy" in text)
    assert f"dropped: {config}:{line}: timeperiod exclude loopy (a loop)" in report.lines()

    node = NaemonNode.objects.create(name="master", config_dir=str(tmp_path / "portal.d"))
    rendered = render_node(node)
    result = verify_dir.check(rendered.files)
    assert result.returncode == 0, result.output
    periods = _directives(rendered.files["timeperiods.cfg"], "timeperiod", "timeperiod_name")
    assert periods["workhours"]["exclude"] == "holidays"
    assert "exclude" not in periods["loopy"]
    groups = (
        rendered.files["groups.cfg"] if "groups.cfg" in rendered.files else "".join(rendered.files.values())
    )
    assert _directives(groups, "hostgroup", "hostgroup_name")["everything"]["hostgroup_members"] == "web"
    assert (
        _directives(groups, "servicegroup", "servicegroup_name")["all-services"]["servicegroup_members"]
        == "http"
    )
