"""Registry pages: lists, details, the host form (same checks as the API), live deployments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from registry.choices import DeploymentState
from registry.models import Deployment, Host
from tests.factories import FAST_PASSWORD_HASHERS, DeployRecorder, HostFactory, Site, stub_deploys


@pytest.fixture(autouse=True)
def deploys(monkeypatch: pytest.MonkeyPatch, settings: Any) -> DeployRecorder:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS
    return stub_deploys(monkeypatch)


@pytest.fixture
def site(team: Any, other_team: Any) -> Site:
    return Site(team, other_team)


def login(user: Any, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


FORM = {
    "name": "web02",
    "alias": "Web two",
    "address": "192.0.2.20",
    "team": "web",
    "hostgroups": ["web"],
    "templates": "linux-host, generic-host",
    "check_command": "check-host-alive",
    "check_command_args": "80\n443",
    "custom_variables": "_RACK=B12",
    "notes": "",
}


@pytest.mark.parametrize(
    "url",
    [
        "/registry/",
        "/registry/hosts/",
        "/registry/hosts/web01/",
        "/registry/services/",
        "/registry/nodes/",
        "/registry/nodes/master1/",
        "/registry/nodes/master1/deployments/",
        "/registry/hosts/add/",
    ],
)
def test_pages_need_a_login(site: Site, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_index_counts_and_links(owner: Any, site: Site) -> None:
    Deployment.objects.create(node=site.master, state=DeploymentState.FAILED, reason="PUT host web01")
    page = login(owner).get("/registry/").content.decode()
    assert "/registry/hosts/" in page and "/registry/nodes/" in page and "/registry/services/" in page
    assert "1 failed" in page
    assert "PUT host web01" in page


def test_host_list_search_filters_and_lease(
    outsider: Any, site: Site, django_assert_max_num_queries: Any
) -> None:
    HostFactory.create(name="ci-runner-1", expires_at=timezone.now() + timedelta(hours=1))
    HostFactory.create(name="ci-runner-2", expires_at=timezone.now() - timedelta(hours=1))
    client = login(outsider)
    with django_assert_max_num_queries(12):
        page = client.get("/registry/hosts/").content.decode()
    assert "web01" in page and "db01" in page
    assert "expired" in page and "active" in page
    assert "Add host" in page  # outsiders may add hosts for their own team
    assert "web01" not in client.get("/registry/hosts/?q=ci-").content.decode()
    filtered = client.get("/registry/hosts/?hostgroup=web").content.decode()
    assert "web01" in filtered and "db01" not in filtered
    leased = client.get("/registry/hosts/?lease=expired").content.decode()
    assert "ci-runner-2" in leased and "ci-runner-1" not in leased


def test_host_detail(owner: Any, outsider: Any, site: Site) -> None:
    page = login(owner).get("/registry/hosts/web01/").content.decode()
    for text in [
        "web01",
        "HTTP",
        "generic-host",
        "poller1",
        "master1",
        "check_http!80",
        "/registry/hosts/web01/edit/",
    ]:
        assert text in page, text
    assert "/registry/hosts/web01/edit/" not in login(outsider).get("/registry/hosts/web01/").content.decode()
    assert login(owner).get("/registry/hosts/nope/").status_code == 404


def test_service_pages(owner: Any, site: Site) -> None:
    client = login(owner)
    listing = client.get("/registry/services/?hostgroup=web").content.decode()
    assert "HTTP" in listing and "Load" in listing
    detail = client.get(f"/registry/services/{site.load.pk}/").content.decode()
    assert "every host of" in detail and "/api/v1/registry/hostgroups/web/services/Load/" in detail


def test_owner_creates_a_host_through_the_form(owner: Any, site: Site, deploys: DeployRecorder) -> None:
    client = login(owner)
    assert client.get("/registry/hosts/add/").status_code == 200
    response = client.post("/registry/hosts/add/", FORM)
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == "/registry/hosts/web02/"
    host = Host.objects.get(name="web02")
    assert host.check_command_args == ["80", "443"]
    assert host.custom_variables == {"_RACK": "B12"}
    assert [h.name for h in host.hostgroups.all()] == ["web"]
    assert deploys.calls == [({"master1", "poller1"}, "create host web02 (web)")]
    assert "Deploying to master1, poller1" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "web 02", "white space"),
        ("name", "web;02", "not allowed"),
        ("address", "192.0.2.1;x", "comment"),
        ("check_command_args", "80!x", "separates"),
        ("custom_variables", "RACK=B12", "must start with"),
        ("custom_variables", "no equals sign", "Expected _NAME=value"),
        ("templates", "nope", "No such template"),
        ("hostgroups", ["web", "db"], "at most one poller"),
    ],
)
def test_the_form_refuses_what_the_api_refuses(
    owner: Any, site: Site, deploys: DeployRecorder, field: str, value: Any, message: str
) -> None:
    response = login(owner).post("/registry/hosts/add/", {**FORM, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Host.objects.filter(name__in=["web02", "web 02", "web;02"]).exists()
    assert deploys.calls == []


def test_edit_keeps_what_the_form_does_not_show(owner: Any, site: Site, deploys: DeployRecorder) -> None:
    client = login(owner)
    form = client.get("/registry/hosts/web01/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    response = client.post("/registry/hosts/web01/edit/", {**data, "alias": "Web one"})
    assert response.status_code == 302
    host = Host.objects.get(name="web01")
    assert host.alias == "Web one"
    assert host.services.count() == 1  # services are not on the form: left alone
    deploys.calls.clear()
    again = client.post("/registry/hosts/web01/edit/", {**data, "alias": "Web one"}, follow=True)
    assert "Nothing changed" in again.content.decode()
    assert deploys.calls == []


def test_non_owners_get_a_403_page(outsider: Any, site: Site, deploys: DeployRecorder) -> None:
    client = login(outsider)
    for url in ["/registry/hosts/web01/edit/", "/registry/hosts/web01/delete/"]:
        assert client.get(url).status_code == 403
        response = client.post(url, {**FORM, "name": "web01"})
        assert response.status_code == 403
        assert "not owned by one of your teams" in response.content.decode()
    assert Host.objects.filter(name="web01").exists()
    # Creating for someone else's team: the team is not even offered, and is refused.
    response = client.post("/registry/hosts/add/", {**FORM, "hostgroups": []})
    assert response.status_code == 200 and "team" in response.context["form"].errors
    assert not Host.objects.filter(name="web02").exists()
    assert deploys.calls == []


def test_delete_asks_then_deletes(teammate: Any, site: Site, deploys: DeployRecorder) -> None:
    client = login(teammate)
    assert "Delete web01?" in client.get("/registry/hosts/web01/delete/").content.decode()
    response = client.post("/registry/hosts/web01/delete/")
    assert response.status_code == 302
    assert not Host.objects.filter(name="web01").exists()
    assert deploys.nodes == {"master1", "poller1"}


def test_forms_need_the_csrf_token(owner: Any, site: Site) -> None:
    client = login(owner, csrf=True)
    assert client.post("/registry/hosts/add/", FORM).status_code == 403
    assert client.post("/registry/hosts/web01/delete/").status_code == 403
    assert not Host.objects.filter(name="web02").exists()
    assert Host.objects.filter(name="web01").exists()
    page = client.get("/registry/hosts/add/")
    token = page.cookies["csrftoken"].value
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    assert client.post("/registry/hosts/add/", {**FORM, "csrfmiddlewaretoken": token}).status_code == 302


def test_deployment_history_polls_while_not_final(owner: Any, site: Site) -> None:
    client = login(owner)
    done = Deployment.objects.create(
        node=site.master,
        state=DeploymentState.FAILED,
        verify_output="Error: <b>bad</b> host",
        error="verification failed",
    )
    running = Deployment.objects.create(node=site.master, state=DeploymentState.VERIFYING)
    page = client.get("/registry/nodes/master1/").content.decode()
    assert 'hx-get="/registry/nodes/master1/deployments/"' in page
    assert 'hx-trigger="every 2s"' in page
    assert "<pre" in page and "Error: &lt;b&gt;bad&lt;/b&gt; host" in page
    fragment = client.get("/registry/nodes/master1/deployments/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="deployments"')
    assert "every 2s" in fragment and "<html" not in fragment
    Deployment.objects.filter(pk=running.pk).update(state=DeploymentState.CONFIRMED)
    final = client.get("/registry/nodes/master1/deployments/").content.decode()
    assert "hx-trigger" not in final  # the swapped-in fragment no longer polls
    assert f"<td>{done.pk}</td>" in final
    assert client.get("/registry/nodes/nope/deployments/").status_code == 404


def test_node_list(owner: Any, site: Site) -> None:
    Deployment.objects.create(node=site.poller1, state=DeploymentState.CONFIRMED)
    page = login(owner).get("/registry/nodes/").content.decode()
    assert "poller1" in page and "confirmed" in page and "all hosts" in page
