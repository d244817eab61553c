"""The demo site loads on the local demo (DEBUG) only, and a second run changes nothing."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from monitoring_portal.models import Team
from registry.models import Host


def demo_login(password: str) -> User | None:
    # django-axes watches every login attempt, so authenticate() needs the request.
    return authenticate(RequestFactory().post("/login/"), username="demo", password=password)


@pytest.mark.django_db
def test_load_demo_is_idempotent(settings) -> None:
    settings.DEBUG = True  # what `make run` sets
    settings.PORTAL_DEMO_PASSWORD = "demo-portal-2026"
    first = StringIO()
    call_command("load_demo", stdout=first)
    assert "created" in first.getvalue()
    snapshot = (
        list(User.objects.values_list("username", "password", "is_staff").order_by("username")),
        list(Team.objects.values_list("name", "members__username").order_by("name", "members__username")),
    )
    second = StringIO()
    call_command("load_demo", stdout=second)
    assert "nothing changed" in second.getvalue()
    assert snapshot == (
        list(User.objects.values_list("username", "password", "is_staff").order_by("username")),
        list(Team.objects.values_list("name", "members__username").order_by("name", "members__username")),
    )
    assert demo_login(settings.PORTAL_DEMO_PASSWORD) is not None


@pytest.mark.django_db
def test_a_real_site_refuses_the_demo_unless_forced(settings) -> None:
    settings.DEBUG = False
    settings.PORTAL_DEMO_PASSWORD = "chosen-by-the-operator-1"
    with pytest.raises(CommandError, match=r"DEBUG is off.*--force"):
        call_command("load_demo", stdout=StringIO())
    assert not User.objects.exists() and not Host.objects.exists()  # nothing created
    call_command("load_demo", "--force", stdout=StringIO())
    assert demo_login("chosen-by-the-operator-1") is not None


def test_outside_debug_the_demo_password_has_no_default() -> None:
    """Settings read with DEBUG off and no PORTAL_DEMO_PASSWORD: empty, so load_demo refuses."""
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "x" * 50,
        "DJANGO_SETTINGS_MODULE": "monitoring_portal.settings",
    }
    code = "from django.conf import settings; print(repr(settings.PORTAL_DEMO_PASSWORD))"
    root = Path(__file__).resolve().parents[2]
    for debug, expected in (("false", "''"), ("true", "'demo-portal-2026'")):
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "DEBUG": debug},
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.strip() == expected, result.stderr


@pytest.mark.django_db
def test_forcing_without_a_password_is_refused(settings) -> None:
    settings.DEBUG = False
    settings.PORTAL_DEMO_PASSWORD = ""
    with pytest.raises(CommandError, match="PORTAL_DEMO_PASSWORD is not set"):
        call_command("load_demo", "--force", stdout=StringIO())
    assert not User.objects.exists()
