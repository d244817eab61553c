"""Pages of the registry's other object kinds (registry/object_views.py): list, detail, add, edit,
delete for who may, 403 for who may not, the API's validation, deployments like the API's."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from registry.models import Command, ContactGroup, HostGroup, ServiceGroup, TimePeriod
from registry.object_forms import SerializerForm
from registry.object_views import KINDS
from registry.relations import HostEscalation
from tests.doubles import DeployRecorder
from tests.scenarios import Site, site_relation
from tests.services.browser import logged_in_page

pytestmark = pytest.mark.usefixtures("deploys")


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# (kind, key of an object of the site, text the detail page shows)
OBJECTS = [
    ("hostgroups", "web", "poller1"),
    ("servicegroups", "web-services", "web-services"),
    ("hosttemplates", "generic-host", "check-host-alive"),
    ("servicetemplates", "generic-service", "generic-service"),
    ("commands", "check_http", "$USER1$/check_http -H $HOSTADDRESS$ -p $ARG1$"),
    ("contacts", "oncall", "oncall"),
    ("contactgroups", "admins", "oncall"),
    ("timeperiods", "24x7", "24x7"),
]
RELATIONS = ["hostdependency", "servicedependency", "hostescalation", "serviceescalation"]


@pytest.mark.parametrize(("kind", "key", "shown"), OBJECTS)
def test_list_search_and_detail(viewer: Any, site: Site, kind: str, key: str, shown: str) -> None:
    client = _client(viewer)
    page = client.get(f"/registry/{kind}/")
    assert page.status_code == 200
    assert f'href="/registry/{kind}/{key}/"' in page.content.decode()
    # The API's search: a query that matches nothing lists nothing.
    assert (
        f'href="/registry/{kind}/{key}/"' not in client.get(f"/registry/{kind}/?q=zzz-none").content.decode()
    )
    detail = client.get(f"/registry/{kind}/{key}/")
    assert detail.status_code == 200
    assert shown in detail.content.decode()
    # A viewer may read, not change: no Edit nor Delete button.
    assert f"/registry/{kind}/{key}/edit/" not in detail.content.decode()
    assert client.get(f"/registry/{kind}/no-such-object/").status_code == 404


@pytest.mark.parametrize("route", RELATIONS)
def test_relation_list_and_detail(viewer: Any, site: Site, route: str) -> None:
    relation = site_relation(site, route)
    kind = {"hostdependency": "hostdependencies", "servicedependency": "servicedependencies"}.get(
        route, route + "s"
    )
    client = _client(viewer)
    assert f'href="/registry/{kind}/{relation.pk}/"' in client.get(f"/registry/{kind}/").content.decode()
    assert client.get(f"/registry/{kind}/{relation.pk}/").status_code == 200


def test_the_registry_home_links_every_kind(viewer: Any, site: Site) -> None:
    body = _client(viewer).get("/registry/").content.decode()
    for kind, _, _ in OBJECTS:
        assert f'href="/registry/{kind}/"' in body
    assert 'href="/registry/serviceescalations/"' in body


def test_pages_need_a_login(site: Site) -> None:
    response = Client().get("/registry/commands/check_http/edit/")
    assert response.status_code == 302 and "/login" in response["Location"]


# --- writes by staff: add, edit, delete, each deploying like the API ---------------------------

# kind -> (form of a new object, a change to it, what the detail page shows after the change)
ADDS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "commands": (
        {"name": "check-new", "command_line": "/bin/true"},
        {"command_line": "/bin/false -w $ARG1$"},
        "/bin/false -w $ARG1$",
    ),
    "timeperiods": (
        {"name": "office", "alias": "Office", "ranges": "monday=09:00-17:00"},
        {"alias": "Office hours", "ranges": "monday=09:00-17:00\ntuesday=09:00-12:00"},
        "tuesday=09:00-12:00",
    ),
    "contactgroups": ({"name": "night", "members": ["oncall"]}, {"alias": "Night shift"}, "Night shift"),
    "servicegroups": ({"name": "edge", "team": "web"}, {"alias": "Edge services"}, "Edge services"),
    "hostgroups": ({"name": "edge", "team": "web"}, {"alias": "Edge hosts"}, "Edge hosts"),
    "hosttemplates": ({"name": "tiny-host", "templates": "generic-host"}, {"notes": "small"}, "small"),
}


def _form_data(client: Client, url: str) -> dict[str, Any]:
    """What the edit page's form submits unchanged (its initial values), to change a few fields."""
    form = client.get(url).context["form"]
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if value is None:
            if isinstance(field, forms.NullBooleanField):
                data[name] = "unknown"  # the select's "inherit"
            continue
        data[name] = value
    return data


