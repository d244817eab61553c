"""The status pages against a real Icinga 2: lists, filters, details, the fragment, node health.

Pages are read by everyone logged in; actions from the pages are in test_actions.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from livestatus import home
from livestatus.actions import Target
from livestatus.client import LivestatusClient, commands
from livestatus.views import action_url, detail_url
from registry.choices import DeploymentState, NodeRole
from registry.models import Deployment, NaemonNode
from tests.livestatus.fixtures import SERVICE_COUNT, has_state, wait_for
from tests.services.icinga import ODD_HOST

# The status tests' fixtures (their own Icinga 2, nodes, owners); see that module.
pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

Browser = Callable[[Any], Client]
ROW_RE = re.compile(
    r'<tr data-kind="(host|service)" data-host="([^"]*)" data-service="([^"]*)" data-node="([^"]*)"'
)


def rows(html: str) -> list[tuple[str, str, str, str]]:
    """(kind, host, service, node) of every status row, in page order."""
    return [tuple(unescape(part) for part in match) for match in ROW_RE.findall(html)]  # type: ignore[misc]


def services_of(html: str) -> set[tuple[str, str]]:
    return {(host, service) for kind, host, service, _ in rows(html) if kind == "service"}


@pytest.fixture
def owner_browser(browser_for: Browser, owner: User, master: NaemonNode, owned: dict[str, Any]) -> Client:
    return browser_for(owner)


def test_pages_need_a_login(browser_for: Browser, master: NaemonNode) -> None:
    for url in (
        "/status/",
        "/status/hosts/",
        "/status/services/table/",
        "/status/host/web-01/",
        "/status/nodes/",
    ):
        response = browser_for(None).get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_problems_page_shows_real_problems_by_severity_then_age(owner_browser: Client) -> None:
    response = owner_browser.get("/status/")
    assert response.status_code == 200
    html = response.content.decode()
    found = rows(html)
    assert ("host", "db-01", "", "master") in found
    assert ("service", "web-01", "crit-me", "master") in found
    assert ("service", "web-01", "warn-me", "master") in found
    assert ("service", ODD_HOST, "disk", "master") in found
    # OK and never-checked services are not problems.
    assert ("web-01", "http") not in services_of(html)
    assert ("web-01", "downtime-me") not in services_of(html)  # never checked
    # DOWN before CRITICAL before UNKNOWN before WARNING.
    order = [(host, service) for _, host, service, _ in found]
    assert order.index(("db-01", "")) < order.index(("web-01", "crit-me"))
    assert order.index(("web-01", "crit-me")) < order.index((ODD_HOST, "disk"))
    assert order.index((ODD_HOST, "disk")) < order.index(("web-01", "warn-me"))
    assert 'id="unreachable-nodes"' not in html
    # Polls its fragment with the same query.
    assert 'hx-get="/status/problems/table/"' in html and 'hx-trigger="every 10s"' in html


def test_hosts_and_services_lists(owner_browser: Client) -> None:
    hosts = rows(owner_browser.get("/status/hosts/").content.decode())
    assert {host for _, host, _, _ in hosts} == {"web-01", "db-01", ODD_HOST, "unowned-01"}
    services = services_of(owner_browser.get("/status/services/").content.decode())
    assert ("web-01", "http") in services and ("web-01", "Disk /var") in services
    assert ("db-01", "postgres") in services


def test_dead_node_partial_result_and_banner(owner_browser: Client, dead_node: NaemonNode) -> None:
    for url in ("/status/", "/status/services/", "/status/hosts/table/"):
        response = owner_browser.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="unreachable-nodes"' in html, url
        assert '<li data-node="dead-poller">' in html
        assert "Connection refused" in html
        assert {node for _, _, _, node in rows(html)} == {"master"}, url


@pytest.mark.parametrize(
    ("query", "expected", "absent"),
    [
        ("state=warning", {("web-01", "warn-me"), ("web-01", "Disk /var")}, {("web-01", "crit-me")}),
        (
            "state=critical&state=unknown",
            {("web-01", "crit-me"), (ODD_HOST, "disk")},
            {("web-01", "warn-me")},
        ),
        ("hostgroup=databases", {("db-01", "postgres")}, {("web-01", "crit-me")}),
        ("node=master&q=CONNECTION", {("db-01", "postgres")}, {("web-01", "crit-me")}),
        ("q=db-01", {("db-01", "postgres")}, {("web-01", "crit-me")}),
        ("q=(sda) 99%25 full [x] a.b", {("web-01", "crit-me")}, {("web-01", "warn-me")}),
        ("acknowledged=false&downtime=false", {("web-01", "crit-me")}, set()),
        ("acknowledged=true", {("web-01", "acked-filter")}, {("web-01", "crit-me"), ("web-01", "warn-me")}),
        ("acknowledged=false", {("web-01", "crit-me")}, {("web-01", "acked-filter")}),
        (
            "downtime=true",
            {("web-01", "downtime-filter")},
            {("web-01", "crit-me"), ("web-01", "acked-filter")},
        ),
        ("downtime=false", {("web-01", "warn-me")}, {("web-01", "downtime-filter")}),
        ("servicegroup=frontend", {("web-01", "frontend-crit")}, {("web-01", "crit-me"), ("web-01", "http")}),
        ("servicegroup=frontend&state=warning", set(), {("web-01", "frontend-crit")}),
        ("host=web-01&service=warn-me", {("web-01", "warn-me")}, {("web-01", "crit-me")}),
    ],
)
def test_problem_filters(
    owner_browser: Client, query: str, expected: set[tuple[str, str]], absent: set[tuple[str, str]]
) -> None:
    response = owner_browser.get(f"/status/problems/?{query}")
    assert response.status_code == 200
    found = services_of(response.content.decode())
    assert expected <= found
    assert not absent & found


@pytest.mark.parametrize(
    ("query", "exactly"),
    [
        ("acknowledged=true", {("web-01", "acked-filter")}),
        ("downtime=true", {("web-01", "downtime-filter")}),
        ("servicegroup=frontend", {("web-01", "frontend-crit")}),
    ],
)
def test_flag_and_group_filters_match_exactly_their_objects(
    owner_browser: Client, query: str, exactly: set[tuple[str, str]]
) -> None:
    """The fixture alone acknowledges, schedules downtime or groups these: nothing else may match.

    (Other tests acknowledge their own services: those are allowed on the acknowledged list.)
    """
    for url in (f"/status/problems/?{query}", f"/status/problems/table/?{query}"):
        html = owner_browser.get(url).content.decode()
        found = services_of(html)
        if query == "acknowledged=true":
            assert exactly <= found and not found & {("web-01", "crit-me"), ("web-01", "downtime-filter")}
        else:
            assert found == exactly, url
        assert not any(kind == "host" for kind, *_ in rows(html)), url  # db-01 is DOWN, unhandled


def test_host_rows_follow_host_filters(owner_browser: Client) -> None:
    html = owner_browser.get("/status/problems/?state=down").content.decode()
    assert rows(html) == [("host", "db-01", "", "master")]
    # A service group excludes hosts (they are in none).
    html = owner_browser.get("/status/problems/?servicegroup=nothing-here").content.decode()
    assert rows(html) == []


def test_fragment_is_the_table_alone_with_the_same_query(owner_browser: Client) -> None:
    response = owner_browser.get("/status/problems/table/?state=critical&q=sda")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(
        '<div id="status-table" hx-get="/status/problems/table/?state=critical&amp;q=sda"'
    )
    assert "<html" not in html
    assert services_of(html) == {("web-01", "crit-me")}


CRIT_ME = ("web-01", "crit-me")
ODD_DISK = (ODD_HOST, "disk")


@pytest.mark.parametrize(
    ("needle", "literal_matches"),
    [
        ("(", {CRIT_ME, ODD_DISK}),
        ("[x", {CRIT_ME}),
        ("$", {ODD_DISK}),
        ('\' "dq" \\ #', {ODD_DISK}),
        (".*", set()),
        ("a\\", set()),
        ("^", set()),
        ("|", set()),
        ("?{}+", set()),
        ("') OR 1=1 --", set()),
        ("\\n", set()),
        ("Filter: state = 0", set()),
    ],
)
def test_hostile_search_matches_literally(
    owner_browser: Client, live: LivestatusClient, needle: str, literal_matches: set[tuple[str, str]]
) -> None:
    pid = live.status()["nagios_pid"]
    response = owner_browser.get("/status/services/", {"q": needle})
    assert response.status_code == 200
    # Exactly the rows whose name or output contains the text as typed: no regex, no injection.
    assert services_of(response.content.decode()) == literal_matches
    assert live.status()["nagios_pid"] == pid


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x\nCOMMAND [1] SHUTDOWN_PROCESS"},
        {"hostgroup": "web\r\nFilter: state = 0"},
        {"host": "web-01\x00"},
        {"state": "exploded"},
        {"acknowledged": "maybe"},
        {"node": "no-such-node"},
    ],
)
def test_invalid_filters_are_a_400_and_ask_nothing(
    owner_browser: Client, live: LivestatusClient, params: dict[str, str]
) -> None:
    pid = live.status()["nagios_pid"]
    response = owner_browser.get("/status/problems/", params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="filter-errors"' in html
    assert rows(html) == []
    assert live.status()["nagios_pid"] == pid


def test_service_detail(owner_browser: Client) -> None:
    response = owner_browser.get("/status/service/web-01/crit-me/")
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "CRITICAL - disk (sda) 99% full [x] a.b\nlong line one\nlong line two" in html
    assert "CRITICAL (hard), attempt 1/1" in html
    # Localised (English: month/day/year) in the reader's zone, the exact instant in <time datetime>.
    assert re.search(
        r'Last check</dt><dd[^>]*><time datetime="[^"]+">\d\d/\d\d/\d{4} \d\d:\d\d:\d\d UTC</time>', html
    )
    assert re.search(r'Since</dt><dd[^>]*><time datetime="[^"]+">\d\d/\d\d/\d{4} ', html)
    assert '<dd class="col-sm-8" id="acknowledged">no</dd>' in html
    # This Icinga 2 writes a compat log: its log table holds the state change of the start.
    assert 'id="history-unavailable"' not in html
    history = html[html.index('id="history"') :].split("</table>")[0]
    assert "CRITICAL - disk (sda) 99% full" in history
    assert "None scheduled." in html
    # The owner may act.
    assert 'id="actions"' in html and "/status/acknowledge/web-01/crit-me/?node=master" in html
    # Its notes link (notes_url); an action_url that is no web address is not made a link.
    links = html[html.index('id="object-links"') :].split("</dd>")[0]
    assert '<a href="https://wiki.example.org/crit-me" rel="noopener noreferrer">Notes</a>' in links
    assert "javascript" not in html


def test_history_shows_state_changes_newest_first(owner_browser: Client, live: LivestatusClient) -> None:
    """Passive results change history-me's state; the detail page lists the changes, newest first."""
    outputs = [f"history {state} {time.time_ns()}" for state in ("CRITICAL", "WARNING", "OK")]
    for state, output in zip((2, 1, 0), outputs, strict=True):
        live.command(commands.process_service_check_result("web-01", "history-me", state, output))
        wait_for(has_state(live, "web-01", "history-me", state), f"history-me state {state}")

    def history_table() -> str | None:
        html = unescape(owner_browser.get("/status/service/web-01/history-me/").content.decode())
        if 'id="history"' not in html:
            return None
        table = html[html.index('id="history"') :].split("</table>")[0]
        return table if all(output in table for output in outputs) else None

    table = wait_for(history_table, "the three state changes in the history")
    positions = [table.index(output) for output in outputs]
    assert positions[2] < positions[1] < positions[0]  # OK (newest), WARNING, CRITICAL
    assert table.index("SERVICE ALERT") < positions[2]


