"""Automation parity: the Puppet types and Ansible modules that close the gap between the clients.

Puppet: ``monitoring_notification_rule`` (a user's own rules) and ``monitoring_downtime``
(Livestatus downtimes). Ansible: ``servicegroup``, ``contact``, ``contactgroup``, ``command``.
Each is run as a user runs it against the live portal: the first run creates and the object
reaches the core (or the preferences API), the second changes nothing, a dry run changes
nothing, and an input the API refuses fails with the API's own message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import LivePortal
from tests.integrations.test_ansible import playbook
from tests.integrations.test_puppet import CHANGES, NO_CHANGES, puppet_apply, puppet_dir

__all__ = ["puppet_dir"]  # the fixture, shared with test_puppet.py

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

FAILURES = (4, 6)  # puppet apply --detailed-exitcodes: failures (and changes)

RULE = """\
monitoring_notification_rule {{ 'parity quiet nights':
  action   => 'suppress',
  channels => ['sms'],
  states   => {states},
  start    => '{start}',
  end      => '07:00',
  position => 'first',
}}
"""

DOWNTIME = """\
monitoring_downtime {{ 'parity maintenance':
  ensure   => {ensure},
  host     => 'parity-01',
  duration => 3600,
}}
"""


def own_rules(live_portal: LivePortal) -> list[dict[str, Any]]:
    answer = live_portal.api("GET", "preferences/rules/?user=alice&limit=100", user="alice")
    assert answer.status == 200, answer
    return [
        {k: v for k, v in rule.items() if k not in ("updated_at", "warnings")}
        for rule in answer.data["results"]
    ]


def downtimes(live_portal: LivePortal) -> list[tuple[str, str]]:
    answer = live_portal.api("GET", "livestatus/downtimes/?host=parity-01", user="alice")
    assert answer.status == 200, answer
    return [(d["comment"], d["node"]) for d in answer.data["results"]]


def test_puppet_notification_rule(live_portal: LivePortal, puppet_dir: Path) -> None:
    # A rule of alice's that the manifest does not declare: left alone, and ours goes before it.
    other = live_portal.api(
        "POST", "preferences/rules/", {"action": "notify", "comment": "parity other"}, "alice"
    )
    assert other.status == 201, other

    first = puppet_apply(puppet_dir, "rule", RULE.format(states="['warning']", start="22:00"))
    assert first.returncode == CHANGES, first.output
    rules = own_rules(live_portal)
    assert [r["comment"] for r in rules][:1] == ["parity quiet nights"], rules
    assert "parity other" in [r["comment"] for r in rules]
    mine = rules[0]
    assert (mine["action"], mine["channels"], mine["states"], mine["start"], mine["end"]) == (
        "suppress",
        ["sms"],
        ["WARNING"],
        "22:00",
        "07:00",
    )

    second = puppet_apply(puppet_dir, "rule", RULE.format(states="['WARNING']", start="22:00"))
    assert second.returncode == NO_CHANGES, second.output
    assert own_rules(live_portal) == rules

    noop = puppet_apply(puppet_dir, "rule-noop", RULE.format(states="['CRITICAL']", start="22:00"), "--noop")
    assert noop.returncode == NO_CHANGES, noop.output
    assert "states: current_value" in noop.output and "(noop)" in noop.output, noop.output
    assert own_rules(live_portal) == rules

    bad = puppet_apply(puppet_dir, "rule-bad", RULE.format(states="['CRITICAL']", start="25:00"))
    assert bad.returncode in FAILURES, bad.output
    assert "Monitoring_notification_rule[parity quiet nights]" in bad.output, bad.output
    assert "answered 400 (the portal refused the input): start:" in bad.output, bad.output
    assert own_rules(live_portal) == rules

    gone = puppet_apply(
        puppet_dir, "rule-gone", "monitoring_notification_rule { 'parity quiet nights': ensure => absent }\n"
    )
    assert gone.returncode == CHANGES, gone.output
    assert [r["comment"] for r in own_rules(live_portal)] == [r["comment"] for r in rules[1:]]
    assert live_portal.api("DELETE", f"preferences/rules/{other.data['id']}/", user="alice").status == 204


@pytest.fixture(scope="module")
def adopted_parity_host(live_portal: LivePortal) -> Iterator[None]:
    """parity-01, which the poller ``live`` monitors on its own, adopted by staff for alice's team."""
    group = live_portal.api(
        "PUT", "registry/hostgroups/parity-live/?wait=90", {"team": "web", "node": "live"}
    )
    assert group.status in (200, 201), group
    host = live_portal.api(
        "PUT",
        "registry/hosts/parity-01/?wait=90",
        {
            "address": "127.0.0.1",
            "team": "web",
            "templates": ["generic-host"],
            "hostgroups": ["parity-live"],
            "adopt": True,
        },
    )
    assert host.status == 201, host
    assert {d["node"]: d["state"] for d in host.data["deployment_results"]}.get("live") == "confirmed", host
    yield


