"""The deployment page, "rendered only" for a node without a core, and the fragment URL opened directly.

Deployments are run by the real pipeline (registry/deploy.py) into a temporary config directory,
so the page diffs real rendered versions on disk and shows a real verifier's output.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format, time_format
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from registry import deploy
from registry.models import Deployment, Host, HostUse, NaemonNode
from tests.services.browser import logged_in_page

pytestmark = pytest.mark.django_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"
WARNING = "Warning: host web2 has no contacts"


@pytest.fixture
def node(db: None, tmp_path: Path, basics: dict[str, Any]) -> NaemonNode:
    """The ``make run`` demo node's set-up: rendered and verified into a directory, no core, no reload."""
    return NaemonNode.objects.create(
        name="local",
        config_dir=str(tmp_path / "portal.d"),
        main_config="",
        # A verifier that accepts the config with a warning, as nagios4 -v does.
        verify_command=f"/bin/sh -c 'echo \"{WARNING}\"' {{main_config}}",
        reload_method="none",
    )


def add_host(name: str, basics: dict[str, Any]) -> None:
    HostUse.objects.create(host=Host.objects.create(name=name), template=basics["host_template"])


def run(node: NaemonNode, by: str) -> Deployment:
    deployment = Deployment.objects.create(node=node, triggered_by=by, reason="registry change")
    deploy.deploy(node.pk)
    deployment.refresh_from_db()
    return deployment


@pytest.fixture
def two_deployments(node: NaemonNode, basics: dict[str, Any]) -> tuple[Deployment, Deployment]:
    add_host("web1", basics)
    first = run(node, "alice")
    add_host("web2", basics)
    second = run(node, "token:ansible")
    assert (first.state, second.state) == ("confirmed", "confirmed"), (first.error, second.error)
    return first, second


def page(user: User, url: str, **headers: str) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(url, headers=headers)


def test_a_node_without_a_core_shows_rendered_only_not_confirmed(
    two_deployments: tuple[Deployment, Deployment], viewer: User
) -> None:
    html = page(viewer, "/registry/nodes/local/").content.decode()
    assert "rendered only — no core attached" in html
    # The green "confirmed" badge is not shown for a config no core runs.
    assert 'text-bg-success">confirmed' not in html
    assert 'id="attach-core"' in html and "set the node's Livestatus address and a reload method" in html
    detail = page(viewer, f"/registry/nodes/local/deployments/{two_deployments[1].pk}/").content.decode()
    assert 'data-state="rendered-only"' in detail and "no core attached" in detail
    assert 'data-step="reloading" data-status="skipped"' in detail


def test_a_node_with_a_core_still_shows_confirmed(node: NaemonNode, viewer: User) -> None:
    node.reload_method = "livestatus"
    node.save()
    Deployment.objects.create(node=node, state="confirmed", confirmation="program_start moved")
    # The history links the deployment's own page, which shows the end of its timeline green.
    pk = Deployment.objects.get(node=node).pk
    html = page(viewer, "/registry/nodes/local/").content.decode()
    assert 'text-bg-success">confirmed' in html and "rendered only" not in html
    assert 'id="attach-core"' not in html
    detail = page(viewer, f"/registry/nodes/local/deployments/{pk}/").content.decode()
    assert 'data-step="end" data-status="done"' in detail and 'data-state="confirmed"' in detail


def test_the_fragment_url_opened_directly_is_the_full_page(
    two_deployments: tuple[Deployment, Deployment], viewer: User
) -> None:
    direct = page(viewer, "/registry/nodes/local/deployments/")
    assert direct.status_code == 200
    html = direct.content.decode()
    assert "<html" in html and "portal.css" in html and "<h1" in html and 'id="deployments"' in html
    assert "HX-Request" in direct["Vary"]
    # htmx's poll still gets the bare fragment to swap in.
    fragment = page(viewer, "/registry/nodes/local/deployments/", **{"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="deployments"')


def test_deployment_page_timeline_output_diff_and_who(
    two_deployments: tuple[Deployment, Deployment], viewer: User
) -> None:
    first, second = two_deployments
    node_page = page(viewer, "/registry/nodes/local/").content.decode()
    assert f'href="/registry/nodes/local/deployments/{second.pk}/"' in node_page  # linked from the list

    html = page(viewer, f"/registry/nodes/local/deployments/{second.pk}/").content.decode()
    assert 'id="triggered-by">token:ansible<' in html
    for step in ("pending", "rendering", "verifying"):
        assert f'data-step="{step}" data-status="done"' in html
    assert second.started_at is not None
    started = timezone.localtime(second.started_at)
    # The steps carry their times, to the second, in the page's date format and the reader's zone.
    assert f"{date_format(started, 'SHORT_DATE_FORMAT')} {time_format(started, 'H:i:s T')}" in html
    # The verifier's warning, highlighted in its full output.
    assert f'data-kind="warning">{WARNING}</mark>' in html
    # The portal's own warning (nobody would be told about web2) is listed beside it, highlighted.
    assert 'id="other-warnings"' in html and html.count('data-kind="warning"') == len(second.warnings)
    # The diff against the version before: web2 added, web1 untouched.
    assert f"against version {first.pk}" in html
    assert "+    host_name" in html and "web2" in html.split('id="config-diff"')[1]
    assert 'id="registry-changes"' in html

    # The first one's version was pruned only if three exist; here both are kept, and the
    # first diffs against nothing (all added).
    older = page(viewer, f"/registry/nodes/local/deployments/{first.pk}/").content.decode()
    assert "(nothing)/hosts.cfg" in older


def test_deployment_page_access(two_deployments: tuple[Deployment, Deployment], viewer: User) -> None:
    pk = two_deployments[1].pk
    anonymous = Client().get(f"/registry/nodes/local/deployments/{pk}/")
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    # A deployment is only found under its own node.
    NaemonNode.objects.create(name="other", config_dir="/nonexistent/portal.d", reload_method="none")
    assert page(viewer, f"/registry/nodes/other/deployments/{pk}/").status_code == 404
    assert page(viewer, "/registry/nodes/local/deployments/999999/").status_code == 404


@pytest.fixture
def browser(live_server: LiveServer, viewer: User, settings: Settings) -> Iterator[Any]:
    with logged_in_page(live_server, viewer, settings, viewport={"width": 1400, "height": 1000}) as page:
        yield page


@pytest.mark.browser
@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)
def test_deployment_page_in_a_browser(
    two_deployments: tuple[Deployment, Deployment], live_server: LiveServer, browser: Any
) -> None:
    # The deployments run before the browser starts: the pipeline's subprocesses then do not
    # share the process with Playwright's event loop.
    from playwright.sync_api import expect

    second = two_deployments[1]
    browser.goto(f"{live_server.url}/registry/nodes/local/")
    browser.locator(f"a[data-detail='{second.pk}']").click()
    expect(browser).to_have_url(f"{live_server.url}/registry/nodes/local/deployments/{second.pk}/")
    expect(browser.locator("#deployment-state")).to_have_text("rendered only — no core attached")
    expect(browser.locator("#timeline li")).to_have_count(5)
    warning = browser.locator("#verify-output mark[data-kind=warning]")
    expect(warning).to_have_text(WARNING)
    # Highlighted: the warning line has a background of its own, unlike the output around it.
    background = warning.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    expect(browser.locator("#config-diff")).to_contain_text("web2")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(path=str(ARTIFACTS / "deployment-detail.png"), full_page=True)
