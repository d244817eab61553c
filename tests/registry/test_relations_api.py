"""Dependencies and escalations in the API: Naemon's rules as 400s naming the field, ownership per role, filters.

The site (tests/scenarios.py): web01 and web02 on poller1 (team web), db01 on poller2 (team db).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from registry.models import ContactGroup, Host, Service
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from tests.doubles import DeployRecorder
from tests.factories import ContactFactory, HostFactory, ServiceFactory
from tests.scenarios import Site

API = "/api/v1/registry"
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deploys")]


@pytest.fixture
def web02(site: Site, team: Any) -> Host:
    host = HostFactory.create(name="web02", team=team, hostgroups=[site.web], templates=[site.generic_host])
    ServiceFactory.create(
        description="App", host=host, check_command=site.check_host_alive, templates=[site.generic_service]
    )
    return host


def relations() -> list[Any]:
    """Everything the four endpoints could change."""
    rows: list[Any] = []
    for model in (HostDependency, ServiceDependency, HostEscalation, ServiceEscalation):
        rows.append(list(model.objects.values().order_by("pk")))
    rows.append(list(HostEscalation.contacts.through.objects.values().order_by("pk")))
    return rows


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        (
            "hostdependencies",
            {"host": "web02", "master_host": "web01", "notification_failure_criteria": "d,x"},
            "notification_failure_criteria",
            "unknown option(s) x",
        ),
        (
            "hostdependencies",
            {"host": "web02", "master_host": "web01", "execution_failure_criteria": "n,d"},
            "execution_failure_criteria",
            "n (none) cannot be combined",
        ),
        (
            "hostdependencies",
            {"host": "web01", "master_host": "web01"},
            "master_host",
            "cannot depend on itself",
        ),
        (
            "hostdependencies",
            {"host": "web02", "master_host": "nohost"},
            "master_host",
            "No host named nohost",
        ),
        # web01 is checked by poller1, db01 by poller2: poller1's core could not name db01.
        ("hostdependencies", {"host": "web01", "master_host": "db01"}, "master_host", "poller poller1"),
        (
            "servicedependencies",
            {"service": "web02/App", "master_service": "web01/HTTP", "notification_failure_criteria": "d"},
            "notification_failure_criteria",
            "unknown option(s) d",
        ),
        (
            "servicedependencies",
            {"service": "web02/App", "master_service": "HTTP"},
            "master_service",
            "host/description",
        ),
        (
            "hostescalations",
            {"host": "web01", "first_notification": 3, "last_notification": 2, "contacts": ["oncall"]},
            "last_notification",
            "before first_notification (3)",
        ),
        (
            "hostescalations",
            {"host": "web01", "first_notification": 0, "contacts": ["oncall"]},
            "first_notification",
            ">= 1",
        ),
        (
            "hostescalations",
            {"host": "web01", "first_notification": 2, "notification_interval": -1, "contacts": ["oncall"]},
            "notification_interval",
            "",
        ),
        ("hostescalations", {"host": "web01", "first_notification": 2}, "contacts", "without contacts"),
        (
            "serviceescalations",
            {
                "service": "web01/HTTP",
                "first_notification": 2,
                "escalation_options": "d",
                "contacts": ["oncall"],
            },
            "escalation_options",
            "unknown option(s) d",
        ),
    ],
)
def test_bad_relations_are_400s_naming_the_field_and_change_nothing(
    api: Any, web02: Host, deploys: DeployRecorder, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    before = relations()
    response = api.post(f"{API}/{path}/", body, format="json")
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()[field]), response.json()
    assert relations() == before and deploys.calls == []


def test_a_circle_of_dependencies_is_refused(api: Any, web02: Host, deploys: DeployRecorder) -> None:
    first = api.post(f"{API}/hostdependencies/", {"host": "web02", "master_host": "web01"}, format="json")
    assert first.status_code == 202, first.content
    before, calls = relations(), len(deploys.calls)
    response = api.post(f"{API}/hostdependencies/", {"host": "web01", "master_host": "web02"}, format="json")
    assert response.status_code == 400
    assert (
        "circle" in response.json()["master_host"][0]
        and "web01 -> web02 -> web01" in response.json()["master_host"][0]
    )
    assert relations() == before and len(deploys.calls) == calls


def test_a_service_on_host_groups_cannot_be_named(api: Any, site: Site, web02: Host) -> None:
    # "Load" is on host group web: Naemon has no single name for it. The reference is host/description.
    response = api.post(
        f"{API}/servicedependencies/", {"service": "web02/App", "master_service": "/Load"}, format="json"
    )
    assert response.status_code == 400 and "No service /Load" in response.json()["master_service"][0]


def test_crud_round_trip_deploys_the_dependents_nodes(api: Any, web02: Host, deploys: DeployRecorder) -> None:
    body = {
        "service": "web02/App",
        "master_service": "web01/HTTP",
        "notification_failure_criteria": "w,c",
        "execution_failure_criteria": "c",
        "inherits_parent": True,
        "dependency_period": "24x7",
    }
    created = api.post(f"{API}/servicedependencies/", body, format="json")
    assert created.status_code == 202, created.content
    data = created.json()
    assert {k: data[k] for k in body} == body
    # The dependent's nodes: every master and the poller that checks web02.
    assert deploys.calls[-1][0] == {"master1", "poller1"}
    url = f"{API}/servicedependencies/{data['id']}/"
    assert data["url"].endswith(url)
    patched = api.patch(url, {"notification_failure_criteria": "c"}, format="json")
    assert patched.status_code == 202 and patched.json()["notification_failure_criteria"] == "c"
    # PUT replaces: what the body leaves out gets its default.
    put = api.put(url, {"service": "web02/App", "master_service": "web01/HTTP"}, format="json")
    assert put.status_code == 202, put.content
    assert put.json()["inherits_parent"] is False and put.json()["dependency_period"] is None
    # Ids are the portal's: PUT on an unknown id does not create.
    assert api.put(f"{API}/servicedependencies/999999/", body, format="json").status_code == 404
    assert api.delete(url).status_code == 202
    assert not ServiceDependency.objects.exists()


def test_lists_filter_by_the_objects_and_refuse_unknown_parameters(api: Any, site: Site, web02: Host) -> None:
    for host, first in (("web01", 2), ("web02", 3)):
        response = api.post(
            f"{API}/hostescalations/",
            {"host": host, "first_notification": first, "contact_groups": ["admins"]},
            format="json",
        )
        assert response.status_code == 202, response.content
    listed = api.get(f"{API}/hostescalations/", {"host": "web02"}).json()
    assert [(e["host"], e["first_notification"]) for e in listed["results"]] == [("web02", 3)]
    assert len(api.get(f"{API}/hostescalations/", {"contact_group": "admins"}).json()["results"]) == 2
    assert api.get(f"{API}/hostescalations/", {"team": "db"}).json()["results"] == []
    refused = api.get(f"{API}/hostescalations/", {"hots": "web02"})
    assert refused.status_code == 400 and "hots" in str(refused.json())


# --- ownership: the dependent object's owners write its dependencies and escalations -------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("owner", 202),
        ("teammate", 202),
        ("outsider", 403),
        ("operator", 403),  # acts on everything, writes no registry
        ("viewer", 403),
        ("anonymous", 401),
        ("staff", 202),
    ],
)
def test_who_may_create_a_dependency_of_web02(
    api_client_for: Any, request: pytest.FixtureRequest, web02: Host, persona: str, status: int
) -> None:
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    response = api_client_for(user).post(
        f"{API}/hostdependencies/", {"host": "web02", "master_host": "web01"}, format="json"
    )
    assert response.status_code == status, response.content
    assert HostDependency.objects.exists() == (status == 202)


def test_a_team_member_cannot_write_relations_of_another_teams_objects(
    api_client_for: Any, owner: User, outsider: User, web02: Host, site: Site
) -> None:
    ContactFactory.create(name="web-pager", team=owner.teams.get())
    mine = api_client_for(owner)
    # db01 belongs to team db: a dependency of db01 is theirs, even on a master the owner may name.
    response = mine.post(
        f"{API}/hostescalations/",
        {"host": "db01", "first_notification": 2, "contacts": ["web-pager"]},
        format="json",
    )
    assert response.status_code == 403 and not HostEscalation.objects.exists()
    # The owner's own dependency: the outsider may read it, not change or delete it.
    created = mine.post(f"{API}/hostdependencies/", {"host": "web02", "master_host": "web01"}, format="json")
    assert created.status_code == 202, created.content
    url = f"{API}/hostdependencies/{created.json()['id']}/"
    theirs = api_client_for(outsider)
    assert theirs.get(url).status_code == 200
    assert theirs.patch(url, {"inherits_parent": True}, format="json").status_code == 403
    assert theirs.delete(url).status_code == 403
    # Nor may the owner hand it over to a host of another team (the owner after the write).
    HostFactory.create(name="db-central", team=outsider.teams.get(), templates=[site.generic_host])
    moved = mine.patch(url, {"host": "db-central"}, format="json")
    assert moved.status_code == 403 and "would not belong to any of your teams" in moved.json()["detail"]
    assert (
        HostDependency.objects.get().host.name == "web02" and not HostDependency.objects.get().inherits_parent
    )


def test_an_escalation_reaches_only_contacts_the_owner_may_name(
    api_client_for: Any, owner: User, web02: Host, site: Site
) -> None:
    ContactFactory.create(name="stranger")
    ContactFactory.create(name="web-pager", team=owner.teams.get())
    mine = api_client_for(owner)
    body = {"host": "web02", "first_notification": 2, "contacts": ["stranger"]}
    response = mine.post(f"{API}/hostescalations/", body, format="json")
    assert response.status_code == 403 and "stranger" in response.json()["detail"]
    # A contact group with a stranger in it is refused too; the owner's own contact is fine.
    ContactGroup.objects.get(name="admins").members.add(site.contact)
    response = mine.post(
        f"{API}/hostescalations/", {**body, "contacts": [], "contact_groups": ["admins"]}, format="json"
    )
    assert response.status_code == 403
    assert not HostEscalation.objects.exists()
    ok = mine.post(f"{API}/hostescalations/", {**body, "contacts": ["web-pager"]}, format="json")
    assert ok.status_code == 202, ok.content


def test_deleting_the_dependent_service_removes_its_relations(api: Any, web02: Host) -> None:
    created = api.post(
        f"{API}/serviceescalations/",
        {"service": "web02/App", "first_notification": 2, "contacts": ["oncall"]},
        format="json",
    )
    assert created.status_code == 202, created.content
    Service.objects.filter(host=web02, description="App").delete()
    assert not ServiceEscalation.objects.exists()
