"""The Ansible collection against a live portal: ansible-playbook, ansible-inventory and ansible-doc as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integrations.conftest import COLLECTIONS, LivePortal, tool

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

# The URL comes from module_defaults for the collection's action group, the token from the environment.
HEADER = """\
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/monitoring.portal.portal:
      url: {url}
  tasks:
"""

PLAY = """\
    - name: The web team's host group
      monitoring.portal.hostgroup:
        name: web-servers
        alias: Web servers
        team: web
        wait: true

    - name: A web server with its services
      monitoring.portal.host:
        name: web-01
        address: {web01_address}
        team: web
        templates: [generic-host]
        hostgroups: [web-servers]
        custom_variables:
          _rack: B12
          _ansible_user: deploy
        services:
          - description: HTTP
            templates: [generic-service]
          - description: Disk /var
            templates: [generic-service]
            check_command: check-true
            check_command_args: ["/var", "90%"]
{extra_services}
        wait: true

    - name: A short-lived host
      monitoring.portal.host:
        name: ci-runner-1
        address: 127.0.0.1
        hostgroups: [web-servers]
        templates: [generic-host]
        lease_seconds: 3600
        wait: true

    - name: One more service on it, declared on its own
      monitoring.portal.service:
        host: ci-runner-1
        description: Ping
        templates: [generic-service]
        wait: true

    - name: Maintenance on web-01
      monitoring.portal.downtime:
        host: web-01
        comment: Planned maintenance
        duration: 3600
        wait: true

    - name: My own notification rule
      monitoring.portal.notification_rule:
        comment: quiet nights
        action: suppress
        channels: [sms]
        states: [warning]
        start: "22:00"
        end: "07:00"
        days: {days}
        position: first
"""

RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    """One ansible-playbook run: its exit code, output and PLAY RECAP counts."""

    returncode: int
    output: str
    ok: int
    changed: int
    failed: int


def playbook(live_portal: LivePortal, name: str, tasks: str, *args: str, user: str = "alice") -> Run:
    """Run ``tasks`` in a play on localhost: the URL from module_defaults, the token from PORTAL_API_TOKEN."""
    path = live_portal.workdir / f"{name}.yml"
    path.write_text(HEADER.format(url=live_portal.url) + tasks)
    result = subprocess.run(
        [
            tool("ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(path),
            *args,
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        env=ansible_env(live_portal, user, with_url=False),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    match = RECAP.search(output)
    assert match, f"no PLAY RECAP in:\n{output}"
    ok, changed, _, failed = (int(n) for n in match.groups())
    return Run(result.returncode, output, ok, changed, failed)


def ansible_env(live_portal: LivePortal, user: str = "alice", with_url: bool = True) -> dict[str, str]:
    home = live_portal.workdir / "ansible-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        PORTAL_API_TOKEN=live_portal.tokens[user],
    )
    env.pop("PORTAL_URL", None)
    if with_url:
        env["PORTAL_URL"] = live_portal.url
    return env


def play(web01_address: str = "127.0.0.1", extra_services: str = "", days: str = "[]") -> str:
    return PLAY.format(web01_address=web01_address, extra_services=extra_services, days=days)


@pytest.fixture(scope="module")
def applied(live_portal: LivePortal) -> Iterator[Run]:
    """The playbook, run once for this module's tests."""
    yield playbook(live_portal, "site", play())


