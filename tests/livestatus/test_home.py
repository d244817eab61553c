"""The engineer's home page: my teams' problems first, links to act, my notifications.

The page reads the status snapshot only; here the snapshot is built from per-node rows
(``build_snapshot``) and served by the in-process fallback, or put into the real Redis.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import DjangoAssertNumQueries, Settings

from livestatus import overview, overview_store
from monitoring_portal.models import Team
from registry.models import Contact, Host, HostGroup, NaemonNode
from tests.factories import NaemonNodeFactory
from tests.livestatus.test_overview import decision, host_row, node, stats, svc
from tests.services.icinga import free_tcp_port

pytestmark = pytest.mark.django_db


def snapshot_rows() -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {
        "master": {
            "hosts": [stats(up=3, down=1, unreachable=0, pending=0)],
            "services": [stats(ok=5, warning=1, critical=2, unknown=0, pending=0)],
            "group_hosts": [],
            "group_services": [],
            "host_problems": [host_row("lonely-1", 1, 900, groups=[])],
            "service_problems": [
                svc("web-1", "http", 2, 1000),  # host group web: the owner's team
                svc("db-1", "postgres", 2, 2000),
                svc("db-2", "disk", 1, 3000),
                svc("web-1", "disk", 1, 500, acknowledged=True),  # handled: not listed
            ],
        }
    }


def make_snapshot(now: float, *, unreachable: bool = False) -> dict[str, Any]:
    nodes = [node("master")]
    if unreachable:
        nodes.append(node("poller", "poller", reachable=False, error="cannot connect: refused"))
    return overview.build_snapshot(now=now, nodes=nodes, rows=snapshot_rows())


@pytest.fixture
def registry(team: Team) -> None:
    """web (owned by the owner's team) with web-1; lonely-1 owned by the team directly."""
    web = HostGroup.objects.create(name="web", team=team)
    Host.objects.create(name="web-1").hostgroups.add(web)
    Host.objects.create(name="lonely-1", team=team)
    HostGroup.objects.create(name="db")


@pytest.fixture
def serve(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """No Redis: the page computes through ``compute``, which serves whatever the test puts here."""
    settings.REDIS_URL = ""
    served: dict[str, Any] = {"snapshot": make_snapshot(time.time())}
    monkeypatch.setattr(overview, "compute", lambda previous=None: served["snapshot"])
    overview_store.forget_local()
    yield served
    overview_store.forget_local()


@pytest.fixture
def web() -> Client:
    """Django's test client (``client`` is the Livestatus client in this directory)."""
    return Client()


def rows(html: str, section: str) -> list[str]:
    """The data-host/data-service pairs listed in one section, in order."""
    start = html.index(f'id="{section}"')
    end = html.index("</section>", start)
    part = html[start:end]
    found = []
    for chunk in part.split('<tr data-host="')[1:]:
        host = chunk.split('"', 1)[0]
        service = chunk.split('data-service="', 1)[1].split('"', 1)[0]
        found.append(f"{host}/{service}")
    return found


def test_anonymous_is_sent_to_login(web: Client) -> None:
    response = web.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_my_teams_problems_come_first_with_links_to_act(
    web: Client,
    owner: User,
    registry: None,
    serve: dict[str, Any],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    web.force_login(owner)
    with django_assert_max_num_queries(12):
        response = web.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert rows(html, "my-problems") == ["lonely-1/", "web-1/http"]  # host DOWN before CRITICAL
    assert rows(html, "other-problems") == ["db-1/postgres", "db-2/disk"]
    assert html.index('id="my-problems"') < html.index('id="other-problems"')
    mine = html[html.index('id="my-problems"') : html.index('id="other-problems"')]
    others = html[html.index('id="other-problems"') :]
    assert mine.count('data-action="acknowledge"') == 2 and 'href="/status/' in mine
    assert 'data-action="' not in others  # not mine: look, but no acting
    assert 'data-service="disk"' not in mine  # the acknowledged one is handled
    assert 'data-freshness="fresh"' in html
    assert 'id="my-notifications"' not in html  # no decision logs anywhere
    assert 'href="/wall/"' in html


def test_staff_may_act_on_everything_and_outsiders_own_nothing(
    web: Client, outsider: User, staff: User, registry: None, serve: dict[str, Any]
) -> None:
    web.force_login(outsider)
    html = web.get("/").content.decode()
    assert rows(html, "my-problems") == [] and "Nothing unhandled on your teams" in html
    assert len(rows(html, "other-problems")) == 4 and 'data-action="' not in html
    web.force_login(staff)
    html = web.get("/").content.decode()
    assert html.count('data-action="recheck"') == 4


def test_stale_and_unreachable_are_said_plainly(
    web: Client, owner: User, registry: None, serve: dict[str, Any]
) -> None:
    serve["snapshot"] = make_snapshot(time.time() - 600, unreachable=True)
    web.force_login(owner)
    html = web.get("/").content.decode()
    assert 'data-freshness="stale"' in html and "Stale status" in html
    assert 'data-unreachable="poller"' in html and "cannot connect: refused" in html


def test_redis_not_answering_is_said_plainly(web: Client, owner: User, settings: Settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_tcp_port()}/0"  # nothing listens there
    web.force_login(owner)
    response = web.get("/")
    assert response.status_code == 200
    assert 'data-freshness="error"' in response.content.decode() and b"does not answer" in response.content


def test_htmx_gets_the_status_part_only(
    web: Client, owner: User, registry: None, serve: dict[str, Any]
) -> None:
    web.force_login(owner)
    response = web.get("/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="home-status"')
    assert "<nav" not in html and "<html" not in html
    assert rows(html, "my-problems") == ["lonely-1/", "web-1/http"]


def test_without_redis_my_recent_notifications_are_read_from_the_logs(
    web: Client, owner: User, registry: None, serve: dict[str, Any], tmp_path: Path
) -> None:
    now = time.time()
    for name in ("master", "poller"):
        directory = tmp_path / name
        directory.mkdir()
        NaemonNodeFactory.create(name=name, notify_dir=str(directory))
    (tmp_path / "master" / "decisions.log").write_text(
        decision("owner-contact", now - 300, host="web-1", service="http")
        + "\n"
        + decision("someone-else", now - 200)
        + "\n"
        + decision("owner-contact", now - 100, "suppress", host="web-1", service="disk", reason="rule 3")
        + "\n"
    )
    (tmp_path / "poller" / "decisions.log").write_text(
        decision("owner-contact", now - 50, host="lonely-1", service=None, state="DOWN") + "\n"
    )
    web.force_login(owner)

    html = web.get("/").content.decode()
    assert "not linked to a Naemon contact" in html  # logs exist, but no contact yet

    Contact.objects.create(name="owner-contact", user=owner)
    html = web.get("/").content.decode()
    section = html[html.index('id="my-notifications"') :]
    decisions = [chunk.split('"', 1)[0] for chunk in section.split('<tr data-decision="')[1:]]
    assert decisions == ["notify", "suppress", "notify"]  # newest first, only mine
    assert section.index("lonely-1") < section.index("web-1 / disk") < section.index("web-1 / http")
    assert "someone-else" not in section and "rule 3" in section

    NaemonNode.objects.update(notify_dir=str(tmp_path / "missing"))
    assert 'id="my-notifications"' not in web.get("/").content.decode()  # hidden without logs


def test_with_redis_the_page_reads_the_stored_snapshot(
    web: Client, owner: User, registry: None, settings: Settings, redis_url: str
) -> None:
    settings.REDIS_URL = redis_url
    store = redis.Redis.from_url(redis_url)
    try:
        store.delete(overview_store.KEY_SNAPSHOT)
        web.force_login(owner)
        html = web.get("/").content.decode()
        assert 'data-freshness="missing"' in html and "No status snapshot yet" in html
        store.set(overview_store.KEY_SNAPSHOT, json.dumps(make_snapshot(time.time())))
        html = web.get("/").content.decode()
        assert rows(html, "my-problems") == ["lonely-1/", "web-1/http"]
    finally:
        store.delete(overview_store.KEY_SNAPSHOT)
        store.close()


def test_a_node_without_livestatus_is_said_to_be_not_watched(
    web: Client, owner: User, registry: None, serve: dict[str, Any]
) -> None:
    """Its hosts are in no count: the page must not look like all is well there."""
    web.force_login(owner)
    assert "data-unwatched=" not in web.get("/").content.decode()
    serve["snapshot"] = make_snapshot(time.time()) | {"unwatched": ["silent-poller"]}
    overview_store.forget_local()
    html = web.get("/").content.decode()
    assert 'data-unwatched="silent-poller"' in html and "no Livestatus address" in html
