"""The rule editor as a new user tries it (headless Chromium against live_server).

A new rule opens with notify; a rule that can change nothing says so; "Only notify me about
this" in one click; the preview evaluates in the profile's time zone and says when; the
profile's time zone comes from the browser on the first visit; a draft replayed over the last
7 days shows its differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from preferences.models import NotificationDecision, NotificationProfile, NotificationRule
from tests.preferences.conftest import Registry, make_contact, make_rule
from tests.services.browser import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

if TYPE_CHECKING := False:
    from playwright.sync_api import Page

BROWSER_ZONE = "America/New_York"


@pytest.fixture
def page(live_server: LiveServer, owner: User, settings: Settings) -> Iterator[Page]:
    """The owner's page in a browser whose clock is in New York (the site's zone is UTC)."""
    settings.TIME_ZONE = "UTC"
    with logged_in_page(
        live_server, owner, settings, viewport={"width": 1400, "height": 1000}, timezone_id=BROWSER_ZONE
    ) as page:
        yield page


def open_page(page: Page, live_server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/notifications/")
    expect(page.locator("#notifications-page[data-ready=true]")).to_be_attached()


def test_first_visit_takes_the_browsers_time_zone_once(
    page: Page, live_server: LiveServer, owner: User
) -> None:
    from playwright.sync_api import expect

    open_page(page, live_server)
    expect(page.get_by_label("Time zone of your time windows")).to_have_value(BROWSER_ZONE)
    expect(page.locator("#profile-status")).to_contain_text("from your browser")
    assert NotificationProfile.objects.get(user=owner).timezone == BROWSER_ZONE

    # Chosen since: a later visit from the same browser leaves it alone.
    NotificationProfile.objects.filter(user=owner).update(timezone="Europe/Paris")
    open_page(page, live_server)
    expect(page.get_by_label("Time zone of your time windows")).to_have_value("Europe/Paris")
    expect(page.locator("#profile-status")).to_have_text("")
    assert NotificationProfile.objects.get(user=owner).timezone == "Europe/Paris"


def test_new_rule_opens_with_notify_and_a_useless_rule_is_flagged(
    page: Page, live_server: LiveServer, owner: User, registry: Registry
) -> None:
    from playwright.sync_api import expect

    NotificationProfile.objects.create(user=owner, timezone="UTC")
    make_rule(owner, action="suppress", hostgroups=["web"], comment="quiet web")
    open_page(page, live_server)
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_label("Action")).to_have_value("notify")

    # CRITICAL on web, below "quiet web" which already takes all of web: it can never decide.
    page.get_by_label("Host groups").fill("web")
    page.get_by_role("checkbox", name="CRITICAL").check()
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rules-body tr[data-rule-id]")).to_have_count(2)
    warning = page.locator("#rules-body tr[data-rule-id]").nth(1).locator(".rule-warning")
    expect(warning).to_contain_text("rule 1 above matches everything this rule matches")
    expect(page.locator("#rules-body tr[data-rule-id]").first.locator(".rule-warning")).to_have_count(0)

    # Moved to the top, it decides the CRITICALs again: the warning goes.
    page.get_by_role("button", name="Move rule 2 up").click()
    expect(page.locator("#rules-body .rule-warning")).to_have_count(0)


def test_only_notify_me_about_this(
    page: Page, live_server: LiveServer, owner: User, registry: Registry
) -> None:
    from playwright.sync_api import expect

    NotificationProfile.objects.create(user=owner, timezone="UTC")
    open_page(page, live_server)
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("Comment").fill("databases only")
    page.get_by_label("Host groups").fill("db")
    page.get_by_role("button", name="Only notify me about this").click()
    expect(page.locator("#rules-body tr[data-rule-id]")).to_have_count(1)
    expect(page.get_by_label("Default")).to_have_value("suppress")
    rule = NotificationRule.objects.get(user=owner)
    assert (rule.action, rule.hostgroups) == ("notify", ["db"])
    assert NotificationProfile.objects.get(user=owner).default == "suppress"

    # The preview agrees: web is not about databases any more.
    page.get_by_label("Host", exact=True).fill("web1")
    expect(page.locator("#preview-decision [data-decision]")).to_have_text("suppress")


def test_preview_evaluates_in_the_profile_zone_and_says_when(
    page: Page, live_server: LiveServer, owner: User, registry: Registry
) -> None:
    from playwright.sync_api import expect

    NotificationProfile.objects.create(user=owner, timezone="Europe/Paris")
    make_rule(owner, action="suppress", start="08:00", end="18:00", comment="office hours")
    make_contact("owner-contact", owner, registry.email)
    open_page(page, live_server)
    page.get_by_label("Host", exact=True).fill("web1")
    # 14:00 in Paris is in the window; 14:00 in the browser's New York would be 20:00 in Paris.
    page.get_by_label("Time (empty: now)").fill("2026-01-05T14:00")
    expect(page.locator("#preview-time-evaluated")).to_have_text(
        "Evaluated at Mon 2026-01-05 14:00 (Europe/Paris)."
    )
    expect(page.locator("#preview-decision [data-decision]")).to_have_text("suppress")
    page.get_by_label("Time (empty: now)").fill("2026-01-05T19:00")
    expect(page.locator("#preview-time-evaluated")).to_contain_text("19:00 (Europe/Paris)")
    expect(page.locator("#preview-decision [data-decision]")).to_have_text("notify")


def test_replay_a_draft_and_read_the_differences(
    page: Page, live_server: LiveServer, owner: User, registry: Registry
) -> None:
    from playwright.sync_api import expect

    NotificationProfile.objects.create(user=owner, timezone="UTC")
    now = timezone.now()
    rows = []
    for n, (service, host, state) in enumerate(
        [("HTTP", "web1", "CRITICAL"), ("HTTP", "web1", "WARNING"), ("Postgres", "db1", "CRITICAL")]
    ):
        rows.append(
            NotificationDecision.objects.create(
                time=now - timedelta(hours=5 - n),
                contact="owner-contact",
                user=owner,
                host=host,
                service=service,
                state=state,
                type="PROBLEM",
                channel="email",
                decision="notify",
                reason="no rule matched; default notify",
                digest=f"editor-{n}",
            )
        )
    open_page(page, live_server)
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("Action").select_option("suppress")
    page.get_by_label("Host groups").fill("web")
    page.get_by_role("checkbox", name="CRITICAL").check()
    page.get_by_role("button", name="Replay my last 7 days").click()

    expect(page.locator("#replay-summary")).to_contain_text("1 fewer and 0 more notifications")
    table = page.locator("#replay-table tbody tr")
    expect(table).to_have_count(1)
    expect(table.first).to_have_attribute("data-decision-id", str(rows[0].pk))
    expect(table.first).to_contain_text("HTTP on web1")
    expect(table.first).to_contain_text("PROBLEM CRITICAL")
    expect(table.first.locator("[data-decision]")).to_have_text(["notify", "suppress"])
    # A question, not a change: nothing saved.
    assert not NotificationRule.objects.filter(user=owner).exists()
