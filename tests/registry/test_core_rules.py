"""What the core refuses, the API refuses at write time: one bad object would break every later deploy.

Each deploy renders the node's whole state, so an object ``nagios4 -v`` refuses (a host without
max_check_attempts, a service without a check command, a contact without notification
commands, a time period day Naemon cannot parse) would fail every later deploy on that node,
for everybody. The directives are resolved through the template ``use`` chain; the rules were
found with ``nagios4 -v`` (errors only: warnings do not stop a deploy), and the last test
proves them against the real core. Also: ETags do not depend on the Host header.
"""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import (
    Command,
    Contact,
    Host,
    HostTemplate,
    NaemonNode,
    Service,
    ServiceTemplate,
    TimePeriod,
)
from registry.state import render_node
from tests.doubles import DeployRecorder
from tests.factories import HostFactory
from tests.scenarios import Site
from tests.services.nagios import VerifyDir

API = "/api/v1/registry"
# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deploys")]


def state() -> list[Any]:
    models: list[Any] = [Host, Service, Contact, HostTemplate, ServiceTemplate, TimePeriod, Command]
    models += [Contact.host_notification_commands.through, HostTemplate.parents.through]
    return [list(model.objects.values().order_by("pk")) for model in models]


def refused(response: Any, field: str, words: str) -> None:
    assert response.status_code == 400, response.content
    messages = " ".join(response.json()[field])
    assert words in messages, messages


# --- hosts and services ---------------------------------------------------------------------


def test_a_host_without_max_check_attempts_is_refused(api: Any, site: Site, deploys: DeployRecorder) -> None:
    before = state()
    response = api.put(f"{API}/hosts/web02/", {"team": "web", "hostgroups": ["web"]}, format="json")
    refused(response, "max_check_attempts", "Naemon refuses a host without max_check_attempts")
    # A template that does not set it either does not help.
    response = api.put(f"{API}/hosts/web02/", {"team": "web", "templates": ["linux-host"]}, format="json")
    refused(response, "max_check_attempts", "set it here or in one of its templates")
    assert state() == before and deploys.calls == []
    # Set on the host, or inherited (generic-host sets it; linux-host -> generic-host too):
    assert (
        api.put(f"{API}/hosts/a/", {"team": "web", "max_check_attempts": 2}, format="json").status_code == 202
    )
    assert (
        api.put(f"{API}/hosts/b/", {"team": "web", "templates": ["generic-host"]}, format="json").status_code
        == 202
    )
    api.put(f"{API}/hosttemplates/linux-host/", {"templates": ["generic-host"]}, format="json")
    assert (
        api.put(f"{API}/hosts/c/", {"team": "web", "templates": ["linux-host"]}, format="json").status_code
        == 202
    )


def test_max_check_attempts_zero_is_refused(api: Any, site: Site) -> None:
    response = api.patch(f"{API}/hosts/web01/", {"max_check_attempts": 0}, format="json")
    refused(response, "max_check_attempts", "at least 1")
    response = api.patch(f"{API}/hosts/web01/services/HTTP/", {"retry_interval": 0}, format="json")
    refused(response, "retry_interval", "at least 1")


def test_a_service_without_a_check_command_is_refused(api: Any, site: Site) -> None:
    before = state()
    response = api.put(f"{API}/hosts/db01/services/X/", {"templates": ["generic-service"]}, format="json")
    refused(response, "check_command", "Naemon refuses a service without check_command")
    response = api.put(f"{API}/hosts/db01/services/X/", {"check_command": "check_http"}, format="json")
    refused(response, "max_check_attempts", "Naemon refuses a service without max_check_attempts")
    # Embedded in a host, the item is checked too.
    body = {
        "team": "db",
        "hostgroups": ["db"],
        "templates": ["generic-host"],
        "services": [{"description": "X"}],
    }
    response = api.put(f"{API}/hosts/db01/", body, format="json")
    assert response.status_code == 400 and "services" in response.json(), response.content
    assert state() == before


def test_patch_resolves_what_is_stored(api: Any, site: Site) -> None:
    # web01 inherits max_check_attempts from generic-host: dropping the template is refused ...
    refused(
        api.patch(f"{API}/hosts/web01/", {"templates": []}, format="json"),
        "max_check_attempts",
        "Naemon refuses a host without max_check_attempts",
    )
    # ... unless the host sets it itself.
    response = api.patch(f"{API}/hosts/web01/", {"templates": [], "max_check_attempts": 5}, format="json")
    assert response.status_code == 202, response.content
    assert api.patch(f"{API}/hosts/web01/", {"alias": "still fine"}, format="json").status_code == 202


def test_a_template_change_that_would_break_its_users_is_refused(api: Any, site: Site) -> None:
    before = state()
    response = api.patch(f"{API}/hosttemplates/generic-host/", {"max_check_attempts": None}, format="json")
    refused(response, "max_check_attempts", "db01, web01 would be left without max_check_attempts")
    response = api.patch(
        f"{API}/servicetemplates/generic-service/", {"max_check_attempts": None}, format="json"
    )
    refused(response, "max_check_attempts", "web01/HTTP")
    assert state() == before
    # Through a chain: linux-host -> generic-host; a host that only uses linux-host.
    assert (
        api.put(
            f"{API}/hosttemplates/linux-host/", {"templates": ["generic-host"]}, format="json"
        ).status_code
        == 202
    )
    HostFactory.create(name="chained", templates=[site.linux_host])
    refused(
        api.put(f"{API}/hosttemplates/linux-host/", {"templates": []}, format="json"),
        "max_check_attempts",
        "chained would be left without",
    )
    # Hosts that set it themselves do not stop the change.
    Host.objects.update(max_check_attempts=4)
    response = api.patch(f"{API}/hosttemplates/generic-host/", {"max_check_attempts": None}, format="json")
    assert response.status_code == 202, response.content


