"""A logged-in headless Chromium page against live_server, for the pages' browser tests.

Debian's /usr/bin/chromium through Playwright, with background networking off (the machines
have no outbound internet). The page fails its test on any JavaScript error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from tests.services.required import require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# live_server runs in a thread of this process and Playwright's sync API runs an event loop in
# this thread: Django's async-safety check would refuse the ORM calls of the test itself.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@contextmanager
def logged_in_page(
    live_server: LiveServer, user: User, settings: Settings, **context_options: Any
) -> Iterator[Any]:
    """A page carrying ``user``'s session cookie; asserts afterwards that no JS error happened."""
    require_service(
        "Chromium", os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (Debian package chromium)"
    )
    from playwright.sync_api import sync_playwright

    # The test server speaks plain HTTP: cookies must not be Secure-only here.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**context_options)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.set_default_timeout(30_000)  # a loaded CI machine, not luck: every wait polls
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
        finally:
            # Inside sync_playwright() the test runs in Playwright's greenlet, with its own context
            # variables and so its own Django connections, which pytest-django does not close:
            # close them here, or PostgreSQL refuses to drop the test database ("in use").
            connections.close_all()
            browser.close()
    assert not errors, errors