def test_ansible_doc_shows_every_module_and_the_inventory(live_portal: LivePortal) -> None:
    env = ansible_env(live_portal)
    modules = {
        "host": "lease_seconds",
        "service": "hostgroup",
        "hostgroup": "team",
        "downtime": "duration",
        "notification_rule": "position",
    }
    for kind, names, expected in [
        ("module", [f"monitoring.portal.{m}" for m in modules], list(modules.values())),
        ("inventory", ["monitoring.portal.portal"], ["hostgroup_prefix", "keyed_groups"]),
    ]:
        result = subprocess.run(
            [tool("ansible-doc"), "-t", kind, *names],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr
        for name in names:
            assert name in result.stdout
        for option in expected:
            assert option in result.stdout
        assert result.stdout.count("EXAMPLES:") == len(names)
        if kind == "module":
            assert result.stdout.count("RETURN VALUES:") == len(names)


def test_playbook_declares_deploys_and_is_idempotent(live_portal: LivePortal, applied: Run) -> None:
    assert applied.returncode == 0 and applied.failed == 0, applied.output
    assert applied.changed == 6, applied.output

    web = live_portal.host("web-01")
    assert web is not None
    assert (web["address"], web["team"], web["hostgroups"]) == ("127.0.0.1", "web", ["web-servers"])
    assert web["custom_variables"] == {"_RACK": "B12", "_ANSIBLE_USER": "deploy"}
    services = {s["description"]: s for s in web["services"]}
    assert sorted(services) == ["Disk /var", "HTTP"]
    assert services["Disk /var"]["check_command_args"] == ["/var", "90%"]
    runner = live_portal.host("ci-runner-1")
    assert runner is not None and runner["lease"] == "active"
    assert [s["description"] for s in runner["services"]] == ["Ping"]

    # In the running core, not only in the database: wait: true returned after the confirmation.
    assert {"web-01", "ci-runner-1", "portal-seed"} <= live_portal.core_hosts()
    assert {
        ("web-01", "HTTP"),
        ("web-01", "Disk /var"),
        ("ci-runner-1", "Ping"),
    } <= live_portal.core_services()

    downtimes = live_portal.api("GET", "livestatus/downtimes/?host=web-01", user="alice")
    assert [d["comment"] for d in downtimes.data["results"]] == ["Planned maintenance"], downtimes
    rules = live_portal.api("GET", "preferences/rules/", user="alice").data["results"]
    assert [(r["comment"], r["action"], r["states"], r["channels"]) for r in rules] == [
        ("quiet nights", "suppress", ["WARNING"], ["sms"])
    ]

    deployments = live_portal.deployment_count()
    again = playbook(live_portal, "site", play())
    assert again.returncode == 0 and again.failed == 0, again.output
    assert again.changed == 0, again.output
    assert live_portal.deployment_count() == deployments
    assert len(live_portal.api("GET", "livestatus/downtimes/?host=web-01").data["results"]) == 1


def test_check_mode_reports_changes_and_writes_nothing(live_portal: LivePortal, applied: Run) -> None:
    assert applied.returncode == 0, applied.output
    before = live_portal.host("web-01")
    rules_before = live_portal.api("GET", "preferences/rules/", user="alice").data
    deployments = live_portal.deployment_count()
    changed = play(
        web01_address="127.0.0.2",
        extra_services="          - description: SSH\n            templates: [generic-service]",
        days="[mon, tue]",
    )
    run = playbook(live_portal, "site-changed", changed, "--check", "--diff")
    assert run.returncode == 0 and run.failed == 0, run.output
    assert run.changed == 2, run.output  # web-01 and the rule; nothing else differs
    assert "127.0.0.2" in run.output and "SSH" in run.output  # the diff says what would change
    assert live_portal.host("web-01") == before
    assert live_portal.api("GET", "preferences/rules/", user="alice").data == rules_before
    assert live_portal.deployment_count() == deployments
    assert ("web-01", "SSH") not in live_portal.core_services()


def test_illegal_names_fail_with_the_api_message_and_change_nothing(live_portal: LivePortal) -> None:
    hosts, deployments = live_portal.host_names(), live_portal.deployment_count()
    tasks = "".join(
        f"""
    - monitoring.portal.host:
        name: {json.dumps(name)}
        address: 127.0.0.1
        team: web
        templates: [generic-host]
        services: [{{description: HTTP}}, {{description: {json.dumps(service)}, templates: [{template}]}}]
        wait: true
      ignore_errors: true
"""
        for name, service, template in [
            ("bad;name", "ok", "generic-service"),
            ("web\n01", "ok", "generic-service"),
            ("web-03", "Disk", "no-such-template"),
        ]
    )
    run = playbook(live_portal, "bad", tasks)
    assert run.failed == 0 and run.changed == 0 and "ignored=3" in run.output, run.output
    assert "bad%3Bname/?wait=120 answered 400" in run.output, run.output
    assert "name contains ';'; not allowed in Naemon object names" in run.output, run.output
    assert "web%0A01/?wait=120 answered 400" in run.output, run.output
    assert "name contains control character U+000A" in run.output, run.output
    # Errors inside the services list name the item.
    assert "services[1].templates: No such template: no-such-template." in run.output, run.output
    assert live_portal.host_names() == hosts
    assert live_portal.deployment_count() == deployments


def test_a_refused_deployment_fails_the_task_with_the_verifier_output(live_portal: LivePortal) -> None:
    # Staff breaks the config in a way only the core's verifier sees: a contact without commands.
    broken = live_portal.api("PUT", "registry/contacts/nobody-to-notify/?wait=60", {"email": "x@example.org"})
    assert broken.status == 409, broken
    try:
        run = playbook(
            live_portal,
            "refused",
            """\
    - monitoring.portal.host:
        name: refused-01
        address: 127.0.0.1
        team: web
        templates: [generic-host]
        wait: true
""",
        )
        assert run.failed == 1, run.output
        assert "deployment" in run.output and "to node core failed" in run.output, run.output
        assert "has no service notification commands defined" in run.output, run.output
        assert "refused-01" not in live_portal.core_hosts()
    finally:
        fixed = live_portal.api("DELETE", "registry/contacts/nobody-to-notify/?wait=60")
        assert fixed.status == 200, fixed
        assert fixed.data["deployment_results"][0]["state"] == "confirmed", fixed
    assert "refused-01" in live_portal.core_hosts()  # stored all along; deployed with the fix


def test_inventory_lists_the_hosts_by_group_and_team(live_portal: LivePortal, applied: Run) -> None:
    assert applied.returncode == 0, applied.output
    config = live_portal.workdir / "inventory.portal.yml"
    config.write_text("plugin: monitoring.portal.portal\n")
    result = subprocess.run(
        [tool("ansible-inventory"), "-i", str(config), "--list"],
        env=ansible_env(live_portal),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Ansible 2.19 marks strings from inventory sources as never to be templated.
    inventory = json.loads(result.stdout, object_hook=lambda d: d.get("__ansible_unsafe", d))
    assert {"web-01", "ci-runner-1"} <= set(inventory["hostgroup_web_servers"]["hosts"])
    assert {"web-01", "ci-runner-1"} <= set(inventory["team_web"]["hosts"])
    assert "portal-seed" in inventory["ungrouped"]["hosts"]
    web = inventory["_meta"]["hostvars"]["web-01"]
    assert (web["ansible_host"], web["rack"], web["ansible_user"]) == ("127.0.0.1", "B12", "deploy")
    assert web["portal_hostgroups"] == ["web-servers"] and web["portal_teams"] == ["web"]
    assert sorted(web["portal_services"]) == ["Disk /var", "HTTP"]
