"""GET /status/search/?q=: the navigation bar's suggestions, per role, against a real core.

Hosts and services come from the registry and from what the status tests' Icinga 2 reports
(``tests.livestatus.fixtures``); groups and people from the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from livestatus.search import PER_KIND
from registry.models import Contact, Host, NaemonNode, ServiceGroup

pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services

URL = "/status/search/"
Browser = Callable[[Any], Client]


def found(browser: Client, text: str) -> list[tuple[str, str, str]]:
    response = browser.get(URL, {"q": text})
    assert response.status_code == 200, response.content
    return [(item["kind"], item["label"], item["url"]) for item in response.json()["results"]]


def test_anonymous_is_refused_and_learns_no_name(browser_for: Browser, master: NaemonNode) -> None:
    response = browser_for(None).get(URL, {"q": "web"})
    assert response.status_code == 403
    assert b"web-01" not in response.content


@pytest.mark.parametrize("persona", ["viewer", "outsider", "owner", "operator", "staff"])
def test_every_signed_in_user_finds_registry_and_live_objects(
    persona: str,
    browser_for: Browser,
    master: NaemonNode,
    owned: dict[str, Host],
    request: pytest.FixtureRequest,
) -> None:
    user: User = request.getfixturevalue(persona)
    ServiceGroup.objects.create(name="frontend")
    Contact.objects.create(name="ops-alice", alias="Alice On Call", email="alice@example.org")
    browser = browser_for(user)
    # web-01 is in the registry and live; unowned-01 only live: both lead to their status page.
    assert ("host", "web-01", "/status/host/web-01/") in found(browser, "web-0")
    assert found(browser, "unowned") == [("host", "unowned-01", "/status/host/unowned-01/")]
    assert ("service", "web-01 / crit-me", "/status/service/web-01/crit-me/") in found(browser, "crit-m")
    assert found(browser, "databases") == [("host group", "databases", "/status/hosts/?hostgroup=databases")]
    assert ("service group", "frontend", "/status/services/?servicegroup=frontend") in found(
        browser, "frontend"
    )
    # People by name, alias or e-mail.
    assert ("person", "ops-alice", "/registry/contacts/ops-alice/") in found(browser, "alice on")


def test_results_are_bounded_per_kind(browser_for: Browser, viewer: User, master: NaemonNode) -> None:
    Host.objects.bulk_create(Host(name=f"many-{number:02}") for number in range(PER_KIND + 5))
    hosts = [label for kind, label, _ in found(browser_for(viewer), "many-") if kind == "host"]
    assert hosts == [f"many-{number:02}" for number in range(PER_KIND)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "at least one character"),
        ("   ", "at least one character"),
        ("web\nGET hosts", "line breaks"),
        ("x" * 101, "At most 100"),
    ],
)
def test_bad_query_is_a_400_naming_q(
    query: str, message: str, browser_for: Browser, viewer: User, master: NaemonNode
) -> None:
    response = browser_for(viewer).get(URL, {"q": query})
    assert response.status_code == 400
    assert message in response.json()["q"][0]
