"""The registry host list: sort in the URL, page jump and last page, search by custom variable and
glob, the node that checks each host and that node's last deployment."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client

from registry.choices import DeploymentState
from registry.models import Deployment
from registry.views import PAGE_SIZE
from tests.factories import HostFactory, HostGroupFactory, NaemonNodeFactory, PollerFactory, ServiceFactory

# Every test here may write: deployments are recorded, never sent (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")

ROW_RE = re.compile(r'<tr data-host="([^"]*)">')


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def hosts_on(html: str) -> list[str]:
    """Host names of the list's rows, in page order."""
    return [unescape(name) for name in ROW_RE.findall(html)]


def cell(html: str, host: str, css: str) -> str:
    """The text of one cell (by class) of a host's row, tags stripped."""
    row = html.split(f'<tr data-host="{host}">', 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'<td class="{css}">(.*?)</td>', row, re.S)
    assert found, f"no {css} cell in {host}'s row"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


@pytest.fixture
def three(db: None) -> None:
    HostFactory.create(name="web01", address="192.0.2.3", custom_variables={"_RACK": "B12"})
    HostFactory.create(name="web02", address="192.0.2.1", custom_variables={"_RACK": "C07"})
    HostFactory.create(name="db01", address="192.0.2.2", alias="the web database")


def test_sort_is_in_the_url_and_each_header_links_to_its_reverse(owner: User, three: None) -> None:
    client = login(owner)
    assert hosts_on(client.get("/registry/hosts/").content.decode()) == ["db01", "web01", "web02"]
    page = client.get("/registry/hosts/?sort=address").content.decode()
    assert hosts_on(page) == ["web02", "db01", "web01"]
    assert 'href="?sort=-address"' in page and 'aria-sort="ascending"' in page  # click again: reversed
    assert hosts_on(client.get("/registry/hosts/?sort=-address").content.decode()) == [
        "web01",
        "db01",
        "web02",
    ]
    # The sort survives a search, and the search survives a sort.
    page = client.get("/registry/hosts/?q=web*&sort=-name").content.decode()
    assert hosts_on(page) == ["web02", "web01"]
    assert (
        'href="?q=web%2A&amp;sort=address"' in page
        and '<input type="hidden" name="sort" value="-name">' in page
    )


@pytest.mark.parametrize("sort", ["colour", "-", "--name", "name;drop"])
def test_an_unknown_sort_is_a_400_naming_sort(owner: User, three: None, sort: str) -> None:
    response = login(owner).get("/registry/hosts/", {"sort": sort})
    assert response.status_code == 400
    page = response.content.decode()
    assert "sort must be one of address, lease, name, services, team" in page
    assert hosts_on(page) == []


def test_page_jump_and_last_page_keep_the_filters(owner: User, db: None) -> None:
    for n in range(PAGE_SIZE + 3):
        HostFactory.create(name=f"app{n:03d}")
    client = login(owner)
    page = client.get("/registry/hosts/?q=app&sort=-name").content.decode()
    assert 'href="?q=app&amp;sort=-name&amp;page=2" rel="last"' in page
    assert 'id="page-jump-number" name="page" min="1" max="2"' in page
    assert '<input type="hidden" name="q" value="app">' in page  # the jump form keeps the search
    last = client.get("/registry/hosts/?q=app&sort=-name&page=2").content.decode()
    assert hosts_on(last) == ["app002", "app001", "app000"]
    assert 'rel="first"' in last and 'rel="last"' not in last


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("_RACK=B12", ["web01"]),
        ("_rack=C*", ["web02"]),  # names are case-insensitive as in Naemon; the value a glob
        ("_RACK=b12", []),  # values are exact
        ("web*", ["web01", "web02"]),  # anchored: db01 (alias "the web database") is not
        ("*01", ["db01", "web01"]),
        ("web0?", ["web01", "web02"]),
        ("web", ["db01", "web01", "web02"]),  # a plain word: part of name, alias or address
        ("web* _RACK=C07", ["web02"]),  # every word must match
    ],
)
def test_search_by_custom_variable_and_glob(owner: User, three: None, q: str, found: list[str]) -> None:
    response = login(owner).get("/registry/hosts/", {"q": q})
    assert response.status_code == 200
    assert hosts_on(response.content.decode()) == found


def test_a_bad_custom_variable_name_is_a_400_naming_q(owner: User, three: None) -> None:
    response = login(owner).get("/registry/hosts/", {"q": "_R ACK=1 _BAD!=x"})
    assert response.status_code == 400
    assert "q: custom variable name '_BAD!' must start with" in unescape(response.content.decode())


def test_node_and_last_deployment_columns(owner: User, db: None) -> None:
    master = NaemonNodeFactory.create(name="master1")
    poller = PollerFactory.create(name="poller1")
    HostFactory.create(name="dc1-web", hostgroups=[HostGroupFactory.create(name="dc1", node=poller)])
    HostFactory.create(name="central")
    Deployment.objects.filter(node__in=[master, poller]).delete()  # whatever the writes queued
    Deployment.objects.create(node=poller, state=DeploymentState.CONFIRMED, triggered_by="test")
    Deployment.objects.create(node=poller, state=DeploymentState.FAILED, triggered_by="test")
    page = login(owner).get("/registry/hosts/").content.decode()
    assert cell(page, "dc1-web", "host-node") == "poller1"  # its host group's poller checks it
    assert cell(page, "central", "host-node") == "master1"  # no poller owns it: the active master
    assert cell(page, "dc1-web", "host-deployment").startswith("failed ")  # the latest, with its time
    assert cell(page, "central", "host-deployment") == "never deployed"


def test_registry_pages_link_to_the_live_status(owner: User, db: None) -> None:
    host = HostFactory.create(name="web01")
    service = ServiceFactory.create(host=host, description="http / 443")
    client = login(owner)
    page = client.get("/registry/hosts/web01/").content.decode()
    assert 'id="live-status-link" href="/status/host/web01/"' in page
    page = client.get(f"/registry/services/{service.pk}/").content.decode()
    assert 'id="live-status-link" href="/status/service/web01/http%20/%20443/"' in page
