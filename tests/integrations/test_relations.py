"""Automation parity: the Puppet types for groups, contacts, commands, dependencies and escalations,
and the Ansible modules for dependencies and escalations, against a live portal and Nagios 4.

Each client declares, runs again (no change, no deployment), runs in --noop / check mode
(nothing written), shows an API refusal as the API words it, and the objects reach the core.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integrations.conftest import LivePortal
from tests.integrations.test_ansible import playbook
from tests.integrations.test_puppet import CHANGES, NO_CHANGES, puppet_apply, puppet_dir

pytestmark = [pytest.mark.services, pytest.mark.timeout(600)]

__all__ = ["puppet_dir"]  # the fixture, used here by name

# Dependent/master pairs of their own per client: the two never form a circle together.
HOSTS = {"par-db": "PostgreSQL", "par-web": "HTTP", "ans-db": "PostgreSQL", "ans-web": "HTTP"}


def core_objects(live_portal: LivePortal, kind: str) -> list[dict[str, str]]:
    """The directives of every ``define <kind>`` in the running core's object cache."""
    text = (live_portal.core.dir / "objects.cache").read_text(errors="replace")
    found = []
    for block in text.split(f"define {kind} {{")[1:]:
        lines = [line.strip().split("\t", 1) for line in block.split("}")[0].splitlines()]
        found.append({pair[0]: pair[1].strip() for pair in lines if len(pair) == 2})
    return found


def criteria(dependency: dict[str, str]) -> str:
    """A dependency's notification criteria as the object cache words it (Nagios 4: ..._options)."""
    return dependency.get("notification_failure_options", dependency.get("notification_failure_criteria", ""))


@pytest.fixture(scope="module")
def hosts(live_portal: LivePortal) -> Iterator[None]:
    """Two pairs of hosts of team web, each with a service, on the core."""
    for name, service in HOSTS.items():
        body = {
            "address": "127.0.0.1",
            "team": "web",
            "templates": ["generic-host"],
            "services": [{"description": service, "templates": ["generic-service"]}],
        }
        answer = live_portal.api("PUT", f"registry/hosts/{name}/?wait=90", body)
        assert answer.status == 201, answer
    # A contact of the team: its members may name it in their escalations (staff create it).
    contact = {
        "email": "ans-lead@example.org",
        "team": "web",
        "host_notification_commands": ["notify-log"],
        "service_notification_commands": ["notify-log"],
    }
    assert live_portal.api("PUT", "registry/contacts/ans-lead/?wait=90", contact).status == 201
    yield


PUPPET = """\
Monitoring_command {{ token => '{admin}', wait => false }}
Monitoring_contact {{ token => '{admin}', wait => false }}
Monitoring_contactgroup {{ token => '{admin}', wait => false }}

monitoring_command {{ 'par-notify':
  command_line => '/bin/true $CONTACTNAME$',
  channel      => 'log',
}}
monitoring_contact {{ 'par-lead':
  email                         => 'lead@example.org',
  team                          => 'web',
  host_notification_commands    => ['par-notify'],
  service_notification_commands => ['par-notify'],
}}
monitoring_contactgroup {{ 'par-leads':
  group_alias => 'Team leads',
  members     => ['par-lead'],
}}
monitoring_hostgroup {{ 'par-group': group_alias => 'Parity hosts', team => 'web', wait => false }}
monitoring_servicegroup {{ 'par-services': group_alias => 'Parity services', team => 'web', wait => false }}

monitoring_dependency {{ 'web on db':
  host                          => 'par-web',
  master_host                   => 'par-db',
  notification_failure_criteria => '{criteria}',
}}
monitoring_dependency {{ 'HTTP on PostgreSQL':
  host                          => 'par-web',
  service                       => 'HTTP',
  master_host                   => 'par-db',
  master_service                => 'PostgreSQL',
  notification_failure_criteria => 'w,c',
}}
monitoring_escalation {{ 'db from 2':
  host               => 'par-db',
  first_notification => 2,
  contact_groups     => ['par-leads'],
}}
monitoring_escalation {{ 'PostgreSQL from 3':
  host               => 'par-db',
  service            => 'PostgreSQL',
  first_notification => 3,
  contacts           => ['par-lead'],
}}
"""


