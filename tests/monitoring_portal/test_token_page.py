"""The profile's token page: post/redirect/get, the secret shown once, a copy button, a curl example."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from monitoring_portal.models import APIToken
from tests.services.browser import logged_in_page

SECRET = re.compile(r'id="new-token-secret">([^<]+)<')


@pytest.mark.django_db
def test_creating_a_token_redirects_and_a_reload_creates_no_second_one(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    response = client.post("/profile/", {"name": "ansible"})
    assert response.status_code == 302 and response["Location"] == "/profile/"

    shown = client.get("/profile/")
    match = SECRET.search(shown.content.decode())
    assert match, "the secret is shown on the redirected page"
    assert shown["Cache-Control"] == "no-store"
    token = APIToken.objects.get(user=owner)
    assert token.digest == APIToken.hash(match.group(1))

    # The browser's reload repeats the GET: still one token, and the secret is gone for good.
    reloaded = client.get("/profile/").content.decode()
    assert APIToken.objects.filter(user=owner).count() == 1
    assert not SECRET.search(reloaded) and match.group(1) not in reloaded
    assert token.prefix in reloaded


@pytest.mark.django_db
def test_the_page_shows_a_curl_example_with_the_portals_own_url(owner: User, settings: Settings) -> None:
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    client = Client()
    client.force_login(owner)
    page = client.get("/profile/", HTTP_HOST="portal.example.org").content.decode()
    assert (
        'curl -H "Authorization: Bearer $PORTAL_TOKEN" http://portal.example.org/api/v1/registry/hosts/'
        in page
    )
    assert 'data-copy="#token-curl"' in page


@pytest.mark.django_db
def test_a_refused_token_is_a_400_naming_the_field_and_creates_nothing(owner: User) -> None:
    client = Client()
    client.force_login(owner)
    response = client.post("/profile/", {"name": "odd", "scope": "hostgroups", "hostgroups": ""})
    assert response.status_code == 400
    assert "needs at least one host group" in response.content.decode()
    assert not APIToken.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_in_chromium_create_reload_and_copy(owner: User, live_server: LiveServer, settings: Settings) -> None:
    with logged_in_page(live_server, owner, settings) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        page.goto(f"{live_server.url}/profile/")
        page.fill("#id_name", "ci")
        page.click("button:has-text('Create token')")
        page.wait_for_url(f"{live_server.url}/profile/")
        secret = page.inner_text("#new-token-secret").strip()
        page.click("[data-copy='#new-token-secret']")
        page.wait_for_function(
            "b => b.textContent === 'Copied'", arg=page.query_selector("[data-copy='#new-token-secret']")
        )
        assert page.evaluate("navigator.clipboard.readText()") == secret

        page.reload()
        assert page.locator("#new-token-secret").count() == 0
        assert secret not in page.content()
        assert APIToken.objects.filter(user=owner).count() == 1
