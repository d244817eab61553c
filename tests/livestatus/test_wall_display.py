"""The wall never shows a false green, says "All OK" when all is, and reads across a room.

Headless Chromium (Playwright) at 1920 x 1080 against a portal server of its own, a private
Icinga 2 Livestatus and the real Redis (the fixtures of test_wall.py). Sizes and contrast are
measured from the computed styles; screenshots go to var/test/artifacts/ (wall-ok.png,
wall-not-watched.png).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from pytest_django.fixtures import Settings

from livestatus import tops, wall_kiosk
from livestatus.client import LivestatusClient, commands
from registry import deploy
from registry.models import NaemonNode
from tests.factories import DeploymentFactory, HostGroupFactory, NaemonNodeFactory
from tests.livestatus import test_wall
from tests.livestatus.test_wall import ARTIFACTS, REFRESH, PortalServer, refresh, wait_service
from tests.services.icinga import IcingaServer, wait_until

# The wall's browser set-up, shared with test_wall.py: a portal server, a private core, Redis.
browser_page = test_wall.browser_page
portal = test_wall.portal
wall_icinga = test_wall.wall_icinga
wall_settings = test_wall.wall_settings

if TYPE_CHECKING := False:
    from playwright.sync_api import Page

#: Far from UTC and from any test machine's zone: the clock must follow the setting, not the screen.
SITE_ZONE = "Asia/Kathmandu"

# WCAG contrast of each visible label's text against the first opaque background behind it,
# all in one script run: the wall replaces its panels on every poll, which cannot happen midway.
CONTRAST_JS = """
(selector) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (e) => {
    let bg = null;
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) { bg = c.slice(0, 3); break; }
    }
    const a = lum(rgb(getComputedStyle(e).color).slice(0, 3)), b = lum(bg || [255, 255, 255]);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  return Array.from(document.querySelectorAll(selector))
    .filter((e) => e.offsetParent !== null && e.textContent.trim())
    .map((e) => [e.outerHTML.slice(0, 120), ratio(e)]);
}
"""


def px(page: Page, selector: str) -> float:
    return float(page.locator(selector).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def background(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("e => getComputedStyle(e).backgroundColor"))


def assert_readable_labels(page: Page) -> None:
    """Every visible label on the wall keeps a 7:1 contrast (WCAG AAA)."""
    labels = ".pill small, .pill .n, h1, h2, .clock, .age, .tile .name, .tile .counts, #all-ok"
    measured = page.evaluate(CONTRAST_JS, labels)
    assert len(measured) > 10
    low = [(html, ratio) for html, ratio in measured if not ratio >= 7]  # NaN fails too
    assert not low, low


def clock_matches_site_time(page: Page) -> bool:
    text = page.locator("#clock").text_content() or ""
    assert re.fullmatch(r"\d\d:\d\d:\d\d", text), text  # 24-hour, no AM/PM
    hours, minutes, seconds = map(int, text.split(":"))
    now = datetime.now(ZoneInfo(SITE_ZONE))
    shown = hours * 3600 + minutes * 60 + seconds
    expected = now.hour * 3600 + now.minute * 60 + now.second
    return min((shown - expected) % 86400, (expected - shown) % 86400) <= 3


@pytest.mark.browser
@pytest.mark.services
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_wall_grey_when_not_watched_all_ok_when_all_is_and_readable(
    browser_page: Page,
    portal: PortalServer,
    wall_icinga: IcingaServer,
    wall_settings: redis.Redis,
    settings: Settings,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    settings.TIME_ZONE = SITE_ZONE
    settings.WALL_TOPS_SECONDS = 0  # the "last hour" strip is recomputed on every refresh
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    wait = (REFRESH + 2) * 1000

    # The make-run demo node: no Livestatus address, nothing counted. Grey "?", not a green 0.
    demo = NaemonNodeFactory.create(name="local", livestatus="")
    DeploymentFactory.create(node=demo, state="confirmed", confirmation=deploy.NOT_RELOADED)
    HostGroupFactory.create(name="web")
    refresh()
    page.goto(f"{portal.url}/wall/?kiosk={wall_kiosk.make_token('control-room-1')}")
    wall = page.locator("#wall")
    expect(wall).to_have_attribute("data-status", "partial")
    critical = page.locator(".pill[data-count=critical]")
    expect(critical).to_have_attribute("data-known", "false")
    expect(critical.locator(".n")).to_have_text("?")
    expect(page.locator("#all-ok")).to_be_hidden()
    expect(page.locator("#problems")).to_contain_text("None known: not every node is counted.")
    # Its config was written, but no core runs it: not a green "confirmed".
    expect(page.locator("#deployments li.dep-nocore")).to_contain_text("rendered only — no core attached")
    expect(page.locator("#deployments li.dep-confirmed")).to_have_count(0)
    grey = background(page, ".pill[data-count=critical]")
    for label in ("down", "unreachable", "warning", "unknown", "unhandled"):
        expect(page.locator(f".pill[data-count={label}] .n")).to_have_text("?")
        assert background(page, f".pill[data-count={label}]") == grey
    assert grey == "rgb(60, 64, 67)", grey  # the neutral grey, not --ok
    page.screenshot(path=str(ARTIFACTS / "wall-not-watched.png"))

    # A watched core with everything UP and OK: counters known and green, a large "All OK".
    NaemonNode.objects.filter(name="local").delete()
    NaemonNodeFactory.create(name="master", livestatus=wall_icinga.unix_address)
    ls = LivestatusClient(wall_icinga.unix_address, timeout=10, retry_window=5)
    for host in ("app-01", "db-01"):
        ls.command(commands.process_host_check_result(host, 0, "PING OK"))
    for host, service in (("app-01", "http"), ("app-01", "disk"), ("db-01", "postgres")):
        ls.command(commands.process_service_check_result(host, service, 0, "fine"))
        wait_service(ls, host, service, "state", 0)
    refresh()
    expect(wall).to_have_attribute("data-status", "ok", timeout=wait)
    expect(page.locator("#all-ok")).to_be_visible()
    expect(page.locator("#all-ok")).to_have_text("All OK")
    expect(critical).to_have_attribute("data-known", "true")
    expect(critical.locator(".n")).to_have_text("0")
    all_ok = page.locator("#all-ok").bounding_box()
    assert all_ok is not None and all_ok["height"] >= 200 and px(page, "#all-ok") >= 96  # fills the space
    assert px(page, ".pill .n") >= 48
    assert_readable_labels(page)
    wait_until(lambda: clock_matches_site_time(page), timeout=10, what=f"the clock in {SITE_ZONE}")
    page.screenshot(path=str(ARTIFACTS / "wall-ok.png"))

    # A problem: "All OK" gives way to the problem line (28 px or more), the last hour lists it.
    ls.command(commands.process_service_check_result("app-01", "http", 2, "HTTP CRITICAL - 503"))
    wait_service(ls, "app-01", "http", "state", 2)

    def listed(kind: str) -> bool:
        refresh()
        return page.locator(f"#changes-list li[data-kind={kind}][data-host=app-01]").count() > 0

    wait_until(lambda: listed("problem"), timeout=30, what="the new problem in the last-hour strip")
    expect(page.locator("#changes")).to_contain_text("new problem: app-01 / http CRITICAL")
    expect(page.locator("#all-ok")).to_be_hidden()
    row = page.locator("#problems tr[data-host=app-01][data-service=http]")
    expect(row).to_be_visible()
    for cell in ("p-state", "p-host", "p-service"):
        assert px(page, f"#problems tr[data-host=app-01] td.{cell}") >= 28
    assert_readable_labels(page)

    ls.command(commands.acknowledge_service("app-01", "http", "on it", author="control-room", notify=False))
    wait_service(ls, "app-01", "http", "acknowledged", True)
    wait_until(lambda: listed("acknowledgement"), timeout=30, what="the acknowledgement in the strip")
    expect(page.locator("#changes")).not_to_contain_text("control-room")  # kiosk screens: no names

    # The core stops: counts from nobody are "?" again, not the last green.
    wall_icinga.stop()
    refresh()
    expect(page.locator("[data-node=master]")).to_have_attribute("data-reachable", "false", timeout=wait)
    expect(critical.locator(".n")).to_have_text("?")
    expect(page.locator("#all-ok")).to_be_hidden()


def test_last_hour_counts_each_event_once_and_only_hard_changes() -> None:
    """Two masters log the same alert: one event; soft states and older events are not news."""
    now = 1_800_000_000
    alert = {"time": now - 60, "type": "SERVICE ALERT", "host_name": "app-01",
             "service_description": "http", "state": 2, "state_type": "HARD"}  # fmt: skip
    recovery = {**alert, "time": now - 30, "state": 0}
    soft = {**alert, "time": now - 20, "service_description": "disk", "state_type": "SOFT"}
    old = {**alert, "time": now - 4000, "host_name": "db-01"}
    host_down = {"time": now - 10, "type": "HOST ALERT", "host_name": "db-01", "service_description": "",
                 "state": 1, "state_type": "HARD"}  # fmt: skip
    log = {
        "changes": {
            "available": True,
            "alerts": {"master-a": [alert, recovery, soft, old, host_down], "master-b": [alert, recovery]},
            "acks": {
                "master-a": [{"entry_time": now - 5, "host_name": "app-01", "service_description": "http"}]
            },
        }
    }
    changes = tops.last_hour(log, now)
    assert (changes["problems"], changes["recoveries"], changes["acknowledgements"]) == (2, 1, 1)
    assert [(c["kind"], c["host"], c["state"]) for c in changes["rows"]] == [
        ("acknowledgement", "app-01", ""),
        ("problem", "db-01", "DOWN"),
        ("recovery", "app-01", "OK"),
        ("problem", "app-01", "CRITICAL"),
    ]
    assert tops.last_hour({"changes": {"available": False}}, now)["available"] is False
