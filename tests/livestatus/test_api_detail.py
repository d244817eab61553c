"""The status API's one-object endpoints against a real Icinga 2.

A host or service with what its page shows (history, comments, downtimes) and what the caller
may do to it. The lists, actions and their record are in test_api.py.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from livestatus import detail, wall_kiosk
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, commands
from registry.choices import NodeRole
from registry.models import Host, NaemonNode
from tests.livestatus.fixtures import has_state, wait_for
from tests.services.icinga import Host as IcingaHost
from tests.services.icinga import IcingaServer, Service

# The status tests' fixtures (their own Icinga 2, nodes, owners); see that module.
pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.services


ApiFor = Callable[[User | None], APIClient]


# The detail tests run their own small Icinga 2: they add comments and downtimes, which the
# list tests (test_api.py) must not see (they count downtimes and acknowledgements exactly).

SLASH_HOST = "rack/slot-1"
DETAIL_HOSTS = (
    IcingaHost("web-01", services=(Service("detail-me"), Service("Disk /var"), Service("quiet"))),
    IcingaHost("unowned-01", services=(Service("disk"),)),
    IcingaHost(SLASH_HOST, services=(Service("disk"),)),
)
#: The history of detail-me, oldest first; its long output goes with the last.
DETAIL_STATES = ((2, "CRITICAL - detail first"), (1, "WARNING - detail second\\nlong one\\nlong two"))
DETAIL_URL = "/api/v1/livestatus/services/web-01/detail-me/"
HOST_URL = "/api/v1/livestatus/hosts/web-01/"
ALL_CAN = {
    "acknowledge": False,  # acknowledged already
    "remove_acknowledgement": True,
    "downtime": True,
    "delete_downtime": True,
    "recheck": True,
    "comment": True,
    # Passive objects of this Icinga 2: notifications on, active checks off; each offers the other.
    "enable_notifications": False,
    "disable_notifications": True,
    "enable_checks": True,
    "disable_checks": False,
}


def _host_state(client: LivestatusClient, host: str, state: int) -> Callable[[], bool]:
    def probe() -> bool:
        rows = client.query(
            LivestatusQuery("hosts").select("state", "has_been_checked").where(Filter("name", "=", host))
        )
        return bool(rows) and bool(rows[0]["has_been_checked"]) and rows[0]["state"] == state

    return probe


def _has_rows(client: LivestatusClient, table: str, host: str, count: int) -> Callable[[], bool]:
    def probe() -> bool:
        query = LivestatusQuery(table).select("id").where(Filter("host_name", "=", host))
        return len(client.query(query)) >= count

    return probe


@pytest.fixture(scope="module")
def detail_icinga(icinga_binary: str) -> Iterator[IcingaServer]:
    """An Icinga 2 whose web-01 and web-01/detail-me have history, comments, downtimes, an ack."""
    server = IcingaServer(binary=icinga_binary, name="detail", hosts=DETAIL_HOSTS)
    server.start()
    try:
        with LivestatusClient(server.unix_address, timeout=10, retry_window=5) as ls:
            for state, output in ((1, "PING CRITICAL - detail host down"), (0, "PING OK - detail host up")):
                ls.command(commands.process_host_check_result("web-01", state, output))
                wait_for(_host_state(ls, "web-01", state), f"web-01 state {state}")
            for host in ("unowned-01", SLASH_HOST):
                ls.command(commands.process_host_check_result(host, 0, "PING OK"))
            for state, output in DETAIL_STATES:
                ls.command(commands.process_service_check_result("web-01", "detail-me", state, output))
                wait_for(has_state(ls, "web-01", "detail-me", state), f"detail-me state {state}")
            ls.command(commands.process_service_check_result("web-01", "Disk /var", 0, "DISK OK - /var"))
            ls.command(commands.process_service_check_result("web-01", "quiet", 2, "CRITICAL - quiet"))
            ls.command(commands.process_service_check_result(SLASH_HOST, "disk", 0, "DISK OK - slot"))
            ls.command(commands.add_host_comment("web-01", "host note", author="fixture", persistent=True))
            ls.command(
                commands.add_service_comment(
                    "web-01", "detail-me", "service note; with a semicolon", author="fixture", persistent=True
                )
            )
            ls.command(
                commands.acknowledge_service(
                    "web-01", "detail-me", "on it", author="fixture", notify=False, persistent=True
                )
            )
            now = int(time.time())
            ls.command(
                commands.schedule_service_downtime(
                    "web-01", "detail-me", now - 60, now + 3600, "service maintenance", author="fixture"
                )
            )
            ls.command(
                commands.schedule_host_downtime(
                    "web-01", now + 7200, now + 10800, "host maintenance", author="fixture"
                )
            )
            for table in ("comments", "downtimes"):
                wait_for(_has_rows(ls, table, "web-01", 2), f"the fixture's {table}")
            wait_for(has_state(ls, SLASH_HOST, "disk", 0), "rack/slot-1 disk checked")
        yield server
    finally:
        server.stop()


@pytest.fixture
def detail_node(db: None, detail_icinga: IcingaServer, fresh_clients: None) -> NaemonNode:
    return NaemonNode.objects.create(
        name="master",
        role=NodeRole.MASTER,
        livestatus=detail_icinga.unix_address,
        config_dir="/var/lib/portal-test/detail/portal.d",
    )


@pytest.fixture
def query_spy(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every request any LivestatusClient sends over a query connection (they are still sent)."""
    sent: list[bytes] = []
    original = LivestatusClient._request

    def spy(self: LivestatusClient, data: bytes) -> bytearray:
        sent.append(data)
        return original(self, data)

    monkeypatch.setattr(LivestatusClient, "_request", spy)
    return sent