@pytest.mark.parametrize("kind", list(ADDS))
def test_staff_add_edit_delete(staff: Any, site: Site, deploys: DeployRecorder, kind: str) -> None:
    new, change, shown = ADDS[kind]
    client = _client(staff)
    assert client.get(f"/registry/{kind}/add/").status_code == 200
    response = client.post(f"/registry/{kind}/add/", new)
    assert response.status_code == 302, response.context["form"].errors
    assert response["Location"] == f"/registry/{kind}/{new['name']}/"
    assert deploys.calls and deploys.calls[-1][1].startswith("create ")
    deploys.calls.clear()

    data = {**_form_data(client, f"/registry/{kind}/{new['name']}/edit/"), **change}
    response = client.post(f"/registry/{kind}/{new['name']}/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    assert shown in client.get(response["Location"]).content.decode()
    assert deploys.calls and deploys.calls[-1][1].startswith("edit ")
    deploys.calls.clear()

    # Saved again unchanged: nothing stored, nothing deployed.
    client.post(f"/registry/{kind}/{new['name']}/edit/", {**data})
    assert deploys.calls == []

    assert "Delete" in client.get(f"/registry/{kind}/{new['name']}/delete/").content.decode()
    response = client.post(f"/registry/{kind}/{new['name']}/delete/")
    assert response.status_code == 302 and response["Location"] == f"/registry/{kind}/"
    assert client.get(f"/registry/{kind}/{new['name']}/").status_code == 404
    assert deploys.calls and deploys.calls[-1][1].startswith("delete ")


def test_a_command_in_use_is_not_deleted(staff: Any, site: Site, deploys: DeployRecorder) -> None:
    response = _client(staff).post("/registry/commands/check_http/delete/")
    assert response.status_code == 409
    assert "still used by" in response.content.decode()
    assert Command.objects.filter(name="check_http").exists()
    assert deploys.calls == []


# --- invalid input: the field's error, nothing written -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "field", "message"),
    [
        ("commands", {"name": "bad;name", "command_line": "/bin/true"}, "name", "name"),
        ("commands", {"name": "check-x"}, "command_line", "required"),
        ("timeperiods", {"name": "office", "ranges": "monday=9 to 5"}, "ranges", "monday"),
        ("timeperiods", {"name": "office", "ranges": "monday"}, "ranges", "key=value"),
        ("contactgroups", {"name": "night", "members": ["nobody"]}, "members", "nobody"),
        ("hosttemplates", {"name": "t", "templates": "no-such-template"}, "templates", "No such template"),
    ],
)
def test_invalid_input_shows_the_fields_error_and_writes_nothing(
    staff: Any, site: Site, deploys: DeployRecorder, kind: str, data: dict[str, Any], field: str, message: str
) -> None:
    before = {model: model.objects.count() for model in (Command, TimePeriod, ContactGroup)}
    response = _client(staff).post(f"/registry/{kind}/add/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    # Shown next to the field.
    html = response.content.decode()
    assert "invalid-feedback" in html.split(f'data-field="{field}"', 1)[1].split('data-field="', 1)[0]
    assert {model: model.objects.count() for model in before} == before
    assert deploys.calls == []


# --- who may: staff-only kinds, team-owned groups -------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "data"),
    [
        ("commands", "check_http", {"name": "check-mine", "command_line": "/bin/true"}),
        ("timeperiods", "24x7", {"name": "mine"}),
        ("contactgroups", "admins", {"name": "mine"}),
        ("hosttemplates", "generic-host", {"name": "mine"}),
        ("servicetemplates", "generic-service", {"name": "mine"}),
        ("contacts", "oncall", {"name": "mine"}),
    ],
)
def test_team_members_may_not_write_staff_only_kinds(
    owner: Any, site: Site, deploys: DeployRecorder, kind: str, key: str, data: dict[str, Any]
) -> None:
    client = _client(owner)
    assert "Add " not in client.get(f"/registry/{kind}/").content.decode().split("<form", 1)[0]
    assert client.get(f"/registry/{kind}/add/").status_code == 403
    assert client.post(f"/registry/{kind}/add/", data).status_code == 403
    assert client.get(f"/registry/{kind}/{key}/edit/").status_code == 403
    assert client.post(f"/registry/{kind}/{key}/edit/", {**data, "alias": "taken"}).status_code == 403
    assert client.post(f"/registry/{kind}/{key}/delete/").status_code == 403
    assert client.get(f"/registry/{kind}/{key}/").status_code == 200
    assert client.get(f"/registry/{kind}/mine/").status_code == 404
    assert deploys.calls == []


