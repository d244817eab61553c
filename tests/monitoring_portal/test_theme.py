"""Dark theme following prefers-color-scheme, the light/dark/auto switch, and the favicon.

The browser test emulates a dark system setting in Chromium and measures the body's computed
background; a screenshot goes to var/test/artifacts/dark-theme.png.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from tests.services.browser import logged_in_page

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"
BODY_BACKGROUND = "getComputedStyle(document.body).backgroundColor"


def _luminance(css_colour: str) -> float:
    """0 (black) to 255 (white): the mean of an ``rgb(r, g, b)`` colour's channels."""
    channels = [int(c) for c in re.findall(r"\d+", css_colour)[:3]]
    assert len(channels) == 3, css_colour
    return sum(channels) / 3


@pytest.mark.django_db(transaction=True)
def test_pages_follow_a_dark_system_and_the_switch_is_remembered(
    owner: User, live_server: LiveServer, settings: Settings
) -> None:
    options: dict[str, Any] = {"color_scheme": "dark", "viewport": {"width": 1280, "height": 800}}
    with logged_in_page(live_server, owner, settings, **options) as page:
        for path in ("/", "/status/", "/registry/"):
            page.goto(f"{live_server.url}{path}")
            assert page.evaluate("document.documentElement.dataset.bsTheme") == "dark", path
            assert _luminance(page.evaluate(BODY_BACKGROUND)) < 60, path
            assert page.get_attribute("[data-theme-choice='auto']", "aria-pressed") == "true"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dark-theme.png"), full_page=True)

        page.click("[data-theme-choice='light']")
        assert _luminance(page.evaluate(BODY_BACKGROUND)) > 200
        page.reload()
        # Remembered across a reload although the system still says dark.
        assert page.evaluate("document.documentElement.dataset.bsTheme") == "light"
        assert _luminance(page.evaluate(BODY_BACKGROUND)) > 200
        assert page.get_attribute("[data-theme-choice='light']", "aria-pressed") == "true"

        page.click("[data-theme-choice='auto']")
        page.reload()
        assert _luminance(page.evaluate(BODY_BACKGROUND)) < 60


@pytest.mark.django_db
def test_favicon_is_linked_and_served_as_an_image(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    for page in ("/", "/login/"):
        client_for_page = client if page == "/" else Client()
        html = client_for_page.get(page).content.decode()
        icons = re.findall(r'<link rel="(?:alternate )?icon" href="([^"]+)"', html)
        assert len(icons) == 3, (page, icons)
        for url in icons:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response["Content-Type"].startswith("image/"), (url, response["Content-Type"])
            body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
            assert body, url