def detail_of(api: APIClient, url: str, **query: Any) -> dict[str, Any]:
    response = api.get(url, query)
    assert response.status_code == 200, response.content
    return dict(response.json())


def _with_history(api: APIClient, url: str, outputs: list[str]) -> dict[str, Any]:
    """The detail once the node's log table shows these outputs (the compat log is written lazily)."""

    def probe() -> dict[str, Any] | None:
        body = detail_of(api, url)
        found = [row["output"] for row in body["history"] or []]
        return body if all(output in found for output in outputs) else None

    return dict(wait_for(probe, f"history of {url}"))


def test_service_detail_shows_what_the_page_shows(
    api_client_for: ApiFor, owner: User, detail_node: NaemonNode, owned: dict[str, Host]
) -> None:
    api = api_client_for(owner)
    body = _with_history(api, DETAIL_URL, ["CRITICAL - detail first", "WARNING - detail second"])
    assert body["kind"] == "service" and body["host"] == "web-01" and body["service"] == "detail-me"
    assert body["node"] == "master" and body["nodes"] == ["master"] and body["unreachable"] == []
    assert body["state"] == 1 and body["state_label"] == "WARNING" and body["hard"] is True
    assert body["output"] == "WARNING - detail second"
    assert body["long_output"] == "long one\nlong two"
    last_check = datetime.fromisoformat(body["last_check"])
    changed = datetime.fromisoformat(body["last_state_change"])
    assert changed <= last_check <= datetime.now(UTC)
    assert 0 <= body["duration_seconds"] <= (datetime.now(UTC) - changed).total_seconds() + 1
    assert body["acknowledged"] is True and body["in_downtime"] is True
    comments = {c["comment"]: c for c in body["comments"]}
    assert comments["service note; with a semicolon"]["author"] == "fixture"
    assert comments["service note; with a semicolon"]["entry_type"] == "comment"
    assert "host note" not in comments  # the host's own comment is on the host
    [downtime] = body["downtimes"]
    assert downtime["comment"] == "service maintenance" and downtime["fixed"] is True
    assert downtime["node"] == "master" and downtime["id"] > 0
    # Newest first: the WARNING came after the CRITICAL.
    outputs = [row["output"] for row in body["history"]]
    assert outputs.index("WARNING - detail second") < outputs.index("CRITICAL - detail first")
    times = [row["time"] for row in body["history"]]
    assert times == sorted(times, reverse=True)
    assert all(row["type"].startswith("SERVICE") for row in body["history"])
    assert body["history_error"] == "" and body["services"] == []
    assert body["can"] == ALL_CAN and body["denial"] == ""

    # The same object through the query string, and a history of one row: the newest.
    same = detail_of(api, "/api/v1/livestatus/object/", host="web-01", service="detail-me", history_limit=1)
    assert same["output"] == body["output"] and same["downtimes"] == body["downtimes"]
    assert [row["output"] for row in same["history"]] == [body["history"][0]["output"]]


