"""The registry forms' name lists (templates, groups, parents): chips with suggestions, picked by
keyboard only, instead of Ctrl-click multi-selects; and the required fields marked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from registry import forms as registry_forms
from registry.models import ContactGroup, Host
from registry.serializers import uses_of
from tests.factories import HostFactory
from tests.scenarios import Site
from tests.services.browser import logged_in_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"

pytestmark = pytest.mark.usefixtures("deploys")


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_forms_offer_names_not_multi_selects_and_mark_required_fields(
    owner: User, staff: User, site: Site
) -> None:
    page = login(owner).get("/registry/hosts/add/").content.decode()
    assert "<select multiple" not in page and 'type="checkbox" name="hostgroups"' not in page
    groups = re.search(r'<input type="text" name="hostgroups"[^>]*>', page)
    assert groups, "the host groups are a text input of names"
    options = re.search(r'data-options="([^"]*)"', groups.group(0))
    assert options and json.loads(options.group(1).replace("&quot;", '"')) == [
        "db",
        "shared",
        "web",
        "web-extra",
    ]
    assert 'data-ordered="true"' in re.search(r'<input type="text" name="templates"[^>]*>', page).group(0)  # type: ignore[union-attr]
    # Required: a visible "*" on the label, aria-required on the input, and the legend saying so.
    name = re.search(r'<input type="text" name="name"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert 'aria-required="true"' in name and "required" in name
    assert re.search(r'for="id_name">Name <span class="text-danger"[^>]*>\*</span>', page)
    assert 'id="required-legend"' in page
    kind = login(staff).get("/registry/contactgroups/add/").content.decode()
    assert '<input type="text" name="members"' in kind and 'type="checkbox" name="members"' not in kind


def test_big_sets_are_suggested_by_the_api_not_put_in_the_page(
    owner: User, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_forms, "INLINE_CHOICES", 1)
    page = login(owner).get("/registry/hosts/add/").content.decode()
    parents = re.search(r'<input type="text" name="parents"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert 'data-source="/api/v1/registry/hosts/"' in parents and "data-options" not in parents
    assert "web01" not in parents


def test_without_javascript_names_are_typed_comma_separated(owner: User, site: Site) -> None:
    response = login(owner).post(
        "/registry/hosts/add/",
        {
            "name": "web02",
            "team": "web",
            "hostgroups": "web, web-extra",
            "parents": "web01",
            "templates": "linux-host, generic-host",
            "notify_owners": "on",
            "notify_nobody": "on",
        },
    )
    assert response.status_code == 302
    host = Host.objects.get(name="web02")
    assert sorted(g.name for g in host.hostgroups.all()) == ["web", "web-extra"]
    assert [p.name for p in host.parents.all()] == ["web01"]
    assert uses_of(host) == ["linux-host", "generic-host"]


@pytest.mark.django_db(transaction=True)
def test_add_a_host_by_keyboard_with_templates_in_order_groups_and_a_parent(
    live_server: LiveServer, owner: User, site: Site, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two templates stay in the page; the four host groups and three hosts come from the API.
    monkeypatch.setattr(registry_forms, "INLINE_CHOICES", 2)
    HostFactory.create(name="db02")
    with logged_in_page(live_server, owner, settings) as page:
        page.goto(f"{live_server.url}/registry/hosts/add/")
        page.get_by_role("textbox", name="Name", exact=True).fill("web02")
        page.get_by_label("Team", exact=True).select_option("web")

        groups = page.get_by_label("Host groups", exact=True)
        groups.focus()
        page.keyboard.type("web")
        # The API's answer for "web": "web" first (exact), then "web-extra"; ArrowDown picks it.
        page.locator('#id_hostgroups[aria-busy="false"]').wait_for()
        assert _suggestions(page, "hostgroups") == ["web", "web-extra"]
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert _tokens(page, "hostgroups") == ["web-extra"]

        templates = page.get_by_label("Templates", exact=True)
        templates.focus()
        page.keyboard.type("linux")
        page.keyboard.press("Enter")
        page.keyboard.type("gen")
        page.keyboard.press("Enter")
        page.keyboard.type("x")
        page.keyboard.press("Backspace")  # the typed letter
        page.keyboard.press("Backspace")  # then the last chip: generic-host
        assert _tokens(page, "templates") == ["linux-host"]
        page.keyboard.type("generic")
        page.keyboard.press("Enter")
        assert _tokens(page, "templates") == ["linux-host", "generic-host"]
        # The first wins: move generic-host up, by keyboard.
        page.get_by_role("button", name="Move generic-host up").focus()
        page.keyboard.press("Enter")
        assert _tokens(page, "templates") == ["generic-host", "linux-host"]

        page.get_by_role("combobox", name="Parents", exact=True).focus()
        page.keyboard.type("db0")
        page.locator('#id_parents[aria-busy="false"]').wait_for()
        assert _suggestions(page, "parents") == ["db01", "db02"]
        page.keyboard.press("Enter")
        page.keyboard.type("db02")  # typed, not added: kept when the form is sent
        page.locator('#id_parents[aria-busy="false"]').wait_for()
        page.keyboard.press("Escape")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "registry-autocomplete.png"), full_page=True)

        page.get_by_role("button", name="Save").click()
        # Nobody in the site would be notified: the form asks, the chips are back in order.
        page.get_by_label("Save even though nobody would be notified").check()
        assert _tokens(page, "templates") == ["generic-host", "linux-host"]
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{live_server.url}/registry/hosts/web02/")
    host = Host.objects.get(name="web02")
    assert uses_of(host) == ["generic-host", "linux-host"]
    assert [g.name for g in host.hostgroups.all()] == ["web-extra"]
    assert sorted(p.name for p in host.parents.all()) == ["db01", "db02"]


@pytest.mark.django_db(transaction=True)
def test_add_a_contact_group_with_a_member_by_keyboard(
    live_server: LiveServer, staff: User, site: Site, settings: Settings
) -> None:
    """The other kinds' forms (registry/object_forms.py) have the same name lists."""
    with logged_in_page(live_server, staff, settings) as page:
        page.goto(f"{live_server.url}/registry/contactgroups/add/")
        page.get_by_role("textbox", name="Name", exact=True).fill("night")
        page.get_by_role("combobox", name="Members", exact=True).focus()
        page.keyboard.type("onc")
        page.get_by_role("option", name="oncall").wait_for()
        page.keyboard.press("Enter")
        assert _tokens(page, "members") == ["oncall"]
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"{live_server.url}/registry/contactgroups/night/")
    assert list(ContactGroup.objects.get(name="night").members.values_list("name", flat=True)) == ["oncall"]


def _suggestions(page: Any, field: str) -> list[str]:
    """The options the field's combobox shows now."""
    listbox = page.locator(f"#id_{field}").get_attribute("aria-controls")
    names: list[str] = page.locator(f'#{listbox} [role="option"]').all_inner_texts()
    return names


def _tokens(page: Any, field: str) -> list[str]:
    tokens: list[str] = page.locator(f'[data-chips="{field}"] [data-token]').evaluate_all(
        "chips => chips.map(chip => chip.dataset.token)"
    )
    return tokens


def test_the_marks_and_name_lists_speak_french(owner: User, site: Site) -> None:
    page = login(owner).get("/registry/hosts/add/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "sont obligatoires." in page
    assert "Noms séparés par des virgules (suggérés à la saisie)." in page
    assert "Hôtes entre le cœur et celui-ci (chemin réseau)." in page
