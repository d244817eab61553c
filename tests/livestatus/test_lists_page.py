"""The status lists as an operator uses them: sorting, a selection with the bulk bar, the search box.

Against the status tests' Icinga 2 (``tests.livestatus.fixtures``); the bulk acknowledgement is
read back from the core and removed again. The Chromium tests save a screenshot
(status-selection.png) to var/test/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer
from rest_framework.test import APIClient

from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from registry.models import Host, NaemonNode
from tests.livestatus.fixtures import service_state, wait_for
from tests.services.browser import logged_in_page

pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"
Browser = Callable[[Any], Client]
HOST_RE = re.compile(r'<tr data-kind="[a-z]+" data-host="([^"]*)"')
#: The two problems the bulk test acknowledges (and un-acknowledges again).
SELECTION = (("web-01", "crit-me"), ("db-01", "postgres"))


def hosts_in_order(html: str) -> list[str]:
    return [unescape(host) for host in HOST_RE.findall(html)]


# -- sorting (server side) ---------------------------------------------------------


@pytest.mark.parametrize(("sort", "descending"), [("host", False), ("-host", True)])
def test_sort_in_the_url_orders_the_rows(
    sort: str, descending: bool, browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    response = browser_for(viewer).get("/status/services/", {"sort": sort})
    assert response.status_code == 200
    hosts = hosts_in_order(response.content.decode())
    assert len(set(hosts)) >= 3
    assert hosts == sorted(hosts, key=str.lower, reverse=descending)
    # The header says which way it is sorted, and its link turns the order round.
    html = response.content.decode()
    flipped = "host" if descending else "-host"
    assert f'aria-sort="{"descending" if descending else "ascending"}"' in html
    assert f'href="?sort={flipped}" data-sort="host"' in html
    # Filtering again keeps the sort.
    assert f'<input type="hidden" name="sort" value="{sort}">' in html


def test_sort_by_state_puts_the_worst_first(browser_for: Browser, viewer: User, master: NaemonNode) -> None:
    html = browser_for(viewer).get("/status/services/", {"sort": "-state"}).content.decode()
    states = re.findall(r'data-state="([A-Z]+)"', html)
    assert states[0] == "CRITICAL" and "OK" in states
    assert states.index("OK") > max(i for i, state in enumerate(states) if state == "CRITICAL")


@pytest.mark.parametrize(("path", "sort"), [("/status/problems/", "bogus"), ("/status/hosts/", "service")])
def test_unknown_sort_is_a_400_that_names_it_and_shows_no_rows(
    path: str, sort: str, browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    response = browser_for(viewer).get(path, {"sort": sort})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="sort-error"' in html and f"unknown sort &#x27;{sort}&#x27;" in html
    assert hosts_in_order(html) == []


def test_the_lists_have_a_heading_labels_and_every_state(
    browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    html = browser_for(viewer).get("/status/services/").content.decode()
    assert '<h1 class="h4">Services</h1>' in html
    # Five states (ok, warning, critical, unknown, pending): the list box shows all five.
    assert 'name="state" multiple size="5"' in html
    for control in ("f-q", "f-state", "f-hostgroup", "f-servicegroup", "f-ack", "f-downtime", "f-node"):
        assert f'<label class="form-label small mb-0" for="{control}">' in html


# -- who gets the selection ---------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "bar"), [("viewer", False), ("outsider", False), ("owner", True), ("operator", True)]
)
def test_only_those_who_may_act_get_checkboxes_and_the_bulk_bar(
    persona: str,
    bar: bool,
    browser_for: Browser,
    master: NaemonNode,
    owned: dict[str, Host],
    request: pytest.FixtureRequest,
) -> None:
    html = browser_for(request.getfixturevalue(persona)).get("/status/problems/").content.decode()
    assert ('id="bulk-bar"' in html) is bar
    assert ("data-select" in html) is bar
    if persona == "owner":
        # The team's own web-01 rows can be ticked; unowned-01 and the odd host cannot.
        ticked = re.findall(r'data-select aria-label="Select ([^"]+)"', html)
        assert ticked and all(label.startswith(("web-01", "db-01")) for label in ticked)


# -- in Chromium -----------------------------------------------------------------------


def _acknowledged(live: LivestatusClient, wanted: bool) -> Callable[[], bool]:
    """Whether both problems of SELECTION are (``wanted``) or are not acknowledged on the core."""

    def probe() -> bool:
        return all(
            bool(service_state(live, host, service, "acknowledged")["acknowledged"]) == wanted
            for host, service in SELECTION
        )

    return probe


@pytest.mark.browser
def test_sorting_by_clicking_a_header(
    live_server: LiveServer, viewer: User, master: NaemonNode, settings: SettingsWrapper
) -> None:
    with logged_in_page(live_server, viewer, settings, viewport={"width": 1280, "height": 900}) as page:
        page.goto(f"{live_server.url}/status/services/")
        page.click('#status-table a[data-sort="host"]')
        page.wait_for_url(re.compile(r"sort=host"))
        first = page.locator("#status-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.host)")
        assert first == sorted(first, key=str.lower)
        page.click('#status-table a[data-sort="host"]')
        page.wait_for_url(re.compile(r"sort=-host"))
        second = page.locator("#status-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.host)")
        assert second == sorted(first, key=str.lower, reverse=True)


@pytest.mark.browser
def test_bulk_acknowledge_of_two_selected_problems(
    live_server: LiveServer,
    operator: User,
    master: NaemonNode,
    owned: dict[str, Host],
    live: LivestatusClient,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Refresh every second: the selection must survive the table being swapped under it.
    monkeypatch.setattr("livestatus.views.REFRESH_SECONDS", 1)
    try:
        with logged_in_page(live_server, operator, settings, viewport={"width": 1280, "height": 900}) as page:
            page.goto(f"{live_server.url}/status/problems/")
            assert page.locator("#bulk-bar").is_hidden()
            for host, service in SELECTION:
                page.check(
                    f'#status-table tr[data-host="{host}"][data-service="{service}"] input[data-select]'
                )
            assert page.locator("#bulk-count").inner_text() == "2 selected"
            page.evaluate("document.getElementById('status-table').dataset.marker = 'old'")
            page.wait_for_function("document.getElementById('status-table').dataset.marker !== 'old'")
            # The new rows get their ticks back (lists.js, after the swap has settled).
            page.wait_for_function(
                "document.querySelectorAll('#status-table input[data-select]:checked').length === 2"
            )
            ticked = page.locator("#status-table input[data-select]:checked").evaluate_all(
                "boxes => boxes.map(b => [b.closest('tr').dataset.host, b.closest('tr').dataset.service])"
            )
            assert sorted(map(tuple, ticked)) == sorted(SELECTION)
            page.fill("#bulk-comment", "bulk ack from the page")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "status-selection.png"), full_page=True)
            page.click("#bulk-send")
            outcomes = page.locator("#bulk-outcomes li")
            outcomes.nth(1).wait_for()
            assert sorted(outcomes.all_inner_texts()) == ["db-01 / postgres: sent", "web-01 / crit-me: sent"]
            wait_for(_acknowledged(live, True), "the acks of the selection")
            assert page.locator("#bulk-bar").is_hidden()  # sent: the selection is cleared
    finally:
        # The server is shared: the acknowledgements go again (through the same API).
        api = APIClient()
        api.force_authenticate(operator)
        targets = [{"host": host, "service": service} for host, service in SELECTION]
        removed = api.post(
            "/api/v1/livestatus/actions/bulk/",
            {"kind": "remove_acknowledgement", "targets": targets},
            format="json",
        )
        assert removed.status_code == 200, removed.content
        wait_for(_acknowledged(live, False), "no ack on the selection")


def _downtimes(live: LivestatusClient, comment: str) -> list[tuple[str, str]]:
    query = LivestatusQuery("downtimes", columns=("host_name", "service_description")).where(
        Filter("comment", "=", comment)
    )
    return sorted((str(row["host_name"]), str(row["service_description"] or "")) for row in live.query(query))


@pytest.mark.parametrize(("persona", "shown"), [("viewer", False), ("outsider", False), ("operator", True)])
def test_the_host_page_offers_downtime_with_all_services_to_those_who_may_act(
    persona: str, shown: bool, browser_for: Browser, master: NaemonNode, request: pytest.FixtureRequest
) -> None:
    browser = browser_for(request.getfixturevalue(persona))
    assert ('id="downtime-all-form"' in browser.get("/status/host/unowned-01/").content.decode()) is shown
    # A service page has no such form: it is a host's.
    assert 'id="downtime-all-form"' not in browser.get("/status/service/unowned-01/disk/").content.decode()


@pytest.mark.browser
def test_downtime_this_host_and_all_its_services(
    live_server: LiveServer,
    operator: User,
    master: NaemonNode,
    live: LivestatusClient,
    settings: SettingsWrapper,
) -> None:
    comment = "host and services from the page"
    try:
        with logged_in_page(live_server, operator, settings, viewport={"width": 1280, "height": 900}) as page:
            page.goto(f"{live_server.url}/status/host/unowned-01/")
            page.fill("#downtime-all-minutes", "30")
            page.fill("#downtime-all-comment", comment)
            page.click("#downtime-all-form button[type=submit]")
            outcomes = page.locator("#downtime-all-outcomes li")
            outcomes.nth(1).wait_for()
            assert outcomes.all_inner_texts() == ["unowned-01: sent", "unowned-01 / disk: sent"]
        wanted = [("unowned-01", ""), ("unowned-01", "disk")]
        wait_for(lambda: _downtimes(live, comment) == wanted, "the host's and its service's downtime")
    finally:
        # The server is shared: every downtime of this test goes again.
        query = LivestatusQuery("downtimes", columns=("id", "is_service")).where(
            Filter("comment", "=", comment)
        )
        for row in live.query(query):
            delete = commands.delete_service_downtime if row["is_service"] else commands.delete_host_downtime
            live.command(delete(int(row["id"])))
        wait_for(lambda: not _downtimes(live, comment), "the test's downtimes deleted")


@pytest.mark.browser
def test_search_with_the_keyboard_opens_the_host_page(
    live_server: LiveServer,
    viewer: User,
    master: NaemonNode,
    owned: dict[str, Host],
    settings: SettingsWrapper,
) -> None:
    with logged_in_page(live_server, viewer, settings, viewport={"width": 1280, "height": 900}) as page:
        page.goto(f"{live_server.url}/status/problems/")
        page.locator("#nav-search-input").press_sequentially("web-0")
        page.locator("#nav-search-list [role=option]").first.wait_for()
        page.keyboard.press("ArrowDown")
        assert page.locator("#nav-search-list .active").inner_text().endswith("web-01")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/status/host/web-01/")
        assert page.locator("h1").first.inner_text().startswith("web-01")


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/status/problems/", "/status/services/", "/status/hosts/"])
def test_390px_wide_the_lists_do_not_scroll_sideways(
    path: str,
    live_server: LiveServer,
    operator: User,
    master: NaemonNode,
    settings: SettingsWrapper,
) -> None:
    with logged_in_page(live_server, operator, settings, viewport={"width": 390, "height": 844}) as page:
        page.goto(f"{live_server.url}{path}")
        page.locator("#status-table tbody tr").first.wait_for()
        page.locator("#status-table input[data-select]").first.check()  # the bulk bar shows too
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        # On failure, name the widest elements that stick out (outside the table's own scroller).
        culprits = page.evaluate(
            """() => Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                    && !e.closest('.table-responsive'))
                .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
        )
        assert overflow <= 0, f"{path} is {overflow} px wider than the screen: {culprits}"
