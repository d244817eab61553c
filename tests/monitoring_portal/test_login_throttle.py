"""Login throttling (django-axes): wrong passwords lock a user name from an address for a while."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

RIGHT = "owner-pass-1234"


def log_in(client: Client, password: str, url: str = "/login/", username: str = "owner") -> int:
    return client.post(url, {"username": username, "password": password}).status_code


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_right_password_is_refused_after_too_many_wrong_ones(
    settings: Settings, owner: User, url: str
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    client = Client()
    for _ in range(4):
        assert log_in(client, "wrong", url) == 200  # the form again, with its error
    assert log_in(client, "wrong", url) == 429  # the fifth: locked
    response = client.post(url, {"username": "owner", "password": RIGHT})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and "5 wrong passwords" in page
    assert "0:15:00" in page  # the default cool-off
    assert not logged_in(client)
    # Another user name from the same address is not locked.
    User.objects.create_user("other", password="other-pass-1234")
    other = Client()
    assert log_in(other, "other-pass-1234", username="other") == 302 and logged_in(other)


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_the_count(settings: Settings, owner: User) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(2):
        assert log_in(client, "wrong") == 200
    assert log_in(client, RIGHT) == 302
    client.logout()
    for _ in range(2):
        assert log_in(client, "wrong") == 200
    assert log_in(client, RIGHT) == 302  # 4 failures in all, but never 3 in a row


@pytest.mark.django_db
def test_the_lock_ends_after_the_cool_off(settings: Settings, owner: User) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    client = Client()
    log_in(client, "wrong")
    assert log_in(client, "wrong") == 429
    assert log_in(client, RIGHT) == 429
    # Each attempt during the lock starts the cool-off again: wait for it without knocking.
    attempt = AccessAttempt.objects.get(username="owner")
    deadline = time.monotonic() + 15
    while timezone.now() - attempt.attempt_time <= timedelta(seconds=1):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert log_in(client, RIGHT) == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_an_admin_unlocks_a_user(settings: Settings, owner: User) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = None  # locked until an admin resets it
    client = Client()
    log_in(client, "wrong")
    assert log_in(client, "wrong") == 429
    assert (
        "until an administrator unlocks"
        in client.post("/login/", {"username": "owner", "password": RIGHT}).content.decode()
    )
    call_command("axes_reset_username", "owner", stdout=StringIO())
    assert log_in(client, RIGHT) == 302 and logged_in(client)
