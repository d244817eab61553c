"""Dates, times and numbers as the reader expects them: their profile's time zone, their language's formats.

The reader's zone is the one on their notification profile (``preferences.middleware``), else the
site's ``TIME_ZONE``; the formats are Django's for the page's language (``fr``: "2 juillet 2025",
"12 345"). The French pages need the compiled catalogue (see test_i18n.py).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from livestatus import overview, overview_store
from preferences.models import NotificationDecision, NotificationProfile, Silence
from registry.models import Contact
from tests.factories import NaemonNodeFactory
from tests.livestatus.test_overview import decision, node, stats
from tests.services.browser import logged_in_page

pytestmark = pytest.mark.django_db

FRENCH = {"accept-language": "fr-FR,fr;q=0.9"}
ENGLISH = {"accept-language": "en-GB,en;q=0.9"}
# A summer instant in the past: Paris is UTC+2 then (CEST), so a missing shift cannot hide in DST.
DECIDED = datetime(2025, 7, 2, 7, 8, 9, tzinfo=UTC)


def history_time_cell(html: str) -> str:
    """The text of the first history row's time cell (its first cell)."""
    row = html[html.index("<tr data-decision=") :]
    return row[: row.index("</td>")]


@pytest.fixture
def decided(owner: User) -> NotificationDecision:
    return NotificationDecision.objects.create(
        time=DECIDED,
        contact="owner",
        user=owner,
        host="web1",
        service="HTTP",
        state="CRITICAL",
        type="PROBLEM",
        channel="email",
        decision="notify",
        reason="no rule matched; default notify",
        digest="localised-1",
    )


def test_the_history_shows_a_paris_readers_time_in_paris_and_in_french(
    owner: User, decided: NotificationDecision
) -> None:
    NotificationProfile.objects.create(user=owner, timezone="Europe/Paris")
    client = Client()
    client.force_login(owner)

    cell = history_time_cell(client.get("/notifications/history/", headers=FRENCH).content.decode())
    assert "2 juillet 2025 09:08:09 CEST" in cell  # 07:08:09 UTC, two hours later in Paris
    assert "il y a" in cell  # how long ago, in French
    assert 'datetime="2025-07-02T09:08:09+02:00"' in cell  # the machine-readable instant stays exact

    cell = history_time_cell(client.get("/notifications/history/", headers=ENGLISH).content.decode())
    assert "July 2, 2025 09:08:09 CEST" in cell and "ago" in cell


def test_without_a_profile_the_history_uses_the_site_time_zone(
    owner: User, decided: NotificationDecision, settings: Settings
) -> None:
    settings.TIME_ZONE = "UTC"
    client = Client()
    client.force_login(owner)
    cell = history_time_cell(client.get("/notifications/history/", headers=FRENCH).content.decode())
    assert "2 juillet 2025 07:08:09 UTC" in cell


def test_the_api_keeps_utc_for_a_paris_reader(owner: User, decided: NotificationDecision) -> None:
    """Scripts read the API: a session's profile zone must not change what a time looks like there."""
    NotificationProfile.objects.create(user=owner, timezone="Europe/Paris")
    client = Client()
    client.force_login(owner)
    body = client.get("/api/v1/preferences/history/", headers=FRENCH).json()
    rows = body["results"] if isinstance(body, dict) else body
    assert rows[0]["time"] in ("2025-07-02T07:08:09Z", "2025-07-02T07:08:09+00:00")


def test_my_recent_notifications_on_the_home_page_are_in_my_zone_not_raw_iso(
    owner: User, settings: Settings, tmp_path: Path
) -> None:
    settings.REDIS_URL = ""  # the decisions are read from the node's log on this machine
    NaemonNodeFactory.create(name="master", notify_dir=str(tmp_path))
    (tmp_path / "decisions.log").write_text(decision("owner-contact", DECIDED.timestamp()) + "\n")
    Contact.objects.create(name="owner-contact", user=owner)
    NotificationProfile.objects.create(user=owner, timezone="Europe/Paris")
    client = Client()
    client.force_login(owner)

    html = client.get("/", headers=FRENCH).content.decode()
    section = html[html.index('id="my-notifications"') :]
    assert "02/07/2025 09:08 CEST" in section and "il y a" in section
    assert "2025-07-02T07:08:09.000Z" not in section and "(UTC)" not in section


def test_the_home_page_groups_large_counts_the_french_way(
    owner: User, settings: Settings, redis_url: str
) -> None:
    settings.REDIS_URL = redis_url
    snapshot = overview.build_snapshot(
        now=time.time(),
        nodes=[node("master")],
        rows={
            "master": {
                "hosts": [stats(up=1234, down=0, unreachable=0, pending=0)],
                "services": [stats(ok=12345, warning=0, critical=0, unknown=0, pending=0)],
                "group_hosts": [],
                "group_services": [],
                "host_problems": [],
                "service_problems": [],
            }
        },
    )
    store = redis.Redis.from_url(redis_url)
    try:
        store.set(overview_store.KEY_SNAPSHOT, json.dumps(snapshot))
        client = Client()
        client.force_login(owner)
        french = client.get("/", headers=FRENCH).content.decode()
        assert "1\xa0234 hôtes, 12\xa0345 services" in french
        assert "1,234 hosts, 12,345 services" in client.get("/", headers=ENGLISH).content.decode()
    finally:
        store.delete(overview_store.KEY_SNAPSHOT)
        store.close()


@pytest.mark.django_db(transaction=True)
def test_a_french_browser_reads_the_silences_script_in_french(
    owner: User, live_server: LiveServer, settings: Settings
) -> None:
    from playwright.sync_api import expect

    with logged_in_page(live_server, owner, settings, locale="fr-FR") as page:
        page.goto(f"{live_server.url}/notifications/silences/")
        page.fill("#silence-host", "web1")
        page.fill("#silence-comment", "x" * 300)  # longer than a silence's comment may be: a 400
        page.click("#silence-create")
        error = page.locator("#silence-error")
        # The script's words from the French catalogue; the field named as the form's label says it.
        expect(error).to_contain_text("Non mis en silence : Commentaire : ")
        assert "comment:" not in error.inner_text()
    assert not Silence.objects.exists()