# --- contacts and commands ------------------------------------------------------------------


def test_a_user_cannot_strip_their_own_contact_of_notification_commands(
    api_client_for: Any, owner: Any, site: Site
) -> None:
    Contact.objects.filter(name="oncall").update(user=owner)
    client = api_client_for(owner)
    before = state()
    for key in ("host_notification_commands", "service_notification_commands"):
        refused(
            client.patch(f"{API}/contacts/oncall/", {key: []}, format="json"),
            key,
            f"Naemon refuses a contact without {key}",
        )
    assert state() == before
    assert (
        client.patch(f"{API}/contacts/oncall/", {"pager": "+49 170 1234"}, format="json").status_code == 202
    )


def test_a_new_contact_needs_notification_commands(api: Any, site: Site) -> None:
    response = api.put(f"{API}/contacts/nobody-to-notify/", {"email": "x@example.org"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"host_notification_commands", "service_notification_commands"}
    assert not Contact.objects.filter(name="nobody-to-notify").exists()


def test_deleting_a_contacts_only_notification_command_is_refused(api: Any, site: Site) -> None:
    response = api.delete(f"{API}/commands/notify-true/")
    assert response.status_code == 409, response.content
    assert "only notification command of contact(s) oncall" in response.json()["detail"]
    assert Command.objects.filter(name="notify-true").exists()
    other = Command.objects.create(name="notify-other", command_line="/bin/true")
    Contact.objects.get(name="oncall").host_notification_commands.add(other)
    Contact.objects.get(name="oncall").service_notification_commands.add(other)
    assert api.delete(f"{API}/commands/notify-true/").status_code == 202


# --- time periods ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranges", "words"),
    [
        ({"register": "0"}, "not a weekday or date"),
        ({"monday": "nonsense"}, "must be time ranges like"),
        ({"mon": "09:00-17:00"}, "not a weekday or date"),
        ({"monday": "09:00-17:00 "}, "white space"),
    ],
)
def test_time_periods_naemon_cannot_parse_are_refused(
    api: Any, site: Site, ranges: dict[str, str], words: str
) -> None:
    refused(api.put(f"{API}/timeperiods/workhours/", {"ranges": ranges}, format="json"), "ranges", words)
    assert not TimePeriod.objects.filter(name="workhours").exists()


def test_time_period_days_and_dates_naemon_reads_are_accepted(api: Any, site: Site) -> None:
    ranges = {
        "monday": "09:00-17:00,18:00-20:00",
        "2026-12-24": "00:00-24:00",
        "day 1": "00:00-12:00",
        "july 4": "00:00-24:00",
        "monday -1 may": "00:00-24:00",
        "2026-01-01 - 2026-01-05": "08:00-09:00",
    }
    assert api.put(f"{API}/timeperiods/workhours/", {"ranges": ranges}, format="json").status_code == 202


# --- ETags ----------------------------------------------------------------------------------


def test_the_etag_does_not_depend_on_the_host_header(api: Any, site: Site, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "portal.example.org", "10.0.0.5"]
    one = api.get(f"{API}/hosts/web01/", HTTP_HOST="portal.example.org")
    two = api.get(f"{API}/hosts/web01/", HTTP_HOST="10.0.0.5", secure=True)
    assert one.json()["url"] != two.json()["url"], "the links differ ..."
    assert one["ETag"] == two["ETag"], "... the ETag does not"
    # A write made through one name is not refused as stale through the other.
    response = api.patch(
        f"{API}/hosts/web01/", {"alias": "x"}, format="json", HTTP_HOST="10.0.0.5", HTTP_IF_MATCH=one["ETag"]
    )
    assert response.status_code == 202, response.content
    assert response["ETag"] == api.get(f"{API}/hosts/web01/", HTTP_HOST="portal.example.org")["ETag"]
    assert response["ETag"] != one["ETag"]


# --- against the core -----------------------------------------------------------------------


def test_what_the_api_accepts_the_core_accepts(api: Any, site: Site, verify_dir: VerifyDir) -> None:
    """The smallest objects the rules let through verify; the Site itself is a valid config."""
    assert api.put(f"{API}/hosts/min/", {"max_check_attempts": 1}, format="json").status_code == 202
    body = {"check_command": "check_http", "max_check_attempts": 1}
    assert api.put(f"{API}/hosts/min/services/S/", body, format="json").status_code == 202
    node = NaemonNode.objects.get(name="master1")
    result = verify_dir.check(render_node(node).files)
    assert result.returncode == 0, result.output
    assert "Total Errors:   0" in result.output


@pytest.mark.parametrize(
    ("path", "name", "body"),
    [
        ("hosts", "portal-placeholder", {"address": "192.0.2.1", "max_check_attempts": 3}),
        ("hosts", "portal-placeholder-2", {"address": "192.0.2.1", "max_check_attempts": 3}),
        ("commands", "portal-placeholder", {"command_line": "/bin/true"}),
        ("commands", "notify-filter-host__mail", {"command_line": "/bin/true"}),
    ],
)
def test_names_of_the_portals_own_objects_are_refused(api: Any, path: str, name: str, body: dict) -> None:
    """The renderer defines these itself: a user's object of that name would be a duplicate."""
    before = state()
    refused(api.put(f"{API}/{path}/{name}/", body, format="json"), "name", "are the portal's own")
    assert state() == before