def test_host_detail(
    api_client_for: ApiFor, owner: User, detail_node: NaemonNode, owned: dict[str, Host]
) -> None:
    api = api_client_for(owner)
    body = detail_of(api, HOST_URL)
    assert body["kind"] == "host" and body["host"] == "web-01" and body["service"] == ""
    assert body["state_label"] == "UP" and body["output"] == "PING OK - detail host up"
    assert body["in_downtime"] is False  # its downtime starts in two hours
    assert [d["comment"] for d in body["downtimes"]] == ["host maintenance"]
    assert "host note" in {c["comment"] for c in body["comments"]}
    assert "service note; with a semicolon" not in {c["comment"] for c in body["comments"]}
    # Icinga 2's log table leaves host_name empty on HOST ALERT lines, so a host's history is
    # empty there (Naemon fills it); what the table gives must still be this host's only.
    assert body["history"] is not None and body["history_error"] == ""
    assert all(row["type"].startswith("HOST") for row in body["history"])
    services = {row["service"]: row for row in body["services"]}
    assert set(services) == {"detail-me", "Disk /var", "quiet"}
    assert services["quiet"]["state_label"] == "CRITICAL"
    # An UP host that is not acknowledged: nothing to acknowledge or remove.
    assert body["can"] == ALL_CAN | {"remove_acknowledgement": False}


def test_names_with_spaces_and_slashes(
    api_client_for: ApiFor, owner: User, detail_node: NaemonNode, owned: dict[str, Host]
) -> None:
    api = api_client_for(owner)
    body = detail_of(api, "/api/v1/livestatus/services/web-01/" + quote("Disk /var") + "/")
    assert body["service"] == "Disk /var" and body["output"] == "DISK OK - /var"
    # A host name with '/' does not fit the path: the query string takes any name.
    body = detail_of(api, "/api/v1/livestatus/object/", host=SLASH_HOST)
    assert body["host"] == SLASH_HOST and [row["service"] for row in body["services"]] == ["disk"]
    body = detail_of(api, "/api/v1/livestatus/object/", host=SLASH_HOST, service="disk")
    assert body["output"] == "DISK OK - slot"


def test_history_limit(api_client_for: ApiFor, owner: User, detail_node: NaemonNode) -> None:
    api = api_client_for(owner)
    full = _with_history(api, DETAIL_URL, ["CRITICAL - detail first", "WARNING - detail second"])
    assert len(full["history"]) >= 2
    assert detail_of(api, DETAIL_URL, history_limit=1)["history"] == full["history"][:1]
    assert detail_of(api, DETAIL_URL, history_limit=0)["history"] == []
    assert detail_of(api, DETAIL_URL, history_limit=detail.HISTORY_ROWS)["history"] == full["history"]


def test_unknown_object_is_a_404(api_client_for: ApiFor, owner: User, detail_node: NaemonNode) -> None:
    api = api_client_for(owner)
    for url in (
        "/api/v1/livestatus/hosts/nowhere-01/",
        "/api/v1/livestatus/services/web-01/no-such-service/",
        "/api/v1/livestatus/services/nowhere-01/detail-me/",
        "/api/v1/livestatus/object/?host=nowhere-01",
    ):
        response = api.get(url)
        assert response.status_code == 404, url
        assert (
            response.json()["unreachable"] == []
            and "No node that answered knows" in response.json()["detail"]
        )


def test_a_dead_node_is_listed_and_the_rest_answers(
    api_client_for: ApiFor, owner: User, detail_node: NaemonNode, dead_node: NaemonNode
) -> None:
    api = api_client_for(owner)
    for url in (DETAIL_URL, HOST_URL):
        body = detail_of(api, url)
        assert body["node"] == "master" and body["nodes"] == ["master"]
        assert [u["node"] for u in body["unreachable"]] == ["dead-poller"]
        assert "Connection refused" in body["unreachable"][0]["error"]
    # Unknown to the node that answered, and perhaps known to the dead one: 404, and why.
    response = api.get("/api/v1/livestatus/hosts/nowhere-01/")
    assert response.status_code == 404
    assert [u["node"] for u in response.json()["unreachable"]] == ["dead-poller"]
    # Only the answering node, when asked for it.
    assert detail_of(api, DETAIL_URL, node="master")["unreachable"] == []


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/livestatus/hosts/web-01%0ACOMMAND%20[1]%20SHUTDOWN_PROCESS/", "host"),
        ("/api/v1/livestatus/hosts/web-01%3Bx/", "host"),
        ("/api/v1/livestatus/services/web-01/detail-me%0AFilter:%20state%20=%200/", "service"),
        ("/api/v1/livestatus/services/web-01/detail-me%3B1%3B1/", "service"),
        ("/api/v1/livestatus/services/web-01%0D/detail-me/", "host"),
        ("/api/v1/livestatus/object/?host=web-01%0ACOMMAND%20[1]%20SHUTDOWN_PROCESS", "host"),
        ("/api/v1/livestatus/object/?host=web-01&service=a%3Bb", "service"),
        ("/api/v1/livestatus/object/?service=detail-me", "host"),
        (DETAIL_URL + "?history_limit=501", "history_limit"),
        (DETAIL_URL + "?history_limit=-1", "history_limit"),
        (DETAIL_URL + "?history_limit=many", "history_limit"),
        (DETAIL_URL + "?node=nowhere", "node"),
        (DETAIL_URL + "?host=db-01", "host"),  # the path names the object
        (DETAIL_URL + "?histroy_limit=1", "histroy_limit"),
    ],
)
def test_hostile_names_and_bad_options_are_a_400_and_ask_nothing(
    api_client_for: ApiFor,
    staff: User,
    detail_node: NaemonNode,
    query_spy: list[bytes],
    command_spy: list[str],
    url: str,
    field: str,
) -> None:
    response = api_client_for(staff).get(url)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert query_spy == [] and command_spy == []


