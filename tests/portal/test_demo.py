"""The demo site loads and a second run changes nothing."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from monitoring_portal.models import Team


@pytest.mark.django_db
def test_load_demo_is_idempotent(settings) -> None:
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
    assert authenticate(username="demo", password=settings.PORTAL_DEMO_PASSWORD) is not None