def test_puppet_declares_every_kind_idempotently_and_they_reach_the_core(
    live_portal: LivePortal, puppet_dir: Path, hosts: None
) -> None:
    site = PUPPET.format(admin=live_portal.tokens["admin"], criteria="d,u")
    first = puppet_apply(puppet_dir, "parity", site)
    assert first.returncode == CHANGES, first.output
    command = live_portal.api("GET", "registry/commands/par-notify/").data
    assert (command["command_line"], command["channel"]) == ("/bin/true $CONTACTNAME$", "log")
    assert live_portal.api("GET", "registry/contactgroups/par-leads/").data["members"] == ["par-lead"]
    assert live_portal.api("GET", "registry/hostgroups/par-group/").data["team"] == "web"
    assert live_portal.api("GET", "registry/servicegroups/par-services/").data["alias"] == "Parity services"
    # The relations waited for the core (the default): the objects before them are in that config too.
    [dependency] = [d for d in core_objects(live_portal, "hostdependency") if d["host_name"] == "par-db"]
    assert (dependency["dependent_host_name"], criteria(dependency)) == (
        "par-web",
        "d,u",
    )
    [service_dependency] = [
        d for d in core_objects(live_portal, "servicedependency") if d["dependent_host_name"] == "par-web"
    ]
    assert service_dependency["service_description"] == "PostgreSQL", service_dependency
    assert service_dependency["dependent_service_description"] == "HTTP", service_dependency
    [escalation] = [e for e in core_objects(live_portal, "hostescalation") if e["host_name"] == "par-db"]
    assert (escalation["contact_groups"], escalation["first_notification"]) == ("par-leads", "2")
    [service_escalation] = [
        e for e in core_objects(live_portal, "serviceescalation") if e["host_name"] == "par-db"
    ]
    assert (service_escalation["contacts"], service_escalation["first_notification"]) == ("par-lead", "3")

    deployments = live_portal.deployment_count()
    second = puppet_apply(puppet_dir, "parity", site)
    assert second.returncode == NO_CHANGES, second.output
    assert live_portal.deployment_count() == deployments

    changed = PUPPET.format(admin=live_portal.tokens["admin"], criteria="d")
    noop = puppet_apply(puppet_dir, "parity-noop", changed, "--noop")
    assert noop.returncode == NO_CHANGES, noop.output
    assert "current_value 'd,u', should be 'd' (noop)" in noop.output, noop.output
    listed = live_portal.api("GET", "registry/hostdependencies/?host=par-web").data["results"]
    assert [d["notification_failure_criteria"] for d in listed] == ["d,u"]
    assert live_portal.deployment_count() == deployments

    # A change is a PATCH of the object found: still one dependency, now with the new criteria.
    third = puppet_apply(puppet_dir, "parity", changed)
    assert third.returncode == CHANGES, third.output
    listed = live_portal.api("GET", "registry/hostdependencies/?host=par-web").data["results"]
    assert [d["notification_failure_criteria"] for d in listed] == ["d"]
    [dependency] = [d for d in core_objects(live_portal, "hostdependency") if d["host_name"] == "par-db"]
    assert criteria(dependency) == "d"

    removed = puppet_apply(
        puppet_dir,
        "parity-absent",
        "monitoring_escalation { 'db from 2': ensure => absent, host => 'par-db', first_notification => 2 }\n",
    )
    assert removed.returncode == CHANGES, removed.output
    assert live_portal.api("GET", "registry/hostescalations/?host=par-db").data["results"] == []
    assert not [e for e in core_objects(live_portal, "hostescalation") if e["host_name"] == "par-db"]