@pytest.mark.parametrize(
    ("kind", "key", "model"),
    [("servicegroups", "web-services", ServiceGroup), ("hostgroups", "web-extra", HostGroup)],
)
def test_groups_are_their_teams(
    owner: Any, outsider: Any, site: Site, deploys: DeployRecorder, kind: str, key: str, model: Any
) -> None:
    # Another team: 403, nothing changes.
    stranger = _client(outsider)
    assert stranger.get(f"/registry/{kind}/{key}/edit/").status_code == 403
    assert (
        stranger.post(f"/registry/{kind}/{key}/edit/", {"alias": "mine now", "team": "db"}).status_code == 403
    )
    assert stranger.post(f"/registry/{kind}/{key}/delete/").status_code == 403
    # Creating a group for a team one is not in: refused after the write, rolled back.
    response = stranger.post(f"/registry/{kind}/add/", {"name": "grab", "team": "web"})
    assert response.status_code == 403
    assert "not belong to any of your teams" in response.content.decode()
    assert not model.objects.filter(name="grab").exists()
    assert model.objects.get(name=key).alias != "mine now"
    assert deploys.calls == []

    # The owning team: edit and delete.
    client = _client(owner)
    data = {**_form_data(client, f"/registry/{kind}/{key}/edit/"), "alias": "Ours"}
    assert client.post(f"/registry/{kind}/{key}/edit/", data).status_code == 302
    assert model.objects.get(name=key).alias == "Ours"
    assert deploys.calls
    assert client.post(f"/registry/{kind}/{key}/delete/").status_code == 302
    assert not model.objects.filter(name=key).exists()


def test_only_staff_place_a_host_group_on_a_poller(owner: Any, site: Site, deploys: DeployRecorder) -> None:
    client = _client(owner)
    data = {**_form_data(client, "/registry/hostgroups/web-extra/edit/"), "node": "spare"}
    response = client.post("/registry/hostgroups/web-extra/edit/", data)
    assert response.status_code == 403
    assert "Only staff may place a host group" in response.content.decode()
    assert HostGroup.objects.get(name="web-extra").node is None
    assert deploys.calls == []


def test_host_owners_write_its_escalations(
    owner: Any, outsider: Any, site: Site, deploys: DeployRecorder
) -> None:
    """Escalations follow their host's owners, and deploy the nodes that hold the host."""
    data = {"host": "web01", "first_notification": 3, "last_notification": 0, "contacts": ["oncall"]}
    assert _client(outsider).post("/registry/hostescalations/add/", data).status_code == 403
    assert not HostEscalation.objects.exists()
    response = _client(owner).post("/registry/hostescalations/add/", {**data, "contacts": []})
    assert response.status_code == 400
    assert "contacts" in response.context["form"].errors
    deploys.calls.clear()
    # oncall is not a contact of the owner's team: the membership rule of the API applies.
    response = _client(owner).post("/registry/hostescalations/add/", data)
    assert response.status_code == 403 and not HostEscalation.objects.exists()