def test_service_with_a_slash_and_odd_host(owner_browser: Client) -> None:
    assert owner_browser.get("/status/service/web-01/Disk%20/var/").status_code == 200
    url = reverse("livestatus:service", kwargs={"host": ODD_HOST, "service": "disk"})
    response = owner_browser.get(url)
    assert response.status_code == 200
    assert "UNKNOWN - odd host" in response.content.decode()
    # Not owned in the registry: the owner may look but not act.
    assert 'id="actions"' not in response.content.decode()
    # The query-string form takes any name.
    assert owner_browser.get("/status/object/", {"host": ODD_HOST}).status_code == 200


def test_host_detail_lists_its_services(owner_browser: Client) -> None:
    response = owner_browser.get("/status/host/db-01/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "PING CRITICAL - host down" in html
    assert 'data-service="postgres"' in html
    assert '<a class="nav-link active" aria-current="page" href="/status/hosts/">' in html


def test_unknown_object_is_a_404(owner_browser: Client, dead_node: NaemonNode) -> None:
    response = owner_browser.get("/status/host/no-such-host/")
    assert response.status_code == 404
    assert 'id="unreachable-nodes"' in response.content.decode()
    assert owner_browser.get("/status/service/web-01/no-such-service/").status_code == 404
    assert owner_browser.get("/status/host/web-01%0AGET%20status/").status_code == 400


def test_node_health_page(owner_browser: Client, master: NaemonNode, dead_node: NaemonNode) -> None:
    Deployment.objects.create(node=master, state=DeploymentState.CONFIRMED, reason="test")
    NaemonNode.objects.create(name="quiet", config_dir="/x", enabled=False)
    response = owner_browser.get("/status/nodes/")
    assert response.status_code == 200
    html = response.content.decode()
    master_row = html[html.index('<tr data-node="master"') :].split("</tr>")[0]
    assert 'data-reachable="yes"' in master_row
    assert "Icinga 2 r2." in master_row
    assert "<td>4</td>" in master_row and f"<td>{SERVICE_COUNT}</td>" in master_row  # hosts, services
    assert "confirmed" in master_row
    dead_row = html[html.index('<tr data-node="dead-poller"') :].split("</tr>")[0]
    assert 'data-reachable="no"' in dead_row and "Connection refused" in dead_row
    assert 'data-reachable="not-asked"' in html  # the disabled node


def test_names_that_do_not_fit_a_path_go_through_the_query_string(db: None) -> None:
    assert detail_url(Target("a/b", "x")) == "/status/object/?host=a%2Fb&service=x"
    assert action_url("acknowledge", Target("a/b")) == "/status/act/acknowledge/?host=a%2Fb"
    assert action_url("delete_downtime", Target("h", "Disk /var")) == "/status/delete-downtime/h/Disk%20/var/"


def test_home_page_links_reach_these_pages(db: None) -> None:
    links = home.status_links({"host": "web-01", "service": "Disk /var"})
    assert links == {
        "detail": "/status/service/web-01/Disk%20/var/",
        "acknowledge": "/status/acknowledge/web-01/Disk%20/var/",
        "downtime": "/status/downtime/web-01/Disk%20/var/",
        "recheck": "/status/recheck/web-01/Disk%20/var/",
    }
    assert home.status_links({"host": "db-01", "service": ""})["detail"] == "/status/host/db-01/"


def test_query_string_forms(owner_browser: Client) -> None:
    response = owner_browser.get("/status/object/", {"host": "web-01", "service": "crit-me"})
    assert response.status_code == 200 and "CRITICAL - disk (sda)" in response.content.decode()
    assert owner_browser.get("/status/act/recheck/", {"host": "web-01"}).status_code == 200
    assert owner_browser.get("/status/act/explode/", {"host": "web-01"}).status_code == 404
    assert owner_browser.get("/status/object/").status_code == 404


def test_a_node_without_livestatus_is_named_on_every_status_page(
    owner_browser: Client, master: NaemonNode
) -> None:
    """Nobody asks it, so its hosts are missing below: say so instead of looking healthy."""
    assert 'id="unwatched-nodes"' not in owner_browser.get("/status/").content.decode()
    NaemonNode.objects.create(name="silent-poller", role=NodeRole.POLLER, config_dir="/nonexistent")
    NaemonNode.objects.create(name="retired", config_dir="/nonexistent", enabled=False)
    for url in ("/status/", "/status/services/", "/status/hosts/", "/status/hosts/table/"):
        html = owner_browser.get(url).content.decode()
        assert 'id="unwatched-nodes"' in html, url
        assert '<span data-node="silent-poller">' in html and 'data-node="retired"' not in html, url


@pytest.mark.parametrize(
    "url", ["/status/service/web-01/crit-me%0ACOMMAND [1] SHUTDOWN_PROCESS/", "/status/host/web-01%0A/"]
)
def test_a_newline_in_an_object_path_is_a_400(
    owner_browser: Client, live: LivestatusClient, url: str
) -> None:
    pid = live.status()["nagios_pid"]
    assert owner_browser.get(url).status_code == 400
    assert live.status()["nagios_pid"] == pid


def test_the_pages_buttons_are_the_apis_can_flags(owner_browser: Client, staff: User) -> None:
    """One rule for what may be done (detail.available_actions): the page offers what the API says."""
    api = Client()
    api.force_login(staff)
    for page, endpoint in (
        ("service/web-01/crit-me/", "services/web-01/crit-me/"),
        ("host/web-01/", "hosts/web-01/"),
    ):
        can = api.get(f"/api/v1/livestatus/{endpoint}").json()["can"]
        html = owner_browser.get(f"/status/{page}").content.decode()
        assert ('href="/status/acknowledge/' in html) == can["acknowledge"], page
        assert ("Remove acknowledgement" in html) == can["remove_acknowledgement"], page
        assert ("Re-check now" in html) == can["recheck"], page
        for kind in ("enable-notifications", "disable-notifications", "enable-checks", "disable-checks"):
            assert (f'id="{kind}"' in html) == can[kind.replace("-", "_")], (page, kind)
