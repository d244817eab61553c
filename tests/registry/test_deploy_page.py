"""A node's deployment history in a real browser: new deployments and state changes appear in place.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright, against live_server. The
deploy task is replaced by a recorder (the deployment stays pending until the test plays the
worker), so the test controls every state the page must show.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from registry.choices import DeploymentState
from registry.models import Deployment, NaemonNode
from tests.factories import NaemonNodeFactory
from tests.services.browser import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

# Playwright's expect() waits 5 s by default, no longer than one idle poll (5 s): wait for
# three polls, so a poll that lands just after the change is not a failure.
WAIT_MS = 15_000

if TYPE_CHECKING := False:
    from playwright.sync_api import Page


@pytest.fixture
def master(db: None) -> NaemonNode:
    return NaemonNodeFactory.create(name="master1")


@pytest.fixture
def page(live_server: LiveServer, owner: User, settings: Settings) -> Iterator[Page]:
    """A logged-in browser page that fails the test on JavaScript errors."""
    with logged_in_page(live_server, owner, settings) as page:
        yield page


def test_a_new_deployment_and_its_state_changes_appear_without_reload(
    page: Page, live_server: LiveServer, master: NaemonNode, api_client_for: Any, staff: User, deploys: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/registry/nodes/master1/")
    history = page.locator("#deployments")
    expect(history).to_contain_text("No deployments yet.", timeout=WAIT_MS)
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    # A write through the API asks for a deployment of master1 (the worker has not started it).
    response = api_client_for(staff).put(
        "/api/v1/registry/hosts/web02/", {"address": "192.0.2.2", "max_check_attempts": 3}, format="json"
    )
    assert response.status_code == 202, response.json()
    deployment = Deployment.objects.get(node=master)
    assert deploys.enqueued == [(master.pk, "naemon.master1")]
    row = page.locator(f"#deployments tr[data-deployment='{deployment.pk}']")
    expect(row).to_have_attribute("data-state", "pending", timeout=WAIT_MS)
    expect(row).to_contain_text("PUT host web02", timeout=WAIT_MS)
    expect(history).to_have_attribute("data-poll-seconds", "2")  # faster while it runs

    # The worker moves it on, then fails it: each state shows in the same page.
    Deployment.objects.filter(pk=deployment.pk).update(
        state=DeploymentState.VERIFYING, started_at=timezone.now()
    )
    expect(row).to_have_attribute("data-state", "verifying", timeout=WAIT_MS)
    Deployment.objects.filter(pk=deployment.pk).update(
        state=DeploymentState.FAILED,
        finished_at=timezone.now(),
        error="verification failed",
        verify_output="Error: Could not find any host matching 'web02'",
    )
    expect(row).to_have_attribute("data-state", "failed", timeout=WAIT_MS)
    expect(history.locator("pre.deployment-output")).to_contain_text(
        "Could not find any host matching", timeout=WAIT_MS
    )
    expect(history).to_have_attribute("data-poll-seconds", "5")  # idle, but still watching

    # A second write while the page sits idle: its deployment appears on top.
    api_client_for(staff).patch("/api/v1/registry/hosts/web02/", {"alias": "two"}, format="json")
    second = Deployment.objects.filter(node=master).exclude(pk=deployment.pk).get()
    expect(history.locator("tbody tr").first).to_have_attribute(
        "data-deployment", str(second.pk), timeout=WAIT_MS
    )
    # Confirmed with the verifier's warnings: they show too, not only a failure's output.
    Deployment.objects.filter(pk=second.pk).update(
        state=DeploymentState.CONFIRMED,
        finished_at=timezone.now(),
        warnings=["Warning: Host 'web02' has no default contacts or contactgroups defined!"],
    )
    warned = history.locator(f"tr[data-warnings='{second.pk}']")
    expect(warned).to_contain_text("The verifier warned (1):", timeout=WAIT_MS)
    expect(warned).to_contain_text("has no default contacts or contactgroups defined!", timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