@pytest.mark.parametrize("url", [HOST_URL, DETAIL_URL, "/api/v1/livestatus/object/?host=web-01"])
def test_detail_access(
    api_client_for: ApiFor,
    owner: User,
    teammate: User,
    outsider: User,
    staff: User,
    detail_node: NaemonNode,
    owned: dict[str, Host],
    url: str,
) -> None:
    """Every logged-in user may read; the owning team and staff may act; nobody else gets in."""
    anonymous = api_client_for(None).get(url)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Bearer"
    can = {}
    for user in (owner, teammate, outsider, staff):
        body = detail_of(api_client_for(user), url)
        assert body["host"] == "web-01"
        can[user.username] = body["can"]
        if user is outsider:
            assert body["denial"] == "web-01 is not owned by one of your teams."
        else:
            assert body["denial"] == ""
    assert can["owner"] == can["teammate"] == can["staff"]
    assert any(can["owner"].values()) and can["owner"]["downtime"] and can["owner"]["recheck"]
    assert not any(can["outsider"].values())

    # A logged-in browser reads the same through its session.
    browser = APIClient()
    browser.force_login(owner)
    assert browser.get(url).json()["can"] == can["owner"]

    # A kiosk token shows the wall and nothing else: not as a parameter, not as a bearer token.
    token = wall_kiosk.make_token("control-room-1")
    as_param = APIClient().get(url + ("&" if "?" in url else "?") + urlencode({"kiosk": token}))
    assert as_param.status_code == 401
    as_bearer = APIClient()
    as_bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert as_bearer.get(url).status_code == 401


def test_only_staff_may_act_on_an_object_outside_the_registry(
    api_client_for: ApiFor, owner: User, staff: User, detail_node: NaemonNode, owned: dict[str, Host]
) -> None:
    url = "/api/v1/livestatus/hosts/unowned-01/"
    body = detail_of(api_client_for(owner), url)
    assert not any(body["can"].values())
    assert body["denial"] == "unowned-01 is not in the registry: only staff and operators may act on it."
    staff_can = detail_of(api_client_for(staff), url)["can"]
    assert staff_can["recheck"] and staff_can["downtime"] and not staff_can["delete_downtime"]


def test_the_detail_page_links_to_its_api(
    owner: User, detail_node: NaemonNode, owned: dict[str, Host], api_client_for: ApiFor
) -> None:
    browser = Client()
    browser.force_login(owner)
    for page, api_url in (
        ("/status/service/web-01/detail-me/", DETAIL_URL),
        ("/status/host/web-01/", HOST_URL),
        ("/status/service/web-01/Disk%20/var/", "/api/v1/livestatus/services/web-01/Disk%20/var/"),
        (
            f"/status/object/?host={quote(SLASH_HOST, safe='')}",
            f"/api/v1/livestatus/object/?host={quote(SLASH_HOST, safe='')}",
        ),
    ):
        response = browser.get(page)
        assert response.status_code == 200, page
        match = re.search(r'id="api-link"[^>]*href="([^"]+)"', response.content.decode())
        assert match, page
        link = html.unescape(match.group(1))
        assert link == api_url, page
        # The page and the API show the same object.
        assert browser.get(link).json()["node"] == "master"
