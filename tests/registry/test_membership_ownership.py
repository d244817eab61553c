"""What a host or service joins must be the caller's to join (issue 12).

A member of team db could put db01/SSH into team web's service group (changing what web's
notification rules match) and name other teams' people as contacts of db's hosts. Every
write path goes through ``write_one``: the service and host APIs, the bulk endpoint, the
pages. A refused write is a 403 naming the field and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from monitoring_portal.models import APIToken
from registry.models import Contact, Deployment, Host, Service, ServiceGroup
from tests.doubles import DeployRecorder
from tests.factories import ContactFactory, ContactGroupFactory, ServiceFactory, ServiceGroupFactory
from tests.scenarios import Site

API = "/api/v1/registry"
SERVICE = {"check_command": "check_http", "check_command_args": ["22"], "templates": ["generic-service"]}


# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")


@pytest.fixture
def world(site: Site, owner: Any, teammate: Any, outsider: Any) -> Site:
    """The site, plus db01/SSH, db's and nobody's service groups, people's contacts and groups of them."""
    ServiceFactory.create(
        description="SSH",
        host=site.db01,
        check_command=site.check_http,
        check_command_args=["22"],
        templates=[site.generic_service],
    )
    ServiceGroupFactory.create(name="db-services", team=site.db.team)
    ServiceGroupFactory.create(name="all-services")  # no team: staff's
    ContactFactory.create(name="owner-c", user=owner)
    ContactFactory.create(name="teammate-c", user=teammate)
    ContactFactory.create(name="outsider-c", user=outsider)
    ContactFactory.create(name="web-pager", team=site.web.team)  # the web team's shared pager
    web_oncall = ContactGroupFactory.create(name="web-oncall")
    web_oncall.members.add(*Contact.objects.filter(name__in=["owner-c", "teammate-c", "web-pager"]))
    return site


def memberships() -> list[Any]:
    """Every service, and what every host and service belongs to or notifies."""
    tables: list[Any] = [
        Service,
        Service.servicegroups.through,
        Service.hostgroups.through,
        Service.contacts.through,
        Service.contact_groups.through,
        Host.hostgroups.through,
        Host.contacts.through,
        Host.contact_groups.through,
    ]
    return [list(t.objects.values().order_by("pk")) for t in tables]


def groups_of(host: str, description: str) -> list[str]:
    service = Service.objects.get(host__name=host, description=description)
    return sorted(service.servicegroups.values_list("name", flat=True))


def assert_refused(response: Any, field: str, before: list[Any], deploys: DeployRecorder) -> None:
    """403 naming the field, and nothing stored or deployed."""
    assert response.status_code == 403, response.content
    assert field in response.content.decode()
    assert memberships() == before
    assert deploys.calls == []
    assert not Deployment.objects.exists()


@pytest.fixture
def client_of(request: pytest.FixtureRequest, api_client_for: Any) -> Callable[[str], APIClient]:
    """An API client of a persona; ``readonly``: a read-only token of the web team's owner."""

    def make(persona: str) -> APIClient:
        if persona != "readonly":
            return api_client_for(request.getfixturevalue(persona))
        _, secret = APIToken.issue(request.getfixturevalue("owner"), "inventory", read_only=True)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


# --- service groups -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "host", "group", "allowed"),
    [
        ("owner", "web01", "web-services", True),
        ("teammate", "web01", "web-services", True),
        ("outsider", "db01", "db-services", True),
        ("staff", "db01", "web-services", True),
        ("staff", "web01", "all-services", True),
        # The hole: team db's member puts db01/SSH into team web's group.
        ("outsider", "db01", "web-services", False),
        ("owner", "web01", "db-services", False),
        ("owner", "web01", "all-services", False),  # no team: staff's to fill
        ("readonly", "web01", "web-services", False),
    ],
)
def test_who_may_put_a_service_into_a_service_group(
    client_of: Callable[[str], APIClient],
    world: Site,
    deploys: DeployRecorder,
    persona: str,
    host: str,
    group: str,
    allowed: bool,
) -> None:
    before = memberships()
    response = client_of(persona).put(
        f"{API}/hosts/{host}/services/Backup/", {**SERVICE, "servicegroups": [group]}, format="json"
    )
    if allowed:
        assert response.status_code == 202, response.content
        assert groups_of(host, "Backup") == [group]
        return
    assert_refused(response, "servicegroups" if persona != "readonly" else "read-only", before, deploys)
    if persona != "readonly":
        assert group in response.json()["detail"]


def _patch_service(client: APIClient) -> Any:
    return client.patch(f"{API}/hosts/db01/services/SSH/", {"servicegroups": ["web-services"]}, format="json")


