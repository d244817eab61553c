"""Registry pages: lists, details, the host form (same checks as the API), live deployments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models.signals import pre_save
from django.test import Client
from django.utils import timezone

from registry.choices import DeploymentState
from registry.forms import ServiceForm
from registry.models import Deployment, Host, Service, ServiceUse
from tests.doubles import DeployRecorder
from tests.factories import HostFactory
from tests.scenarios import Site

# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")


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
    "notify_owners": "on",
    # Nobody in the site has a contact the new object would notify: the form asks to confirm.
    "notify_nobody": "on",
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
    # 13: one is the reader's time zone (preferences/middleware.py), whatever the number of hosts.
    with django_assert_max_num_queries(13):
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
        ("address", "192.0.2.1;x", "';'"),
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
    errors = " ".join(e for messages in response.context["form"].errors.values() for e in messages)
    assert message in errors
    assert "invalid-feedback" in response.content.decode() or "alert-danger" in response.content.decode()
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


def test_deployment_history_always_polls_faster_while_one_runs(owner: Any, site: Site) -> None:
    client = login(owner)
    page = client.get("/registry/nodes/master1/").content.decode()
    # Nothing yet: it still polls (slowly), so that the first deployment shows up in place.
    assert 'hx-get="/registry/nodes/master1/deployments/"' in page
    assert "every 5s [document.visibilityState === 'visible']" in page
    assert "visibilitychange[document.visibilityState === 'visible'] from:document" in page
    assert "No deployments yet" in page
    done = Deployment.objects.create(
        node=site.master,
        state=DeploymentState.FAILED,
        verify_output="Error: <b>bad</b> host",
        error="verification failed",
    )
    running = Deployment.objects.create(node=site.master, state=DeploymentState.VERIFYING)
    page = client.get("/registry/nodes/master1/").content.decode()
    assert "every 2s [document.visibilityState === 'visible']" in page
    assert "<pre" in page and "Error: &lt;b&gt;bad&lt;/b&gt; host" in page
    fragment = client.get("/registry/nodes/master1/deployments/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="deployments"')
    assert "every 2s" in fragment and "<html" not in fragment
    assert f'data-deployment="{running.pk}" data-state="verifying"' in fragment
    Deployment.objects.filter(pk=running.pk).update(state=DeploymentState.CONFIRMED)
    final = client.get("/registry/nodes/master1/deployments/", HTTP_HX_REQUEST="true").content.decode()
    assert "every 5s" in final  # all final: back to the slow poll, which still sees new ones
    assert f'data-deployment="{running.pk}" data-state="confirmed"' in final
    assert f'data-detail="{done.pk}">{done.pk}</a>' in final
    assert client.get("/registry/nodes/nope/deployments/").status_code == 404


def test_node_list(owner: Any, site: Site) -> None:
    Deployment.objects.create(node=site.poller1, state=DeploymentState.CONFIRMED)
    page = login(owner).get("/registry/nodes/").content.decode()
    assert "poller1" in page and "confirmed" in page and "all hosts" in page


@pytest.mark.parametrize("per_node", [1, 40])
def test_node_list_reads_only_the_latest_deployment_of_each_node(
    owner: Any, site: Site, per_node: int, django_assert_max_num_queries: Any
) -> None:
    nodes = [site.master, site.poller1, site.poller2]
    for node in nodes:
        Deployment.objects.bulk_create(
            [Deployment(node=node, state=DeploymentState.FAILED, reason=f"old {i}") for i in range(per_node)]
        )
    for node, state in zip(nodes, ["confirmed", "verifying", "skipped"], strict=True):
        Deployment.objects.create(node=node, state=state, reason=f"latest of {node.name}")
    client = login(owner)
    with django_assert_max_num_queries(6) as queries:
        response = client.get("/registry/nodes/")
    rows = response.context["rows"]
    assert [(n.name, d.state if d else None) for n, d in rows] == [
        ("master1", "confirmed"),
        ("poller1", "verifying"),
        ("poller2", "skipped"),
        ("spare", None),
    ]
    # No query reads a node's history: deployments are read one per node (LIMIT 1), or by id.
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "registry_deployment"' in q["sql"]]
    assert reads
    assert all("LIMIT 1" in sql or '"registry_deployment"."id" IN' in sql for sql in reads), reads


# --- services: add, edit, delete (the API's permissions and write path) ---------------------


def service_state() -> list[Any]:
    """Everything a service write could change (to assert that a refused post changed nothing)."""
    return [
        list(Service.objects.values().order_by("pk")),
        list(Service.hostgroups.through.objects.values().order_by("pk")),
        list(Service.servicegroups.through.objects.values().order_by("pk")),
        list(ServiceUse.objects.values().order_by("pk")),
        list(Host.objects.values().order_by("pk")),
        Deployment.objects.count(),
    ]


def as_persona(request: pytest.FixtureRequest, persona: str) -> Client:
    if persona == "anonymous":
        return Client()
    return login(request.getfixturevalue(persona))


SERVICE_FORM = {
    "description": "HTTPS",
    "host": "web01",
    "templates": "generic-service",
    "servicegroups": ["web-services"],
    "check_command": "check_http",
    "check_command_args": "443",
    "custom_variables": "_PORT=443",
    "notes": "",
    "notify_owners": "on",
    "notify_nobody": "on",  # as FORM
}

# persona -> may change the web team's services (web01/HTTP and Load on host group web)
SERVICE_WRITERS = [("owner", True), ("teammate", True), ("staff", True), ("outsider", False)]


def edit_data(client: Client, url: str) -> dict[str, Any]:
    form = client.get(url).context["form"]
    return {k: v for k, v in form.initial.items() if v is not None}


@pytest.mark.parametrize("which", ["http", "load"])
def test_service_pages_need_a_login(site: Site, deploys: DeployRecorder, which: str) -> None:
    pk = getattr(site, which).pk
    before = service_state()
    client = Client()
    for url in [
        "/registry/services/add/",
        f"/registry/services/{pk}/edit/",
        f"/registry/services/{pk}/delete/",
    ]:
        for response in [client.get(url), client.post(url, SERVICE_FORM)]:
            assert response.status_code == 302, url
            assert response["Location"].startswith("/login/")
    assert service_state() == before
    assert deploys.calls == []


@pytest.mark.parametrize(("persona", "allowed"), SERVICE_WRITERS)
@pytest.mark.parametrize(
    ("which", "nodes"), [("http", {"master1", "poller1"}), ("load", {"master1", "poller1"})]
)
def test_who_may_edit_a_service(
    request: pytest.FixtureRequest,
    site: Site,
    deploys: DeployRecorder,
    persona: str,
    allowed: bool,
    which: str,
    nodes: set[str],
) -> None:
    service = getattr(site, which)
    client = as_persona(request, persona)
    edit = f"/registry/services/{service.pk}/edit/"
    detail = client.get(f"/registry/services/{service.pk}/").content.decode()
    assert (edit in detail) is allowed  # everyone logged in may read; only writers see the buttons
    page = client.get(edit)
    assert page.status_code == (200 if allowed else 403)
    data = {k: v for k, v in ServiceForm.initial_for(service).items() if v is not None}
    before = service_state()
    response = client.post(edit, {**data, "notes": "edited on the page"})
    if not allowed:
        assert response.status_code == 403
        assert "not owned by one of your teams" in response.content.decode()
        assert service_state() == before
        assert deploys.calls == []
        return
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == f"/registry/services/{service.pk}/"
    service.refresh_from_db()
    assert service.notes == "edited on the page"
    assert deploys.calls == [
        (nodes, f"edit service {service.description} on {'web01' if which == 'http' else 'web'} (web)")
    ]


@pytest.mark.parametrize(("persona", "allowed"), SERVICE_WRITERS)
@pytest.mark.parametrize("which", ["http", "load"])
def test_who_may_delete_a_service(
    request: pytest.FixtureRequest,
    site: Site,
    deploys: DeployRecorder,
    persona: str,
    allowed: bool,
    which: str,
) -> None:
    service = getattr(site, which)
    client = as_persona(request, persona)
    url = f"/registry/services/{service.pk}/delete/"
    page = client.get(url)
    assert page.status_code == (200 if allowed else 403)
    before = service_state()
    response = client.post(url)
    if not allowed:
        assert response.status_code == 403
        assert service_state() == before
        assert deploys.calls == []
        return
    assert response.status_code == 302
    assert response["Location"] == ("/registry/hosts/web01/" if which == "http" else "/registry/services/")
    assert not Service.objects.filter(pk=service.pk).exists()
    assert deploys.nodes == {"master1", "poller1"}
    assert "deleted. Deploying to master1, poller1" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("persona", "host", "allowed"),
    [
        ("owner", "web01", True),
        ("teammate", "web01", True),
        ("staff", "web01", True),
        ("staff", "db01", True),
        ("outsider", "db01", True),  # the outsider's own team's host
        ("outsider", "web01", False),
        ("owner", "db01", False),
    ],
)
def test_who_may_add_a_service_to_a_host(
    request: pytest.FixtureRequest,
    site: Site,
    deploys: DeployRecorder,
    persona: str,
    host: str,
    allowed: bool,
) -> None:
    client = as_persona(request, persona)
    form = client.get(f"/registry/services/add/?host={host}")
    assert form.status_code == 200
    assert form.context["form"]["host"].value() == host
    before = service_state()
    groups = ["web-services"] if host == "web01" else []  # only the web team may add to its group
    response = client.post("/registry/services/add/", {**SERVICE_FORM, "host": host, "servicegroups": groups})
    if not allowed:
        assert response.status_code == 403
        assert f"Host {host} is not owned by one of your teams" in response.content.decode()
        assert service_state() == before
        assert deploys.calls == []
        return
    assert response.status_code == 302, response.content.decode()
    service = Service.objects.get(host__name=host, description="HTTPS")
    assert response["Location"] == f"/registry/services/{service.pk}/"
    assert service.check_command_args == ["443"]
    assert service.custom_variables == {"_PORT": "443"}
    assert [g.name for g in service.servicegroups.all()] == groups
    poller = "poller1" if host == "web01" else "poller2"
    assert deploys.calls == [({"master1", poller}, f"create service HTTPS on {host} (web)")]


@pytest.mark.parametrize(
    ("persona", "groups", "status", "message"),
    [
        ("owner", ["web"], 302, ""),
        ("staff", ["shared"], 302, ""),
        ("outsider", ["web"], 403, "belong to another team"),
        ("owner", ["db"], 403, "belong to another team"),
        ("owner", ["shared"], 403, "would not belong to any of your teams"),
    ],
)
def test_who_may_add_a_service_to_host_groups(
    request: pytest.FixtureRequest,
    site: Site,
    deploys: DeployRecorder,
    persona: str,
    groups: list[str],
    status: int,
    message: str,
) -> None:
    client = as_persona(request, persona)
    before = service_state()
    response = client.post("/registry/services/add/", {**SERVICE_FORM, "host": "", "hostgroups": groups})
    assert response.status_code == status, response.content.decode()
    if status == 403:
        assert message in response.content.decode()
        assert service_state() == before
        assert deploys.calls == []
        return
    service = Service.objects.get(host=None, description="HTTPS")
    assert [g.name for g in service.hostgroups.all()] == groups
    assert deploys.calls[0][1] == f"create service HTTPS on {groups[0]} (web)"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"description": "bad;name"}, "description", "not allowed"),
        ({"description": "HTTP"}, "description", "already has a service"),
        ({"check_command_args": "80!x"}, "check_command_args", "separates"),
        ({"custom_variables": "PORT=1"}, "custom_variables", "must start with"),
        ({"custom_variables": "no equals"}, "custom_variables", "Expected _NAME=value"),
        ({"templates": "nope"}, "templates", "No such template"),
        ({"host": "nope"}, "host", "No host named nope"),
        ({"hostgroups": ["web"]}, "hostgroups", "not both"),
        ({"host": ""}, "hostgroups", "needs at least one host group"),
    ],
)
def test_the_service_form_refuses_what_the_api_refuses(
    owner: Any, site: Site, deploys: DeployRecorder, changes: dict[str, Any], field: str, message: str
) -> None:
    before = service_state()
    response = login(owner).post("/registry/services/add/", {**SERVICE_FORM, **changes})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert service_state() == before
    assert deploys.calls == []


def test_service_edit_keeps_where_it_is_and_what_the_form_does_not_show(
    owner: Any, site: Site, deploys: DeployRecorder
) -> None:
    site.http.contacts.add(site.contact)
    client = login(owner)
    url = f"/registry/services/{site.http.pk}/edit/"
    form = client.get(url).context["form"]
    assert "host" not in form.fields and "hostgroups" not in form.fields  # fixed on a host
    data = edit_data(client, url)
    response = client.post(url, {**data, "host": "db01", "hostgroups": ["db"], "check_command_args": "8080"})
    assert response.status_code == 302, response.context["form"].errors
    site.http.refresh_from_db()
    assert site.http.host == site.web01 and not site.http.hostgroups.exists()
    assert site.http.check_command_args == ["8080"]
    assert [c.name for c in site.http.contacts.all()] == ["oncall"]  # not on the form: left alone
    deploys.calls.clear()
    again = client.post(url, {**data, "check_command_args": "8080"}, follow=True)
    assert "Nothing changed" in again.content.decode()
    assert deploys.calls == []
    # A host-group service keeps its groups editable, within the caller's teams.
    load = f"/registry/services/{site.load.pk}/edit/"
    data = edit_data(client, load)
    assert client.post(load, {**data, "hostgroups": ["web", "web-extra"]}).status_code == 302
    assert sorted(g.name for g in site.load.hostgroups.all()) == ["web", "web-extra"]
    before = service_state()
    refused = client.post(load, {**data, "hostgroups": ["web", "db"]})
    assert refused.status_code == 403 and "belong to another team" in refused.content.decode()
    assert service_state() == before


def test_service_links_for_writers(owner: Any, outsider: Any, site: Site) -> None:
    host_page = login(owner).get("/registry/hosts/web01/").content.decode()
    assert "/registry/services/add/?host=web01" in host_page
    assert (
        "/registry/services/add/?host=web01"
        not in login(outsider).get("/registry/hosts/web01/").content.decode()
    )
    assert "/registry/services/add/" in login(outsider).get("/registry/services/").content.decode()


def test_service_forms_need_the_csrf_token(owner: Any, site: Site, deploys: DeployRecorder) -> None:
    client = login(owner, csrf=True)
    before = service_state()
    assert client.post("/registry/services/add/", SERVICE_FORM).status_code == 403
    assert client.post(f"/registry/services/{site.http.pk}/delete/").status_code == 403
    data = {**SERVICE_FORM, "host": ""}
    assert client.post(f"/registry/services/{site.load.pk}/edit/", data).status_code == 403
    assert service_state() == before
    assert deploys.calls == []


def test_a_concurrent_create_is_a_form_error_not_a_500(
    owner: Any, site: Site, deploys: DeployRecorder
) -> None:
    """Another writer stores web02 between the form's validation and its save: a 409 form error."""

    def concurrent_writer(sender: Any, instance: Host, **kwargs: Any) -> None:
        if instance.pk is None and instance.name == "web02":
            Host.objects.bulk_create([Host(name="web02")])  # bulk_create sends no signal

    pre_save.connect(concurrent_writer, sender=Host)
    try:
        response = login(owner).post("/registry/hosts/add/", FORM)
    finally:
        pre_save.disconnect(concurrent_writer, sender=Host)
    assert response.status_code == 409
    assert "A concurrent write got there first" in response.content.decode()
    assert not Host.objects.filter(name="web02").exists()  # the whole write was rolled back
    assert deploys.calls == []
