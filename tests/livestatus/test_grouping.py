"""Problems grouped by host (``?group=host``): one header per host, its rows under it, selectable at once.

Against the status tests' Icinga 2 (``tests.livestatus.fixtures``): web-01 is UP with several
problems, db-01 DOWN with its CRITICAL postgres. The Chromium test saves a screenshot
(status-grouped.png) to var/test/artifacts/.
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

from registry.models import Host, NaemonNode
from tests.services.browser import logged_in_page

pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"
Browser = Callable[[Any], Client]
# A group's header, or a row: (header host, row host, row state) in page order.
LINE_RE = re.compile(
    r'<tr class="table-group-divider" data-group-host="([^"]*)"|<tr data-kind="[a-z]+" data-host="([^"]*)"[^>]*data-state="([A-Z]+)"'
)
SEVERITY = {"OK": 0, "PENDING": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3, "DOWN": 4}


def groups_of(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The page's groups in order: (header host, [(row host, row state), ...])."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for header, host, state in LINE_RE.findall(html):
        if header:
            groups.append((unescape(header), []))
        else:
            assert groups, f"a row of {host} before any header"
            groups[-1][1].append((unescape(host), state))
    return groups


def header_of(html: str, host: str) -> str:
    match = re.search(
        rf'<tr class="table-group-divider" data-group-host="{re.escape(host)}">(.*?)</tr>', html, re.S
    )
    assert match, f"no header for {host}"
    return match.group(1)


def test_services_grouped_by_host_sit_under_their_host_worst_first(
    browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    response = browser_for(viewer).get("/status/services/", {"group": "host", "sort": "-state"})
    assert response.status_code == 200
    html = response.content.decode()
    groups = groups_of(html)
    hosts = [host for host, _ in groups]
    assert len(hosts) == len(set(hosts)) >= 3, hosts  # one header per host
    for host, rows in groups:
        assert rows and all(row_host == host for row_host, _ in rows), (host, rows)
        # The chosen sort holds within each host...
        ranks = [SEVERITY[state] for _, state in rows]
        assert ranks == sorted(ranks, reverse=True), (host, rows)
    # ...and between hosts: each host where its worst row would be (a CRITICAL host first).
    assert SEVERITY[groups[0][1][0][1]] == SEVERITY["CRITICAL"]
    web = dict(groups)["web-01"]
    assert ("web-01", "CRITICAL") in web and ("web-01", "OK") in web
    # The header names the host (a link to its page), its own state and its problems.
    db_header = header_of(html, "db-01")
    assert '<a href="/status/host/db-01/">db-01</a>' in db_header and ">DOWN</span>" in db_header
    assert 'data-problems="1">1 problem<' in db_header
    web_problems = sum(1 for _, state in web if state not in ("OK", "PENDING"))
    web_header = header_of(html, "web-01")
    assert (
        ">UP</span>" in web_header
        and f'data-problems="{web_problems}">{web_problems} problems<' in web_header
    )


def test_the_grouping_stays_in_the_url_with_sort_refresh_and_filters(
    browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    html = browser_for(viewer).get("/status/problems/", {"group": "host"}).content.decode()
    assert '<option value="host" selected>by host</option>' in html
    # Sorting by a header keeps it, and so does the in-place refresh of the table.
    assert 'href="?group=host&amp;sort=host" data-sort="host"' in html
    assert 'hx-get="/status/problems/table/?group=host"' in html
    assert groups_of(html)  # the problems view groups too
    # Not asked for: not grouped, as before.
    plain = browser_for(viewer).get("/status/problems/").content.decode()
    assert "data-group-host" not in plain and '<option value="host">by host</option>' in plain


@pytest.mark.parametrize(
    ("path", "group", "message"),
    [
        ("/status/services/", "service", "unknown grouping &#x27;service&#x27;"),
        ("/status/hosts/", "host", "the hosts list is not grouped"),
    ],
)
def test_a_grouping_the_list_does_not_have_is_a_400_naming_it(
    path: str, group: str, message: str, browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    response = browser_for(viewer).get(path, {"group": group})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="group-error"' in html and "<strong>group</strong>" in html and message in html
    assert 'data-host="' not in html  # no rows on a refused query


@pytest.mark.browser
def test_selecting_a_host_selects_its_rows_and_only_them(
    live_server: LiveServer,
    operator: User,
    master: NaemonNode,
    owned: dict[str, Host],
    settings: SettingsWrapper,
) -> None:
    with logged_in_page(live_server, operator, settings, viewport={"width": 1280, "height": 900}) as page:
        page.goto(f"{live_server.url}/status/problems/")
        page.select_option("#f-group", "host")
        page.click("form[role=search] button[type=submit]")
        page.wait_for_url(re.compile(r"group=host"))
        header = page.locator('#status-table tr[data-group-host="web-01"]')
        assert header.locator("a").inner_text() == "web-01"
        web_rows = page.locator('#status-table tr[data-host="web-01"] input[data-select]').count()
        assert web_rows >= 3
        header.locator("input[data-select-group]").check()
        assert page.locator("#bulk-count").inner_text() == f"{web_rows} selected"
        ticked = page.locator("#status-table input[data-select]:checked").evaluate_all(
            "boxes => boxes.map(b => b.closest('tr').dataset.host)"
        )
        assert ticked == ["web-01"] * web_rows  # db-01's rows are not selected
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "status-grouped.png"), full_page=True)
        # One row off: the host is no longer wholly selected.
        page.locator('#status-table tr[data-host="web-01"] input[data-select]').first.uncheck()
        assert not header.locator("input[data-select-group]").is_checked()
        assert page.locator("#bulk-count").inner_text() == f"{web_rows - 1} selected"