def _put_host_with_services(client: APIClient) -> Any:
    body = {
        "team": "db",
        "hostgroups": ["db"],
        "templates": ["generic-host"],
        "services": [{"description": "SSH", **SERVICE, "servicegroups": ["web-services"]}],
    }
    return client.put(f"{API}/hosts/db01/", body, format="json")


def _bulk(client: APIClient) -> Any:
    host = {
        "name": "db02",
        "team": "db",
        "hostgroups": ["db"],
        "templates": ["generic-host"],
        "services": [{"description": "SSH", **SERVICE, "servicegroups": ["web-services"]}],
    }
    return client.post(f"{API}/bulk/hosts/", {"hosts": [host]}, format="json")


def _host_group_service(client: APIClient) -> Any:
    body = {**SERVICE, "servicegroups": ["web-services"]}
    return client.put(f"{API}/hostgroups/db/services/Users/", body, format="json")


@pytest.mark.parametrize(
    ("write", "field"),
    [
        (_patch_service, "servicegroups"),
        (_put_host_with_services, "services (SSH): servicegroups"),
        (_bulk, "services (SSH): servicegroups"),
        (_host_group_service, "servicegroups"),
    ],
    ids=["service PATCH", "host PUT with services", "bulk", "host group service PUT"],
)
def test_every_api_path_refuses_another_teams_service_group(
    api_client_for: Any,
    outsider: Any,
    world: Site,
    deploys: DeployRecorder,
    write: Callable[[APIClient], Any],
    field: str,
) -> None:
    before = memberships()
    response = write(api_client_for(outsider))
    assert_refused(response, field, before, deploys)
    assert "web-services" in response.content.decode()
    assert not ServiceGroup.objects.get(name="web-services").services.exists()


def test_keeping_a_membership_one_did_not_add_is_free(
    api_client_for: Any, outsider: Any, staff: Any, world: Site, deploys: DeployRecorder
) -> None:
    """Staff put db01/SSH into web's group: db may keep it, drop it, but not add more to it."""
    assert _patch_service(api_client_for(staff)).status_code == 202
    client = api_client_for(outsider)
    host = {"team": "db", "hostgroups": ["db"], "templates": ["generic-host"]}
    ssh = {"description": "SSH", **SERVICE, "servicegroups": ["web-services"]}
    # The same PUT twice: re-sending the membership stores nothing new.
    response = client.put(f"{API}/hosts/db01/", {**host, "services": [{**ssh, "notes": "x"}]}, format="json")
    assert response.status_code == 202, response.content
    response = client.put(f"{API}/hosts/db01/", {**host, "services": [{**ssh, "notes": "x"}]}, format="json")
    assert response.status_code == 200, response.content
    assert groups_of("db01", "SSH") == ["web-services"]
    # Another service into the same group is a new membership.
    before = memberships()
    deploys.calls.clear()
    Deployment.objects.all().delete()
    disk = {"description": "Disk", **SERVICE, "servicegroups": ["web-services"]}
    response = client.put(f"{API}/hosts/db01/", {**host, "services": [ssh, disk]}, format="json")
    assert_refused(response, "services (Disk): servicegroups", before, deploys)
    # Leaving the group is theirs to do.
    response = client.patch(f"{API}/hosts/db01/services/SSH/", {"servicegroups": []}, format="json")
    assert response.status_code == 202, response.content
    assert groups_of("db01", "SSH") == []


def test_the_service_page_refuses_another_teams_service_group(
    outsider: Any, world: Site, deploys: DeployRecorder
) -> None:
    client = Client()
    client.force_login(outsider)
    before = memberships()
    form = {
        "description": "Backup",
        "host": "db01",
        "templates": "generic-service",
        "servicegroups": ["web-services"],
        "check_command": "check_http",
        "check_command_args": "22",
        "custom_variables": "",
        "notes": "",
    }
    response = client.post("/registry/services/add/", form)
    assert_refused(response, "web-services belong to another team", before, deploys)
    assert response.context["form"].non_field_errors()


def test_host_groups_were_already_checked(
    api_client_for: Any, outsider: Any, world: Site, deploys: DeployRecorder
) -> None:
    """The same hole for host groups was closed before (check_groups_joined); the shared check keeps it.

    A service on team db's hosts that also runs on team web's would make web co-owner.
    """
    client = api_client_for(outsider)
    before = memberships()
    body = {**SERVICE, "hostgroups": ["db", "web"]}
    response = client.put(f"{API}/hostgroups/db/services/Users/", body, format="json")
    assert_refused(response, "hostgroups", before, deploys)
    assert "web belong to another team" in response.json()["detail"]
    body = {**SERVICE, "hostgroups": ["db", "shared"]}  # a group without a team: anyone's to join
    assert client.put(f"{API}/hostgroups/db/services/Users/", body, format="json").status_code == 202


