"""Availability, perfdata and the live detail page against a real core (Icinga 2, the pages' fixture).

The state changes are passive results sent now; the core writes them to its log, whose
Livestatus ``log`` table is what the availability is computed from. (Debian's Nagios 4 has no
Livestatus, and the tests' Nagios front answers from ``status.dat``, which has no log table.)
The interval arithmetic itself: test_availability.py.
"""

from __future__ import annotations

import time
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

from livestatus.client import LivestatusClient, commands
from preferences.models import NotificationProfile
from registry.models import Host, NaemonNode
from tests.livestatus.fixtures import has_state, wait_for
from tests.services.browser import logged_in_page

pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"
API = "/api/v1/livestatus/availability/?host=web-01&service=availability-me"
PAGE = "/status/service/web-01/availability-me/"
CRITICAL_SECONDS = 2
PERFDATA = "used=95%;80;90;0;100 'time taken'=0.2s;1;2"


def _critical_then_ok(live: LivestatusClient) -> None:
    """availability-me: CRITICAL for a few seconds, then OK with perfdata (hard states: one attempt)."""
    live.command(commands.process_service_check_result("web-01", "availability-me", 2, "CRITICAL - down"))
    wait_for(has_state(live, "web-01", "availability-me", 2), "availability-me CRITICAL")
    # The log counts whole seconds: a CRITICAL and an OK of the same second leave no CRITICAL
    # time. The duration is what is measured, so it is waited for on the clock.
    critical_since = time.time()
    wait_for(lambda: time.time() >= critical_since + CRITICAL_SECONDS, "the CRITICAL to last", 10)
    live.command(
        commands.process_service_check_result("web-01", "availability-me", 0, f"OK - back|{PERFDATA}")
    )
    wait_for(has_state(live, "web-01", "availability-me", 0), "availability-me OK")


def _availability(client: APIClient, url: str) -> Callable[[], dict[str, Any] | None]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(url).json()
        timeline = body.get("timeline") or []
        states = [segment["state"] for segment in timeline]
        # Until the core has written both lines to its log, the answer is incomplete.
        return body if "CRITICAL" in states and states[-1] == "OK" else None

    return probe


def test_availability_of_a_service_from_the_core_log(
    api_client_for: Callable[[User | None], APIClient],
    owner: User,
    outsider: User,
    live: LivestatusClient,
    master: NaemonNode,
    owned: dict[str, Host],
) -> None:
    _critical_then_ok(live)
    body = wait_for(
        _availability(api_client_for(owner), API + "&window=24h"), "CRITICAL then OK in the log", 30
    )
    assert body["node"] == "master" and body["window"] == "24h"
    assert set(body["percent"]) == {"OK", "WARNING", "CRITICAL", "UNKNOWN", "no data"}
    assert sum(body["percent"].values()) == pytest.approx(100)
    # The CRITICAL lasted about as long as the two results were apart: a sliver of 24 h.
    assert 0 < body["percent"]["CRITICAL"] < 1
    # The core started minutes ago: most of the day is no data, not counted as OK.
    assert body["percent"]["no data"] > 90 and body["percent"]["OK"] < 10
    states = [segment["state"] for segment in body["timeline"]]
    assert states[0] == "no data" and states[-2:] == ["CRITICAL", "OK"]

    # Reading is open to every logged-in user; anonymous callers are refused.
    assert api_client_for(outsider).get(API).status_code == 200
    assert api_client_for(None).get(API).status_code == 401
    # A host's own path.
    host = api_client_for(owner).get("/api/v1/livestatus/hosts/web-01/availability/?window=30d")
    assert host.status_code == 200 and set(host.json()["percent"]) == {"UP", "DOWN", "UNREACHABLE", "no data"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("&window=1y", "window"), ("&since=0", "since"), ("&service=bad%0Aline", "service")],
)
def test_bad_availability_requests_are_a_400_naming_the_field(
    api_client_for: Callable[[User | None], APIClient],
    owner: User,
    master: NaemonNode,
    query: str,
    field: str,
) -> None:
    url = API + query if field != "service" else "/api/v1/livestatus/availability/?host=web-01" + query
    response = api_client_for(owner).get(url)
    assert response.status_code == 400 and field in response.json()


def test_unknown_object_is_a_404(
    api_client_for: Callable[[User | None], APIClient], owner: User, master: NaemonNode
) -> None:
    response = api_client_for(owner).get("/api/v1/livestatus/hosts/no-such-host/availability/")
    assert response.status_code == 404