def test_a_host_escalation_by_staff_deploys_the_hosts_nodes(
    staff: Any, site: Site, deploys: DeployRecorder
) -> None:
    data = {"host": "web01", "first_notification": 3, "last_notification": 0, "contacts": ["oncall"]}
    response = _client(staff).post("/registry/hostescalations/add/", data)
    assert response.status_code == 302
    escalation = HostEscalation.objects.get()
    assert response["Location"] == f"/registry/hostescalations/{escalation.pk}/"
    assert deploys.nodes == {"master1", "poller1"}
    assert deploys.calls[0][1].startswith("create host escalation")


# --- in a browser -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_add_a_contact_group_in_a_browser(
    live_server: LiveServer, staff: Any, site: Site, settings: Settings
) -> None:
    """Required fields marked, a member added by keyboard, errors next to the field (the member kept), then saved."""
    with logged_in_page(live_server, staff, settings) as page:
        page.goto(f"{live_server.url}/registry/")
        page.get_by_role("link", name="Contact groups").click()
        page.get_by_role("link", name="Add contact group").click()
        assert page.locator('[data-field="name"] .text-danger').inner_text() == "*"
        page.get_by_label("Name").fill("bad;name")
        from playwright.sync_api import expect

        page.get_by_role("combobox", name="Members", exact=True).focus()
        page.keyboard.type("onc")
        page.get_by_role("option", name="oncall").wait_for()
        page.keyboard.press("Enter")
        chip = page.locator('[data-chips="members"] [data-token="oncall"]')
        expect(chip).to_have_count(1)
        page.get_by_role("button", name="Save").click()
        assert "name" in page.locator('[data-field="name"] .invalid-feedback').inner_text().lower()
        expect(chip).to_have_count(1)  # kept through the refused save (the script rebuilds the chips)
        page.get_by_label("Name").fill("night")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{live_server.url}/registry/contactgroups/night/")
        assert "oncall" in page.locator("dl").inner_text()
    assert list(ContactGroup.objects.get(name="night").members.values_list("name", flat=True)) == ["oncall"]


def test_users_edit_their_own_contact_but_do_not_delete_it(
    owner: Any, site: Site, deploys: DeployRecorder
) -> None:
    """As in the API: a contact's user may change it (PUT/PATCH), only staff create or delete contacts."""
    site.contact.user = owner
    site.contact.save()
    client = _client(owner)
    detail = client.get("/registry/contacts/oncall/").content.decode()
    assert "/registry/contacts/oncall/edit/" in detail and "/registry/contacts/oncall/delete/" not in detail
    data = {**_form_data(client, "/registry/contacts/oncall/edit/"), "pager": "+41 00 000"}
    response = client.post("/registry/contacts/oncall/edit/", data)
    assert response.status_code == 302, response.context["form"].errors
    site.contact.refresh_from_db()
    assert site.contact.pager == "+41 00 000"
    assert client.post("/registry/contacts/oncall/delete/").status_code == 403
    assert type(site.contact).objects.filter(name="oncall").exists()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_writable_field_of_the_api_is_on_the_form(rf: Any, staff: Any, kind: str) -> None:
    """Built from the serializer: a directive added to the API shows up on the page by itself."""
    request = rf.get("/")
    request.user = staff
    serializer_class = KINDS[kind].serializer
    writable = {
        name
        for name, field in serializer_class(context={"request": request}).fields.items()
        if not field.read_only and name not in ("id", "url")
    }
    form = SerializerForm(serializer_class=serializer_class, instance=None, request=request)
    assert set(form.fields) == writable