# --- contacts and contact groups ----------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "host", "contact", "allowed"),
    [
        ("owner", "web01", "owner-c", True),  # themselves
        ("owner", "web01", "teammate-c", True),  # a member of their team
        ("owner", "web01", "web-pager", True),  # their team's contact
        ("outsider", "db01", "outsider-c", True),
        ("staff", "web01", "outsider-c", True),
        ("owner", "web01", "outsider-c", False),  # another team's person
        ("owner", "web01", "oncall", False),  # nobody's team: staff's to hand out
        ("outsider", "db01", "owner-c", False),
        ("outsider", "db01", "web-pager", False),
        ("readonly", "web01", "owner-c", False),
    ],
)
def test_who_may_name_whom_as_a_host_contact(
    client_of: Callable[[str], APIClient],
    world: Site,
    deploys: DeployRecorder,
    persona: str,
    host: str,
    contact: str,
    allowed: bool,
) -> None:
    before = memberships()
    response = client_of(persona).patch(f"{API}/hosts/{host}/", {"contacts": [contact]}, format="json")
    if allowed:
        assert response.status_code == 202, response.content
        assert list(Host.objects.get(name=host).contacts.values_list("name", flat=True)) == [contact]
        return
    assert_refused(response, "contacts" if persona != "readonly" else "read-only", before, deploys)


@pytest.mark.parametrize(
    ("persona", "host", "group", "allowed"),
    [
        ("owner", "web01", "web-oncall", True),  # every member is of the web team
        ("teammate", "web01", "web-oncall", True),
        ("staff", "db01", "web-oncall", True),
        ("outsider", "db01", "web-oncall", False),
        ("owner", "web01", "admins", False),  # oncall is nobody's team's
    ],
)
def test_a_contact_group_only_of_ones_own_people(
    api_client_for: Any,
    request: pytest.FixtureRequest,
    world: Site,
    deploys: DeployRecorder,
    persona: str,
    host: str,
    group: str,
    allowed: bool,
) -> None:
    client = api_client_for(request.getfixturevalue(persona))
    before = memberships()
    response = client.patch(f"{API}/hosts/{host}/", {"contact_groups": [group]}, format="json")
    if allowed:
        assert response.status_code == 202, response.content
        assert list(Host.objects.get(name=host).contact_groups.values_list("name", flat=True)) == [group]
        return
    assert_refused(response, "contact_groups", before, deploys)
    assert group in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"contacts": ["outsider-c"]}, "contacts"), ({"contact_groups": ["admins"]}, "contact_groups")],
)
def test_service_contacts_are_checked_too(
    api_client_for: Any,
    owner: Any,
    world: Site,
    deploys: DeployRecorder,
    body: dict[str, Any],
    field: str,
) -> None:
    client = api_client_for(owner)
    before = memberships()
    assert_refused(
        client.patch(f"{API}/hosts/web01/services/HTTP/", body, format="json"), field, before, deploys
    )
    services = [{"description": "HTTP", **SERVICE, **body}]
    response = client.patch(f"{API}/hosts/web01/", {"services": services}, format="json")
    assert_refused(response, f"services (HTTP): {field}", before, deploys)


def test_contacts_staff_added_stay_through_a_teams_put(
    api_client_for: Any, owner: Any, staff: Any, world: Site
) -> None:
    """A PUT that re-sends what staff set (another team's person) succeeds; a new stranger does not."""
    staff_client = api_client_for(staff)
    assert (
        staff_client.patch(f"{API}/hosts/web01/", {"contacts": ["outsider-c"]}, format="json").status_code
        == 202
    )
    client = api_client_for(owner)
    body = {"team": "web", "hostgroups": ["web"], "templates": ["generic-host"], "alias": "Web one"}
    response = client.put(
        f"{API}/hosts/web01/", {**body, "contacts": ["outsider-c", "owner-c"]}, format="json"
    )
    assert response.status_code == 202, response.content
    assert sorted(Host.objects.get(name="web01").contacts.values_list("name", flat=True)) == [
        "outsider-c",
        "owner-c",
    ]
    response = client.put(
        f"{API}/hosts/web01/", {**body, "contacts": ["outsider-c", "oncall"]}, format="json"
    )
    assert response.status_code == 403 and "oncall" in response.json()["detail"]
    response = client.put(f"{API}/hosts/web01/", {**body, "contacts": []}, format="json")
    assert response.status_code == 202, response.content
    assert not Host.objects.get(name="web01").contacts.exists()