def test_detail_page_shows_timeline_perfdata_grafana_and_times_in_the_users_zone(
    browser_for: Callable[[Any], Client],
    owner: User,
    live: LivestatusClient,
    master: NaemonNode,
    owned: dict[str, Host],
    settings: SettingsWrapper,
) -> None:
    settings.GRAFANA_URL = "https://grafana.example.org/d/checks?var-host={host}&var-service={service}"
    NotificationProfile.objects.update_or_create(user=owner, defaults={"timezone": "Asia/Tokyo"})
    _critical_then_ok(live)
    client = browser_for(owner)

    def page() -> str | None:
        html = unescape(client.get(PAGE).content.decode())
        return html if 'class="sev-critical"' in html else None

    html = wait_for(page, "the CRITICAL stretch on the page's timeline", 30)
    for window in ("24h", "7d", "30d"):
        assert f'data-window="{window}"' in html
    assert 'data-state="CRITICAL"' in html and 'class="sev-nodata"' in html
    # The latest perfdata as a table, its bar red (95% is past the critical 90%).
    perf = html[html.index('id="perfdata"') :].split("</table>")[0]
    assert 'data-metric="used"' in perf and 'data-metric="time taken"' in perf and "bg-danger" in perf
    assert 'href="https://grafana.example.org/d/checks?var-host=web-01&var-service=availability-me"' in html
    # History times in the user's zone, readable (not ISO): "Dec. 4, 2026 05:04:05 JST".
    history = html[html.index('id="history"') :].split("</table>")[0]
    assert " JST</time></td>" in history and "+00:00" not in history
    # The page refreshes its live part in place, as the lists do.
    assert f'hx-get="{PAGE}"' in html and 'hx-select="#live-detail"' in html


def test_refresh_does_not_read_a_month_of_log(
    browser_for: Callable[[Any], Client], owner: User, master: NaemonNode, owned: dict[str, Host]
) -> None:
    html = browser_for(owner).get(PAGE, headers={"HX-Request": "true"}).content.decode()
    assert 'id="live-detail"' in html and 'id="availability"' not in html


@pytest.mark.browser
def test_a_hosts_timeline_renders_in_chromium(
    live_server: LiveServer,
    owner: User,
    master: NaemonNode,
    owned: dict[str, Host],
    settings: SettingsWrapper,
) -> None:
    # This Icinga 2 writes no HOST ALERT for passive host results: the host's bar is its current
    # state since its last change (from the status), and "no data" before it.
    with logged_in_page(live_server, owner, settings, viewport={"width": 1280, "height": 900}) as page:
        console_errors: list[str] = []

        def on_console(message: Any) -> None:
            if message.type == "error":
                console_errors.append(message.text)

        page.on("console", on_console)
        page.goto(f"{live_server.url}/status/host/web-01/")
        # Chart.js (vendored) draws each window's timeline; the SVG stays in the page, hidden, as
        # the no-JavaScript fallback, with the same stretches.
        timeline = page.locator('figure[data-window="24h"] canvas.availability-timeline-chart')
        timeline.wait_for()
        svg = page.locator('figure[data-window="24h"] svg.availability-timeline')
        assert svg.locator("rect.sev-ok").count() == 1 and svg.locator("rect.sev-nodata").count() == 1
        assert not svg.is_visible()
        drawn = timeline.evaluate(
            "c => { const d = Chart.getChart(c).data.datasets[0];"
            " return {n: d.data.length, colours: d.backgroundColor}; }"
        )
        assert drawn["n"] == 2 and len(set(drawn["colours"])) == 2  # no data, then UP
        box = timeline.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] >= 20
        # The availability chart carries the same percentages as the page's text, per window.
        chart = page.locator("#availability-chart")
        chart_box = chart.bounding_box()
        assert chart_box is not None and chart_box["width"] > 300 and chart_box["height"] > 50
        shares = chart.evaluate(
            "c => Object.fromEntries(Chart.getChart(c).data.datasets.map(d => [d.label, d.data]))"
        )
        assert set(shares) == {"UP", "DOWN", "UNREACHABLE", "no data"}
        for index, window in enumerate(("24h", "7d", "30d")):
            texts = page.locator(f'figure[data-window="{window}"] .availability-percent').all_inner_texts()
            shown = {text.rsplit(" ", 1)[0]: float(text.rsplit(" ", 1)[1].rstrip("%")) for text in texts}
            assert shown and "UP" in shown
            for state, value in shown.items():
                assert round(shares[state][index], 2) == pytest.approx(value), (window, state)
        # Served by the portal itself: no script from another origin (datacentres have no internet).
        sources = page.eval_on_selector_all("script[src]", "s => s.map(e => e.src)")
        chartjs = [src for src in sources if "/vendor/chartjs/chart.umd.min" in src]
        assert chartjs and all(src.startswith(live_server.url + "/") for src in sources), sources
        assert page.request.get(chartjs[0]).ok
        # The in-place refresh swaps the live part without a JS error (logged_in_page checks)
        # and leaves the charts, which sit outside it, drawn.
        marker = f"marker-{time.time_ns()}"
        page.evaluate(f"document.getElementById('live-detail').dataset.marker = '{marker}'")
        page.wait_for_function(f"document.getElementById('live-detail').dataset.marker !== '{marker}'")
        assert chart.evaluate("c => c.isConnected && Chart.getChart(c) !== undefined")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#availability").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "host-timeline.png"), full_page=True)
        # The dark theme repaints the charts in its own text colour.
        light = chart.evaluate("c => Chart.getChart(c).options.color")
        page.locator('[data-theme-choice="dark"]').click()
        dark = chart.evaluate("c => Chart.getChart(c).options.color")
        assert light and dark and dark != light
        assert not console_errors, console_errors