def test_puppet_downtime(live_portal: LivePortal, puppet_dir: Path, adopted_parity_host: None) -> None:
    first = puppet_apply(puppet_dir, "downtime", DOWNTIME.format(ensure="present"))
    assert first.returncode == CHANGES, first.output
    # wait => true (the default): the run ended once Livestatus listed it.
    assert downtimes(live_portal) == [("parity maintenance", "live")]

    second = puppet_apply(puppet_dir, "downtime", DOWNTIME.format(ensure="present"))
    assert second.returncode == NO_CHANGES, second.output
    assert downtimes(live_portal) == [("parity maintenance", "live")]

    noop = puppet_apply(puppet_dir, "downtime-noop", DOWNTIME.format(ensure="absent"), "--noop")
    assert noop.returncode == NO_CHANGES, noop.output
    assert "current_value 'present', should be 'absent' (noop)" in noop.output, noop.output
    assert downtimes(live_portal) == [("parity maintenance", "live")]

    bad = puppet_apply(
        puppet_dir,
        "downtime-bad",
        "monitoring_downtime { 'parity backwards': host => 'parity-01', "
        "start => '2030-06-01T23:00:00+00:00', end => '2030-06-01T22:00:00+00:00' }\n",
    )
    assert bad.returncode in FAILURES, bad.output
    assert "Monitoring_downtime[parity backwards]" in bad.output, bad.output
    assert "answered 400 (the portal refused the input): end:" in bad.output, bad.output
    assert downtimes(live_portal) == [("parity maintenance", "live")]

    removed = puppet_apply(puppet_dir, "downtime", DOWNTIME.format(ensure="absent"))
    assert removed.returncode == CHANGES, removed.output
    assert downtimes(live_portal) == []


OBJECTS = """\
    - monitoring.portal.command:
        name: parity-notify
        command_line: /bin/true $CONTACTPAGER$
        channel: sms
        wait: true
    - monitoring.portal.contact:
        name: parity-oncall
        alias: {alias}
        pager: "+49 170 0000000"
        team: web
        host_notification_commands: [parity-notify]
        service_notification_commands: [parity-notify, notify-log]
        wait: true
    - monitoring.portal.contactgroup:
        name: parity-leads
        alias: Parity leads
        members: [parity-oncall]
        wait: true
    - monitoring.portal.servicegroup:
        name: parity-frontends
        alias: Parity front ends
        team: web
        wait: true
"""


def core_objects(live_portal: LivePortal, kind: str) -> dict[str, dict[str, str]]:
    """The running core's objects of one kind (``objects.cache``), by name."""
    text = (live_portal.core.dir / "objects.cache").read_text(errors="replace")
    found = {}
    for block in text.split(f"define {kind} {{")[1:]:
        values = {}
        for line in block.split("}")[0].splitlines():
            key, _, value = line.strip().partition("\t")
            values[key] = value.strip()
        found[values.get(f"{kind}_name", "")] = values
    return found


def portal_objects(live_portal: LivePortal) -> dict[str, Any]:
    paths = (
        "commands/parity-notify",
        "contacts/parity-oncall",
        "contactgroups/parity-leads",
        "servicegroups/parity-frontends",
    )
    return {p: live_portal.api("GET", f"registry/{p}/").data for p in paths}


def test_ansible_staff_objects(live_portal: LivePortal) -> None:
    staff = {"PORTAL_API_TOKEN": live_portal.tokens["admin"]}
    first = playbook(live_portal, "parity", OBJECTS.format(alias="Parity on call"), env=staff)
    assert first.returncode == 0 and first.failed == 0, first.output
    assert first.changed == 4, first.output
    # wait: true: each task returned once the core had confirmed its object.
    # The portal quotes every macro of a rendered command line (a value may hold spaces).
    assert (
        core_objects(live_portal, "command")["parity-notify"]["command_line"] == "/bin/true '$CONTACTPAGER$'"
    )
    contact = core_objects(live_portal, "contact")["parity-oncall"]
    assert contact["pager"] == "+49 170 0000000" and contact["alias"] == "Parity on call", contact
    assert core_objects(live_portal, "contactgroup")["parity-leads"]["members"] == "parity-oncall"
    assert core_objects(live_portal, "servicegroup")["parity-frontends"]["alias"] == "Parity front ends"
    stored, deployments = portal_objects(live_portal), live_portal.deployment_count()

    # Command lists in another order are the same sets: no change, no deployment.
    second = playbook(
        live_portal,
        "parity-again",
        OBJECTS.format(alias="Parity on call").replace(
            "[parity-notify, notify-log]", "[notify-log, parity-notify]"
        ),
        env=staff,
    )
    assert second.returncode == 0 and second.changed == 0, second.output
    assert live_portal.deployment_count() == deployments

    check = playbook(
        live_portal, "parity-check", OBJECTS.format(alias="Renamed"), "--check", "--diff", env=staff
    )
    assert check.returncode == 0 and check.changed == 1, check.output
    assert '-    "alias": "Parity on call",' in check.output and '+    "alias": "Renamed",' in check.output, (
        check.output
    )
    assert portal_objects(live_portal) == stored
    assert live_portal.deployment_count() == deployments

    bad = playbook(
        live_portal,
        "parity-bad",
        """\
    - monitoring.portal.contact:
        name: parity-nobody
        email: nobody@example.org
        host_notification_commands: [no-such-command]
        service_notification_commands: [notify-log]
""",
        env=staff,
    )
    assert bad.failed == 1, bad.output
    assert "answered 400 (the portal refused the input): host_notification_commands:" in bad.output, (
        bad.output
    )
    assert live_portal.api("GET", "registry/contacts/parity-nobody/").status == 404
    assert live_portal.deployment_count() == deployments
