"""Saved views ("my views"): save a status list's filters under a name, open, rename, delete; private.

The API and pages with Django's clients (no core needed: a view is checked, not run); saving
and reopening one in Chromium against the status tests' Icinga 2 (``tests.livestatus.fixtures``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer
from rest_framework.test import APIClient

from livestatus.models import SavedView
from livestatus.saved_views import MAX_PER_USER
from registry.models import NaemonNode
from tests.services.browser import logged_in_page

pytest_plugins = ["tests.livestatus.fixtures"]

URL = "/api/v1/livestatus/views/"
ApiFor = Callable[[User | None], APIClient]


def _create(client: APIClient, **body: Any) -> Any:
    return client.post(URL, {"name": "critical web", "path": "/status/services/", **body}, format="json")


# -- the API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_view_is_saved_canonical_and_listed_for_its_owner(owner: User, api_client_for: ApiFor) -> None:
    client = api_client_for(owner)
    created = _create(client, query="?state=critical&group=host&sort=-state&page=3")
    assert created.status_code == 201, created.content
    body = created.json()
    # The page number is no part of a view; the rest is kept as the list reads it.
    assert body["query"] == "state=critical&group=host&sort=-state"
    assert body["url"] == "/status/services/?state=critical&group=host&sort=-state"
    listed = client.get(URL).json()
    assert [view["name"] for view in listed["results"]] == ["critical web"]
    renamed = client.patch(f"{URL}{body['id']}/", {"name": "web critical"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "web critical"
    # Audited like every other change a user makes (who, and the change).
    entries = LogEntry.objects.get_for_object(SavedView.objects.get()).order_by("timestamp")
    assert [entry.action for entry in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert entries.last().actor == owner
    assert client.delete(f"{URL}{body['id']}/").status_code == 204
    assert not SavedView.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("stranger", ["outsider", "staff"])
def test_another_users_view_is_a_404_to_read_change_or_delete(
    stranger: str, owner: User, api_client_for: ApiFor, request: pytest.FixtureRequest
) -> None:
    view = SavedView.objects.create(user=owner, name="mine", path="/status/", query="state=down")
    client = api_client_for(request.getfixturevalue(stranger))
    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}{view.pk}/").status_code == 404
    assert client.patch(f"{URL}{view.pk}/", {"name": "theirs"}, format="json").status_code == 404
    assert client.delete(f"{URL}{view.pk}/").status_code == 404
    view.refresh_from_db()
    assert view.name == "mine"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"query": "state=bogus"}, "query", "state:"),
        ({"query": "colour=red"}, "query", "colour: unknown parameter"),
        ({"query": "sort=colour"}, "query", "sort: unknown sort"),
        ({"query": "q=a%0Ab"}, "query", "q:"),
        ({"path": "/status/hosts/", "query": "group=host"}, "query", "group: the hosts list is not grouped"),
        ({"path": "/status/host/web-01/"}, "path", "not a status list"),
        ({"path": "https://evil.example/status/services/"}, "path", "not a status list"),
        ({"path": "//evil.example/status/services/"}, "path", "not a status list"),
        ({"name": "two\nlines"}, "name", "control character"),
        ({"name": "invoice\u202etxt.exe"}, "name", "invisible formatting character"),
    ],
)
def test_a_bad_view_is_a_400_naming_the_field_and_stores_nothing(
    body: dict[str, str], field: str, words: str, owner: User, api_client_for: ApiFor
) -> None:
    response = _create(api_client_for(owner), **body)
    assert response.status_code == 400, response.content
    assert words in " ".join(response.json()[field])
    assert not SavedView.objects.exists()
    assert not LogEntry.objects.filter(content_type__model="savedview").exists()


@pytest.mark.django_db
def test_names_are_unique_per_user_and_views_limited(
    owner: User, outsider: User, api_client_for: ApiFor
) -> None:
    client = api_client_for(owner)
    assert _create(client).status_code == 201
    again = _create(client)
    assert again.status_code == 400 and "already have a view named" in again.json()["name"][0]
    # Another user may use the same name: names are per user.
    assert _create(api_client_for(outsider)).status_code == 201
    SavedView.objects.bulk_create(
        SavedView(user=owner, name=f"view {n}", path="/status/") for n in range(MAX_PER_USER - 1)
    )
    full = _create(client, name="one too many")
    assert full.status_code == 400 and f"{MAX_PER_USER} views already" in full.json()["non_field_errors"][0]
    assert SavedView.objects.filter(user=owner).count() == MAX_PER_USER


# -- the pages ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_save_open_rename_and_delete_on_the_pages(owner: User, outsider: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    browser.get("/status/views/")
    csrf = {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    query = "state=critical&group=host&page=2"
    saved = browser.post(
        "/status/views/", {**csrf, "name": "crit", "path": "/status/services/", "query": query}
    )
    assert saved.status_code == 302 and saved["Location"] == "/status/services/?state=critical&group=host"
    view = SavedView.objects.get(user=owner)
    listed = browser.get("/status/views/").content.decode()
    assert f'<a href="/status/views/{view.pk}/">crit</a>' in listed
    opened = browser.get(f"/status/views/{view.pk}/")
    assert opened.status_code == 302 and opened["Location"] == "/status/services/?state=critical&group=host"
    # Someone else meets a 404 on every page of it, and changes nothing.
    stranger = Client()
    stranger.force_login(outsider)
    assert stranger.get(f"/status/views/{view.pk}/").status_code == 404
    assert stranger.post(f"/status/views/{view.pk}/", {"name": "theirs"}).status_code == 404
    assert stranger.post(f"/status/views/{view.pk}/delete/").status_code == 404
    assert f"/status/views/{view.pk}/" not in stranger.get("/status/views/").content.decode()
    assert SavedView.objects.get(pk=view.pk).name == "crit"
    # Without the CSRF token, no change either.
    assert browser.post(f"/status/views/{view.pk}/delete/").status_code == 403
    renamed = browser.post(f"/status/views/{view.pk}/", {**csrf, "name": "criticals"})
    assert renamed.status_code == 302 and SavedView.objects.get(pk=view.pk).name == "criticals"
    assert browser.post(f"/status/views/{view.pk}/delete/", csrf).status_code == 302
    assert not SavedView.objects.exists()


@pytest.mark.django_db
def test_a_bad_view_from_the_page_is_a_400_naming_the_field(owner: User) -> None:
    browser = Client()
    browser.force_login(owner)
    response = browser.post(
        "/status/views/", {"name": "bad", "path": "/status/", "query": "acknowledged=maybe"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="view-errors"' in html and "<strong>query</strong>: acknowledged:" in html
    assert not SavedView.objects.exists()


# -- in Chromium -----------------------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.browser
def test_save_the_list_as_a_view_and_open_it_again(
    live_server: LiveServer, viewer: User, master: NaemonNode, settings: SettingsWrapper
) -> None:
    with logged_in_page(live_server, viewer, settings, viewport={"width": 1280, "height": 900}) as page:
        page.goto(f"{live_server.url}/status/services/?state=critical")
        page.select_option("#f-group", "host")
        page.click("form[role=search] button[type=submit]")
        page.wait_for_url(re.compile(r"group=host"))
        page.fill("#save-view-name", "critical by host")
        page.click("#save-view button[type=submit]")
        page.locator('#saved-views a[data-view="critical by host"]').wait_for()
        # Elsewhere, the view is one click away and brings the list back as it was.
        page.goto(f"{live_server.url}/status/hosts/")
        page.click('#saved-views a[data-view="critical by host"]')
        page.wait_for_url(re.compile(r"/status/services/\?state=critical&group=host$"))
        assert page.locator("#f-group").input_value() == "host"
        states = page.locator("#status-table tr[data-state]").evaluate_all(
            "rows => rows.map(r => r.dataset.state)"
        )
        assert states and set(states) == {"CRITICAL"}
        assert page.locator("#status-table tr[data-group-host]").count() >= 2
