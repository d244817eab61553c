"""Who may read and write what in the registry API: a matrix of personas by endpoints by actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from monitoring_portal.models import APIToken
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    TimePeriod,
)
from tests.doubles import DeployRecorder
from tests.factories import ContactFactory, HostFactory
from tests.scenarios import Site

API = "/api/v1/registry"
PERSONAS = ["owner", "teammate", "outsider", "anonymous", "staff"]


@dataclass
class Endpoint:
    """One resource: its list, an existing object, a new one (PUT) and who besides staff writes it."""

    list: str
    detail: str
    new: str
    body: dict[str, Any]
    patch: dict[str, Any] = field(default_factory=lambda: {"alias": "changed"})
    team_writable: bool = False
    deleted: int = 202  # the change deploys (a deleted node's share moves to the other nodes)


ENDPOINTS = {
    "nodes": Endpoint(
        "nodes/",
        "nodes/spare/",
        "nodes/poller9/",
        {"role": "poller", "config_dir": "/etc/naemon/p9"},
    ),
    "hosts": Endpoint(
        "hosts/",
        "hosts/web01/",
        "hosts/web02/",
        {"team": "web", "hostgroups": ["web"], "templates": ["generic-host"]},
        team_writable=True,
    ),
    "host services": Endpoint(
        "hosts/web01/services/",
        "hosts/web01/services/HTTP/",
        "hosts/web01/services/SSH%20port/",
        {"check_command": "check_http", "check_command_args": ["22"], "templates": ["generic-service"]},
        {"notes": "changed"},
        team_writable=True,
    ),
    "host group services": Endpoint(
        "hostgroups/web/services/",
        "hostgroups/web/services/Load/",
        "hostgroups/web/services/Users/",
        {"check_command": "check_http", "templates": ["generic-service"]},
        {"notes": "changed"},
        team_writable=True,
    ),
    "hostgroups": Endpoint(
        "hostgroups/", "hostgroups/web-extra/", "hostgroups/web-new/", {"team": "web"}, team_writable=True
    ),
    "servicegroups": Endpoint(
        "servicegroups/",
        "servicegroups/web-services/",
        "servicegroups/web-new/",
        {"team": "web"},
        team_writable=True,
    ),
    "hosttemplates": Endpoint(
        "hosttemplates/", "hosttemplates/linux-host/", "hosttemplates/new-host/", {"max_check_attempts": 3}
    ),
    "servicetemplates": Endpoint(
        "servicetemplates/",
        "servicetemplates/unused-service/",
        "servicetemplates/new-service/",
        {"templates": ["generic-service"]},
    ),
    "commands": Endpoint(
        "commands/", "commands/check-unused/", "commands/check-new/", {"command_line": "/bin/true"}
    ),
    "timeperiods": Endpoint(
        "timeperiods/",
        "timeperiods/unused-period/",
        "timeperiods/workhours/",
        {"ranges": {"monday": "09:00-17:00"}},
    ),
    "contacts": Endpoint(
        "contacts/",
        "contacts/oncall/",
        "contacts/new-contact/",
        {
            "email": "new@example.org",
            "host_notification_commands": ["notify-true"],
            "service_notification_commands": ["notify-true"],
        },
    ),
    "contactgroups": Endpoint(
        "contactgroups/", "contactgroups/admins/", "contactgroups/new-group/", {"members": ["oncall"]}
    ),
}

REGISTRY_MODELS: list[Any] = [
    NaemonNode,
    Host,
    Service,
    HostGroup,
    ServiceGroup,
    HostTemplate,
    ServiceTemplate,
    Command,
    TimePeriod,
    Contact,
    ContactGroup,
    Deployment,
]


def registry_state() -> list[Any]:
    return [list(model.objects.values().order_by("pk")) for model in REGISTRY_MODELS]


# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")


def persona_client(request: pytest.FixtureRequest, api_client_for: Any, persona: str) -> Any:
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    return api_client_for(user)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_access_matrix(
    request: pytest.FixtureRequest,
    api_client_for: Any,
    site: Site,
    deploys: DeployRecorder,
    name: str,
    persona: str,
) -> None:
    endpoint = ENDPOINTS[name]
    client = persona_client(request, api_client_for, persona)
    read = 401 if persona == "anonymous" else 200
    assert client.get(f"{API}/{endpoint.list}").status_code == read
    assert client.get(f"{API}/{endpoint.detail}").status_code == read

    may_write = persona == "staff" or (endpoint.team_writable and persona in ("owner", "teammate"))
    before = registry_state()
    create = client.put(f"{API}/{endpoint.new}", endpoint.body, format="json")
    update = client.patch(f"{API}/{endpoint.detail}", endpoint.patch, format="json")
    delete = client.delete(f"{API}/{endpoint.detail}")
    codes = (create.status_code, update.status_code, delete.status_code)
    if may_write:
        assert codes == (202, 202, endpoint.deleted), [create.content, update.content, delete.content]
        assert deploys.calls
    else:
        denied = 401 if persona == "anonymous" else 403
        assert codes == (denied, denied, denied)
        assert registry_state() == before
        assert deploys.calls == []
        assert not Deployment.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_read_only_endpoints(
    request: pytest.FixtureRequest, api_client_for: Any, site: Site, persona: str
) -> None:
    deployment = Deployment.objects.create(node=site.master)
    client = persona_client(request, api_client_for, persona)
    read = 401 if persona == "anonymous" else 200
    assert client.get(f"{API}/services/").status_code == read
    assert client.get(f"{API}/deployments/").status_code == read
    assert client.get(f"{API}/deployments/{deployment.pk}/").status_code == read
    # Deployments are made by writes, never written directly.
    expected = {"anonymous": 401, "staff": 405}.get(persona, 403)
    assert client.put(f"{API}/deployments/{deployment.pk}/", {}, format="json").status_code == expected
    assert client.delete(f"{API}/deployments/{deployment.pk}/").status_code == expected
    assert client.post(f"{API}/services/", {}, format="json").status_code == (
        401 if persona == "anonymous" else 405
    )
    assert Deployment.objects.get().state == "pending"


def test_outsider_cannot_create_for_another_team(api_client_for: Any, outsider: Any, site: Site) -> None:
    client = api_client_for(outsider)
    before = registry_state()
    valid = {"templates": ["generic-host"]}  # what the core needs: ownership is what is refused
    response = client.put(
        f"{API}/hosts/evil/", {**valid, "team": "web", "hostgroups": ["web"]}, format="json"
    )
    assert response.status_code == 403
    assert "another team" in response.json()["detail"]
    response = client.put(f"{API}/hosts/evil/", {**valid, "team": "web"}, format="json")
    assert response.status_code == 403
    assert "your teams" in response.json()["detail"]
    assert client.put(f"{API}/hosts/evil/", valid, format="json").status_code == 403  # owned by nobody
    assert client.put(f"{API}/hostgroups/evil/", {"team": "web"}, format="json").status_code == 403
    service = {"check_command": "check_http", "templates": ["generic-service"]}
    assert (
        client.put(f"{API}/hosts/db01/services/X/", service, format="json").status_code == 202
    )  # their own host
    assert client.put(f"{API}/hosts/web01/services/X/", service, format="json").status_code == 403
    assert client.put(f"{API}/hostgroups/web/services/X/", service, format="json").status_code == 403
    assert Service.objects.filter(description="X").count() == 1
    assert len(registry_state()[2]) == len(before[2]) + 1


def test_owner_cannot_hand_a_host_to_another_team(api_client_for: Any, owner: Any, site: Site) -> None:
    client = api_client_for(owner)
    before = registry_state()
    response = client.patch(f"{API}/hosts/web01/", {"team": "db", "hostgroups": ["db"]}, format="json")
    assert response.status_code == 403
    assert registry_state() == before
    # Sharing it is fine: the host stays theirs through its team.
    assert (
        client.patch(f"{API}/hosts/web01/", {"hostgroups": ["web", "shared"]}, format="json").status_code
        == 202
    )


def test_host_group_team_owns_its_hosts(api_client_for: Any, teammate: Any, site: Site) -> None:
    HostFactory.create(name="grouped", hostgroups=[site.web_extra], templates=[site.generic_host])  # no team
    client = api_client_for(teammate)
    assert client.patch(f"{API}/hosts/grouped/", {"alias": "x"}, format="json").status_code == 202
    assert client.patch(f"{API}/hosts/db01/", {"alias": "x"}, format="json").status_code == 403


def test_only_staff_place_host_groups_on_pollers(
    api_client_for: Any, owner: Any, staff: Any, site: Site
) -> None:
    response = api_client_for(owner).patch(f"{API}/hostgroups/web-extra/", {"node": "poller1"}, format="json")
    assert response.status_code == 403
    assert HostGroup.objects.get(name="web-extra").node is None
    assert (
        api_client_for(owner).put(f"{API}/hostgroups/web/", {"team": "web"}, format="json").status_code == 403
    )
    response = api_client_for(staff).patch(f"{API}/hostgroups/web-extra/", {"node": "poller1"}, format="json")
    assert response.status_code == 202


def test_a_user_may_update_their_own_contact_only(
    api_client_for: Any, owner: Any, outsider: Any, site: Site
) -> None:
    ContactFactory.create(name="owner-contact", user=owner)
    client = api_client_for(owner)
    assert (
        client.patch(f"{API}/contacts/owner-contact/", {"pager": "+4912345"}, format="json").status_code
        == 202
    )
    assert (
        client.patch(f"{API}/contacts/owner-contact/", {"user": "outsider"}, format="json").status_code == 403
    )
    assert client.delete(f"{API}/contacts/owner-contact/").status_code == 403
    assert client.put(f"{API}/contacts/another/", {"user": "owner"}, format="json").status_code == 403
    assert client.patch(f"{API}/contacts/oncall/", {"pager": "1"}, format="json").status_code == 403
    assert (
        api_client_for(outsider)
        .patch(f"{API}/contacts/owner-contact/", {"pager": "1"}, format="json")
        .status_code
        == 403
    )
    assert Contact.objects.get(name="owner-contact").user == owner


def test_session_writes_need_the_csrf_token(owner: Any, site: Site) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = f"{API}/hosts/web01/"
    refused = client.patch(url, {"alias": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert Host.objects.get(name="web01").alias == ""
    client.get("/registry/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = client.patch(url, {"alias": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 202
    assert Host.objects.get(name="web01").alias == "x"


def test_revoked_tokens_are_refused(api_client_for: Any, owner: Any, site: Site) -> None:
    client = api_client_for(owner)
    APIToken.objects.filter(user=owner).get().revoke()
    assert client.get(f"{API}/hosts/").status_code == 401
    assert client.patch(f"{API}/hosts/web01/", {"alias": "x"}, format="json").status_code == 401
    assert Host.objects.get(name="web01").alias == ""


def test_bulk_needs_authentication(api_client_for: Any, site: Site) -> None:
    assert api_client_for(None).post(f"{API}/bulk/hosts/", {"hosts": []}, format="json").status_code == 401


def test_cannot_put_own_host_into_another_teams_group(api_client_for: Any, outsider: Any, site: Site) -> None:
    """Joining a group makes its team co-owner: only groups of one's teams (or unowned ones)."""
    client = api_client_for(outsider)
    before = registry_state()
    response = client.patch(f"{API}/hosts/db01/", {"hostgroups": ["db", "web-extra"]}, format="json")
    assert response.status_code == 403
    assert "web-extra" in response.json()["detail"] and "another team" in response.json()["detail"]
    response = client.put(
        f"{API}/hosts/db09/",
        {"team": "db", "hostgroups": ["web"], "templates": ["generic-host"]},
        format="json",
    )
    assert response.status_code == 403
    assert registry_state() == before
    assert (
        client.patch(f"{API}/hosts/db01/", {"hostgroups": ["db", "shared"]}, format="json").status_code == 202
    )
