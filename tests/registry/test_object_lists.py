"""The service list and the other kinds' lists (templates, commands, ...) as the host list: sort in
the URL, search by glob and custom variable, page jump and last page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client

from registry.object_views import KINDS
from registry.page_helpers import PAGE_SIZE
from tests.factories import CommandFactory, HostFactory, ServiceFactory, ServiceTemplateFactory
from tests.scenarios import Site

pytestmark = pytest.mark.usefixtures("deploys")

SERVICE_ROW_RE = re.compile(r'<tr data-service="\d+"><td><a href="[^"]*">([^<]*)</a>')
KEY_ROW_RE = re.compile(r'<tr data-key="([^"]*)">')


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def services_on(html: str) -> list[str]:
    """Descriptions of the service list's rows, in page order."""
    return [unescape(d) for d in SERVICE_ROW_RE.findall(html)]


def keys_on(html: str) -> list[str]:
    """The first column (name) of a kind's list rows, in page order."""
    return [unescape(k) for k in KEY_ROW_RE.findall(html)]


@pytest.fixture
def services(db: None) -> None:
    web, db01 = HostFactory.create(name="web01"), HostFactory.create(name="db01")
    ServiceFactory.create(host=web, description="HTTP", custom_variables={"_PORT": "8080"})
    ServiceFactory.create(host=db01, description="Load")
    ServiceFactory.create(host=db01, description="HTTPS", custom_variables={"_PORT": "443"})


def test_service_list_sorts_by_the_url_and_links_each_header_to_its_reverse(
    owner: User, services: None
) -> None:
    client = login(owner)
    assert services_on(client.get("/registry/services/").content.decode()) == ["HTTP", "HTTPS", "Load"]
    page = client.get("/registry/services/?sort=host").content.decode()
    # On db01 first (by description within the host), then web01.
    assert services_on(page) == ["HTTPS", "Load", "HTTP"]
    assert 'href="?sort=-host"' in page and 'aria-sort="ascending"' in page
    page = client.get("/registry/services/?sort=-description&q=HTTP*").content.decode()
    assert services_on(page) == ["HTTPS", "HTTP"]
    assert 'href="?q=HTTP%2A&amp;sort=host"' in page
    assert '<input type="hidden" name="sort" value="-description">' in page


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("_PORT=8080", ["HTTP"]),
        ("_port=44?", ["HTTPS"]),  # a custom variable, its value a glob
        ("HTTP", ["HTTP", "HTTPS"]),  # a part of the description
        ("HTTP?", ["HTTPS"]),  # a glob is anchored: the whole description
        ("db0* Load", ["Load"]),  # every word must match: the host's name, then the description
    ],
)
def test_service_list_search_takes_globs_and_custom_variables(
    owner: User, services: None, q: str, found: list[str]
) -> None:
    response = login(owner).get("/registry/services/", {"q": q})
    assert response.status_code == 200
    assert services_on(response.content.decode()) == found


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/registry/services/?sort=colour", "sort must be one of check, description, host"),
        ("/registry/services/?q=_BAD%3Bname=1", "q: "),
        ("/registry/commands/?sort=-colour", "sort must be one of"),
    ],
)
def test_a_bad_sort_or_search_is_a_400_naming_the_field(
    owner: User, services: None, url: str, named: str
) -> None:
    CommandFactory.create(name="check_http")
    response = login(owner).get(url)
    assert response.status_code == 400
    page = response.content.decode()
    assert named in page and services_on(page) == [] and keys_on(page) == []


def test_service_list_page_jump_and_last_page_keep_search_and_sort(owner: User, db: None) -> None:
    host = HostFactory.create(name="app")
    for n in range(PAGE_SIZE + 2):
        ServiceFactory.create(host=host, description=f"disk{n:03d}")
    client = login(owner)
    page = client.get("/registry/services/?q=disk*&sort=-description").content.decode()
    assert 'href="?q=disk%2A&amp;sort=-description&amp;page=2" rel="last"' in page
    assert 'id="page-jump-number" name="page" min="1" max="2"' in page
    assert '<input type="hidden" name="sort" value="-description">' in page
    last = client.get("/registry/services/?q=disk*&sort=-description&page=2").content.decode()
    assert services_on(last) == ["disk001", "disk000"]


def test_a_kind_list_sorts_searches_and_pages(owner: User, db: None) -> None:
    """Commands: sort by a column, globs on the name, page jump; computed columns are not links."""
    for n in range(PAGE_SIZE + 1):
        CommandFactory.create(name=f"check_{n:03d}", command_line=f"/usr/lib/x{PAGE_SIZE - n:03d}")
    client = login(owner)
    page = client.get("/registry/commands/?sort=command_line").content.decode()
    assert keys_on(page)[:2] == [f"check_{PAGE_SIZE:03d}", f"check_{PAGE_SIZE - 1:03d}"]
    assert 'href="?sort=-command_line"' in page and 'rel="last"' in page
    last = client.get("/registry/commands/?sort=command_line&page=2").content.decode()
    assert keys_on(last) == ["check_000"]
    found = client.get("/registry/commands/?q=check_00?&sort=-name").content.decode()
    assert keys_on(found) == [f"check_{n:03d}" for n in range(9, -1, -1)]


def test_templates_are_searched_by_custom_variable(owner: User, db: None) -> None:
    ServiceTemplateFactory.create(name="web-checks", custom_variables={"_TIER": "front"})
    ServiceTemplateFactory.create(name="db-checks", custom_variables={"_TIER": "back"})
    page = login(owner).get("/registry/servicetemplates/?q=_TIER=f*").content.decode()
    assert keys_on(page) == ["web-checks"]
    assert 'data-sort="templates"' not in page  # a list of names: not sortable


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_sortable_column_of_every_kind_sorts(staff: User, site: Site, kind: str) -> None:
    """Each header link answers (a column's sort is a real database order), both ways."""
    client = login(staff)
    page = client.get(f"/registry/{kind}/").content.decode()
    sorts = re.findall(r'data-sort="([^"]+)"', page)
    assert sorts, f"{kind}: no sortable column"
    for key in sorts:
        for sort in (key, f"-{key}"):
            assert client.get(f"/registry/{kind}/", {"sort": sort}).status_code == 200, (kind, sort)