def test_puppet_shows_the_api_refusal_and_changes_nothing(
    live_portal: LivePortal, puppet_dir: Path, hosts: None
) -> None:
    deployments = live_portal.deployment_count()
    run = puppet_apply(
        puppet_dir,
        "parity-bad",
        "monitoring_escalation { 'nobody': host => 'par-web', first_notification => 1, last_notification => 5 }\n",
    )
    assert run.returncode in (4, 6), run.output  # failures
    assert "Monitoring_escalation[nobody]" in run.output, run.output
    assert (
        "answered 400 (the portal refused the input): contacts: Naemon refuses an escalation "
        "without contacts or contact_groups" in run.output
    ), run.output
    assert live_portal.api("GET", "registry/hostescalations/?host=par-web").data["results"] == []
    assert live_portal.deployment_count() == deployments


ANSIBLE = """\
    - name: ans-web does not notify while ans-db is down
      monitoring.portal.dependency:
        host: ans-web
        master_host: ans-db
        notification_failure_criteria: "{criteria}"
        wait: true
    - name: HTTP does not notify while PostgreSQL is critical
      monitoring.portal.dependency:
        host: ans-web
        service: HTTP
        master_host: ans-db
        master_service: PostgreSQL
        notification_failure_criteria: w,c
        wait: true
    - name: From the second notification about ans-db, ans-lead hears too
      monitoring.portal.escalation:
        host: ans-db
        first_notification: 2
        contacts: [ans-lead]
        wait: true
    - name: From the third about its PostgreSQL
      monitoring.portal.escalation:
        host: ans-db
        service: PostgreSQL
        first_notification: 3
        last_notification: 6
        contacts: [ans-lead]
        wait: true
"""


def test_ansible_declares_dependencies_and_escalations_idempotently(
    live_portal: LivePortal, hosts: None
) -> None:
    first = playbook(live_portal, "relations", ANSIBLE.format(criteria="d,u"))
    assert (first.returncode, first.changed, first.failed) == (0, 4, 0), first.output
    [dependency] = [d for d in core_objects(live_portal, "hostdependency") if d["host_name"] == "ans-db"]
    assert (dependency["dependent_host_name"], criteria(dependency)) == (
        "ans-web",
        "d,u",
    )
    [service_dependency] = [
        d for d in core_objects(live_portal, "servicedependency") if d["dependent_host_name"] == "ans-web"
    ]
    assert service_dependency["dependent_service_description"] == "HTTP", service_dependency
    [escalation] = [e for e in core_objects(live_portal, "hostescalation") if e["host_name"] == "ans-db"]
    assert (escalation["contacts"], escalation["first_notification"]) == ("ans-lead", "2")
    [service_escalation] = [
        e for e in core_objects(live_portal, "serviceescalation") if e["host_name"] == "ans-db"
    ]
    assert (service_escalation["first_notification"], service_escalation["last_notification"]) == ("3", "6")

    deployments = live_portal.deployment_count()
    second = playbook(live_portal, "relations", ANSIBLE.format(criteria="d,u"))
    assert (second.returncode, second.changed) == (0, 0), second.output
    assert live_portal.deployment_count() == deployments

    check = playbook(live_portal, "relations-check", ANSIBLE.format(criteria="d"), "--check", "--diff")
    assert (check.returncode, check.changed) == (0, 1), check.output
    assert '"notification_failure_criteria": "d"' in check.output, check.output
    listed = live_portal.api("GET", "registry/hostdependencies/?host=ans-web").data["results"]
    assert [d["notification_failure_criteria"] for d in listed] == ["d,u"]
    assert live_portal.deployment_count() == deployments


def test_ansible_shows_the_api_refusal_and_changes_nothing(live_portal: LivePortal, hosts: None) -> None:
    deployments = live_portal.deployment_count()
    run = playbook(
        live_portal,
        "relations-bad",
        """\
    - monitoring.portal.dependency:
        host: ans-db
        master_host: ans-db
""",
    )
    assert run.failed == 1, run.output
    assert "answered 400 (the portal refused the input): master_host: An object cannot depend on itself." in (
        run.output
    ), run.output
    assert live_portal.api("GET", "registry/hostdependencies/?host=ans-db").data["results"] == []
    assert live_portal.deployment_count() == deployments
