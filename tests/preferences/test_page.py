"""My notifications in a real browser (headless Chromium through Playwright, against live_server).

The page does everything through the REST API; these tests drive it as a user would and
check the database and the preview. A screenshot goes to var/test/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from preferences.models import NotificationProfile, NotificationRule
from tests.preferences.conftest import Registry, make_contact
from tests.services.browser import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"

if TYPE_CHECKING := False:
    from playwright.sync_api import Page


@pytest.fixture
def page(live_server: LiveServer, owner: User, settings: Settings) -> Iterator[Page]:
    """A logged-in browser page (the owner's session cookie) that fails the test on JS errors."""
    with logged_in_page(live_server, owner, settings, viewport={"width": 1400, "height": 1000}) as page:
        yield page


def test_add_disable_reorder_rules_with_a_live_preview(
    page: Page, live_server: LiveServer, owner: User, registry: Registry
) -> None:
    from playwright.sync_api import expect

    make_contact("owner-contact", owner, registry.email)
    page.goto(f"{live_server.url}/notifications/")
    expect(page.locator("#notifications-page[data-ready=true]")).to_be_attached()
    expect(page.get_by_text("Your Naemon contact is owner-contact")).to_be_visible()
    expect(page.locator("#rules-body")).to_contain_text("No rules")

    # The preview: CRITICAL on web1/HTTP by email, and nothing but the default yet.
    page.get_by_label("Host", exact=True).fill("web1")
    page.get_by_label("Service (empty: a host notification)").fill("HTTP")
    page.get_by_label("State").select_option("CRITICAL")
    page.get_by_label("Channel").fill("email")
    decision = page.locator("#preview-decision [data-decision]")
    expect(decision).to_have_text("notify")
    expect(page.locator("#preview-result")).to_contain_text("host groups: web")
    expect(page.locator("#preview-result")).to_contain_text("No rule matches")
    expect(page.locator("#preview-result")).not_to_contain_text("null")

    # A rule through the editor, with a host group suggested from the registry.
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("Action").select_option("suppress")
    page.get_by_label("Comment").fill("quiet web")
    hostgroups = page.get_by_label("Host groups")
    hostgroups.fill("we")
    expect(page.locator("#choices-hostgroups option[value=web]")).to_be_attached()
    hostgroups.fill("web")
    page.get_by_role("checkbox", name="CRITICAL").check()
    page.get_by_role("button", name="Save rule").click()

    expect(page.locator("#rules-body tr[data-rule-id]")).to_have_count(1)
    expect(decision).to_have_text("suppress")
    expect(page.locator("#preview-decision")).to_contain_text("Rule 1 (quiet web) decides.")
    rule = NotificationRule.objects.get(user=owner)
    assert (rule.action, rule.hostgroups, rule.states, rule.comment) == (
        "suppress",
        ["web"],
        ["CRITICAL"],
        "quiet web",
    )
    expect(page.locator(f"#rules-body tr[data-rule-id='{rule.pk}']")).to_have_class(
        re.compile(r"\btable-info\b")
    )

    # A WARNING is not covered by the rule.
    page.get_by_label("State").select_option("WARNING")
    expect(decision).to_have_text("notify")
    page.get_by_label("State").select_option("CRITICAL")
    expect(decision).to_have_text("suppress")

    # Switch the rule off: the preview follows.
    page.get_by_role("switch", name="Rule 1 enabled").uncheck()
    expect(decision).to_have_text("notify")
    rule.refresh_from_db()
    assert rule.enabled is False

    # A second rule, moved to the top.
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("Action").select_option("notify")
    page.get_by_label("Comment").fill("sms at night")
    page.get_by_role("checkbox", name="Sat").check()
    page.get_by_label("From (HH:MM)").fill("22:00")
    page.get_by_label("Until (HH:MM)").fill("06:00")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#rules-body tr[data-rule-id]")).to_have_count(2)
    expect(page.locator("#rules-body")).to_contain_text("Sat 22:00\u201306:00")
    page.get_by_role("button", name="Move rule 2 up").click()
    expect(page.locator("#rules-body tr[data-rule-id]").first).to_contain_text("sms at night")
    comments = [r.comment for r in NotificationRule.objects.filter(user=owner).in_order()]
    assert comments == ["sms at night", "quiet web"]

    # Edit: the API's field errors show on the field.
    page.get_by_role("button", name="Edit rule 1").click()
    page.get_by_label("Until (HH:MM)").fill("25:00")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("[data-error-for=end]")).to_contain_text("not a time of day")
    page.get_by_role("button", name="Cancel").click()

    # The default: suppress everything else.
    page.get_by_label("Default").select_option("suppress")
    page.get_by_label("Time zone of your time windows").fill("Europe/Paris")
    page.get_by_role("button", name="Save default").click()
    expect(page.locator("#profile-status")).to_have_text("Saved.")
    expect(decision).to_have_text("suppress")
    expect(page.locator("#preview-result")).to_contain_text("in Europe/Paris")
    profile = NotificationProfile.objects.get(user=owner)
    assert (profile.default, profile.timezone) == ("suppress", "Europe/Paris")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notifications.png"), full_page=True)

    # Delete asks first.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete rule 2").click()
    expect(page.locator("#rules-body tr[data-rule-id]")).to_have_count(1)
    assert NotificationRule.objects.filter(user=owner).count() == 1


def test_who_would_be_notified_page(
    page: Page, live_server: LiveServer, owner: User, teammate: User, registry: Registry
) -> None:
    from playwright.sync_api import expect

    alice = make_contact("alice", owner, registry.email, registry.sms)
    bob = make_contact("bob", teammate, registry.email)
    registry.http.contacts.add(alice, bob)
    NotificationRule.objects.create(user=teammate, action="suppress", hostgroups=["web"], comment="not web")
    NotificationRule.objects.create(user=owner, action="notify", channels=["sms"], comment="sms always")

    page.goto(f"{live_server.url}/notifications/who/?host=web1&service=HTTP&state=CRITICAL")
    table = page.locator("#who-table")
    expect(table).to_be_visible()
    expect(table.locator("tr[data-contact=alice][data-channel=sms] [data-decision]")).to_have_text("notify")
    expect(table.locator("tr[data-contact=bob][data-channel=email] [data-decision]")).to_have_text("suppress")
    # The rule that decided is named for everyone; its comment only for its owner (and staff).
    expect(table.locator("tr[data-contact=bob]")).to_contain_text("Rule 1")
    expect(table.locator("tr[data-contact=bob]")).not_to_contain_text("not web")
    expect(table.locator("tr[data-contact=alice][data-channel=sms]")).to_contain_text("sms always")

    page.get_by_label("Host", exact=True).fill("nowhere")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#who-result")).to_contain_text("No host 'nowhere'")
