"""The Ansible collection against a live portal: ansible-playbook, ansible-inventory and ansible-doc as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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

# A site moving to the portal: the poller "live" already monitors web-01 from its own config.
# Staff place the team's group on that poller and adopt web-01 (tasks with a staff token);
# everything else is the team's own automation (alice's token, from the environment).
PLAY = """\
    - name: The web team's host group, on the poller that monitors its hosts (staff)
      monitoring.portal.hostgroup:
        name: web-servers
        alias: Web servers
        team: web
        node: live
        api_token: "{staff_token}"
        wait: true

    - name: A web server the poller already monitors, adopted, with its services (staff)
      monitoring.portal.host:
        name: web-01
        adopt: true
        api_token: "{staff_token}"
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


def playbook(
    live_portal: LivePortal,
    name: str,
    tasks: str,
    *args: str,
    user: str = "alice",
    env: dict[str, str] | None = None,
) -> Run:
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
        env=ansible_env(live_portal, user, with_url=False) | (env or {}),
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


def flat(text: str) -> str:
    """Text with its line breaks and runs of white space as single spaces (warnings may be wrapped)."""
    return " ".join(text.split())


def inventory_run(live_portal: LivePortal, name: str, options: str = "") -> subprocess.CompletedProcess[str]:
    """``ansible-inventory --list`` with the plugin and extra configuration ``options``."""
    config = live_portal.workdir / f"{name}.portal.yml"
    config.write_text("plugin: monitoring.portal.portal\n" + options)
    return subprocess.run(
        [tool("ansible-inventory"), "-i", str(config), "--list"],
        env=ansible_env(live_portal),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def inventory_list(live_portal: LivePortal, name: str, options: str = "") -> dict[str, Any]:
    result = inventory_run(live_portal, name, options)
    assert result.returncode == 0, result.stderr
    # Ansible 2.19 marks strings from inventory sources as never to be templated.
    inventory: dict[str, Any] = json.loads(result.stdout, object_hook=lambda d: d.get("__ansible_unsafe", d))
    return inventory


def play(web01_address: str = "127.0.0.1", extra_services: str = "", days: str = "[]") -> str:
    return PLAY.format(
        web01_address=web01_address,
        extra_services=extra_services,
        days=days,
        staff_token="{{ lookup('env', 'PORTAL_STAFF_TOKEN') }}",
    )


def staff(live_portal: LivePortal) -> dict[str, str]:
    """The environment that gives PLAY's staff tasks their token (the others keep alice's)."""
    return {"PORTAL_STAFF_TOKEN": live_portal.tokens["admin"]}


@pytest.fixture(scope="module")
def applied(live_portal: LivePortal) -> Iterator[Run]:
    """The playbook, run once for this module's tests."""
    yield playbook(live_portal, "site", play(), env=staff(live_portal))


def test_ansible_doc_shows_every_module_and_the_inventory(live_portal: LivePortal) -> None:
    env = ansible_env(live_portal)
    modules = {
        "host": "lease_seconds",
        "service": "hostgroup",
        "hostgroup": "team",
        "downtime": "duration",
        "notification_rule": "position",
        "dependency": "master_service",
        "escalation": "first_notification",
        "servicegroup": "alias",
        "contact": "service_notification_commands",
        "contactgroup": "members",
        "command": "free_form_args",
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

    # On the poller that monitors web-01: its team acts there once web-01 was deployed to it.
    downtimes = live_portal.api("GET", "livestatus/downtimes/?host=web-01", user="alice")
    assert [(d["comment"], d["node"]) for d in downtimes.data["results"]] == [
        ("Planned maintenance", "live")
    ], downtimes
    rules = live_portal.api("GET", "preferences/rules/", user="alice").data["results"]
    assert [(r["comment"], r["action"], r["states"], r["channels"]) for r in rules] == [
        ("quiet nights", "suppress", ["WARNING"], ["sms"])
    ]

    deployments = live_portal.deployment_count()
    # adopt is write-only: declared again, it is no change.
    again = playbook(live_portal, "site", play(), env=staff(live_portal))
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
    run = playbook(live_portal, "site-changed", changed, "--check", "--diff", env=staff(live_portal))
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
        services: [{{description: HTTP, templates: [generic-service]}}, {{description: {json.dumps(service)}, templates: [{template}]}}]
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


def test_a_host_a_node_already_monitors_is_refused_unless_staff_adopt_it(live_portal: LivePortal) -> None:
    # legacy-01 is in the poller's own config: the team's automation cannot take it over.
    hosts, deployments = live_portal.host_names(), live_portal.deployment_count()
    task = """\
    - monitoring.portal.host:
        name: legacy-01
        address: 127.0.0.1
        team: web
        templates: [generic-host]
        adopt: {adopt}
        wait: true
      ignore_errors: true
"""
    run = playbook(live_portal, "legacy", task.format(adopt="false") + task.format(adopt="true"))
    assert run.failed == 0 and run.changed == 0 and "ignored=2" in run.output, run.output
    output = flat(run.output)
    refused = "legacy-01/?wait=120 answered 400 (the portal refused the input): name: Node live"
    assert f"{refused} already monitors a host named 'legacy-01' outside the registry" in output, output
    assert "Staff may adopt it with" in output, output
    # adopt from a team member's token: refused as well.
    assert "adopt: Only staff may adopt a host that a node monitors outside the registry." in output, output
    assert live_portal.host_names() == hosts
    assert live_portal.deployment_count() == deployments


def test_a_refused_deployment_fails_the_task_with_the_verifier_output(live_portal: LivePortal) -> None:
    # The core's verifier refuses the next config for a reason the API cannot see (a site file).
    with live_portal.broken_core():
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
        assert "The node still runs its previous config" in run.output, run.output
        assert "has no service notification commands defined" in run.output, run.output
        assert "refused-01" not in live_portal.core_hosts()
        assert live_portal.host("refused-01") is not None  # the message says: stored
    fixed = live_portal.api("PATCH", "registry/hosts/refused-01/?wait=60", {"alias": "deployed at last"})
    assert fixed.status == 200, fixed
    assert fixed.data["deployment_results"][0]["state"] == "confirmed", fixed
    assert "refused-01" in live_portal.core_hosts()


def test_inventory_lists_the_hosts_by_group_and_team(live_portal: LivePortal, applied: Run) -> None:
    assert applied.returncode == 0, applied.output
    inventory = inventory_list(live_portal, "default")
    assert {"web-01", "ci-runner-1"} <= set(inventory["hostgroup_web_servers"]["hosts"])
    assert {"web-01", "ci-runner-1"} <= set(inventory["team_web"]["hosts"])
    assert "portal-seed" in inventory["ungrouped"]["hosts"]
    web = inventory["_meta"]["hostvars"]["web-01"]
    assert (web["ansible_host"], web["portal_var_rack"]) == ("127.0.0.1", "B12")
    # _ANSIBLE_USER is only a portal variable unless the configuration lets it choose the login.
    assert web["portal_var_ansible_user"] == "deploy" and "ansible_user" not in web
    assert web["portal_custom_variables"] == {"_RACK": "B12", "_ANSIBLE_USER": "deploy"}
    assert web["portal_hostgroups"] == ["web-servers"] and web["portal_teams"] == ["web"]
    assert sorted(web["portal_services"]) == ["Disk /var", "HTTP"]

    allowed = inventory_list(live_portal, "login", "connection_variables: [ansible_user]\n")
    assert allowed["_meta"]["hostvars"]["web-01"]["ansible_user"] == "deploy"


def test_custom_variables_never_become_connection_variables(live_portal: LivePortal, applied: Run) -> None:
    # Any member of the team may edit its hosts; none of it may run commands on the controller.
    assert applied.returncode == 0, applied.output
    marker = live_portal.workdir / "pwned"
    hostile = {
        "_ANSIBLE_SSH_COMMON_ARGS": f"-o ProxyCommand=/usr/bin/touch {marker}",
        "_ANSIBLE_PYTHON_INTERPRETER": f"/usr/bin/touch {marker}",
        "_ANSIBLE_BECOME_EXE": f"/usr/bin/touch {marker}",
        "_ANSIBLE_USER": "-oProxyCommand=x",
        "_ANSIBLE_PORT": "2222",
        "_NAME": "spoofed",
    }
    created = live_portal.api(
        "PUT",
        "registry/hosts/evil-01/?wait=60",
        {
            "address": "127.0.0.1",
            "team": "web",
            "templates": ["generic-host"],
            "custom_variables": hostile,
        },
        user="alice",
    )
    assert created.status == 201, created
    inventory = inventory_list(live_portal, "hostile")
    evil = inventory["_meta"]["hostvars"]["evil-01"]
    # No Ansible variable but the address: the custom variables only get the prefix.
    assert [k for k in evil if k.lower().startswith("ansible_")] == ["ansible_host"], evil
    assert evil["portal_var_ansible_ssh_common_args"] == hostile["_ANSIBLE_SSH_COMMON_ARGS"]
    assert evil["portal_var_ansible_python_interpreter"] == hostile["_ANSIBLE_PYTHON_INTERPRETER"]
    assert evil["portal_var_name"] == "spoofed"
    assert evil["portal_custom_variables"] == hostile  # the portal's view, under its own name
    for other in inventory["_meta"]["hostvars"].values():
        assert {k for k in other if k.lower().startswith("ansible_")} <= {"ansible_host"}, other

    # Allowed connection variables still get only plain values: no ssh option through the login.
    # A prefix that looks like the plugin's own does not let a custom variable replace one of them.
    allowed = inventory_run(
        live_portal,
        "allowed",
        "connection_variables: [ansible_user, ANSIBLE_PORT]\ncustom_variable_prefix: portal_\n",
    )
    assert allowed.returncode == 0, allowed.stderr
    evil = json.loads(allowed.stdout, object_hook=lambda d: d.get("__ansible_unsafe", d))["_meta"][
        "hostvars"
    ]["evil-01"]
    assert "ansible_user" not in evil and evil["ansible_port"] == "2222", evil
    assert "ansible_user of host 'evil-01' ignored" in flat(allowed.stderr), allowed.stderr
    assert evil["portal_name"] == "evil-01" and "portal_ansible_python_interpreter" in evil, evil

    # Variables that run commands cannot be allowed, and the prefix cannot be Ansible's.
    for options, message in [
        ("connection_variables: [ansible_ssh_common_args]\n", "runs or chooses commands on the controller"),
        (
            "connection_variables: [ANSIBLE_PYTHON_INTERPRETER]\n",
            "runs or chooses commands on the controller",
        ),
        ("connection_variables: [ansible_become_exe]\n", "runs or chooses commands on the controller"),
        ("custom_variable_prefix: ansible_\n", "must be a variable name"),
        ("custom_variable_prefix: ''\n", "must be a variable name"),
    ]:
        refused = inventory_run(live_portal, "refused", options)
        assert message in flat(refused.stderr), (options, refused.stderr)
        assert "evil-01" not in refused.stdout, (options, refused.stdout)

    # Used for real: a module on that host runs with Ansible's own interpreter, not the registry's.
    config = live_portal.workdir / "hostile.portal.yml"
    ping = subprocess.run(
        [tool("ansible"), "-i", str(config), "evil-01", "-m", "ping", "-c", "local"],
        env=ansible_env(live_portal) | {"ANSIBLE_PYTHON_INTERPRETER": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ping.returncode == 0 and '"ping": "pong"' in ping.stdout, ping.stdout + ping.stderr
    assert not marker.exists()
    removed = live_portal.api("DELETE", "registry/hosts/evil-01/?wait=60")
    assert removed.status == 200, removed


def test_api_token_parameter_and_state_absent(live_portal: LivePortal) -> None:
    # The token comes from the task; the environment's token is a wrong one, so it must not be used.
    no_env_token = {"PORTAL_API_TOKEN": "mpt_not-a-valid-token"}
    task = """\
    - monitoring.portal.host:
        name: gone-01
        state: {state}
        address: 127.0.0.1
        team: web
        templates: [generic-host]
        api_token: {token}
        wait: true
"""
    created = playbook(
        live_portal, "gone", task.format(state="present", token=live_portal.tokens["alice"]), env=no_env_token
    )
    assert created.returncode == 0 and created.changed == 1, created.output
    assert live_portal.host("gone-01") is not None
    assert "gone-01" in live_portal.core_hosts()

    # The parameter wins over the environment: a bad one fails even with a good PORTAL_API_TOKEN.
    refused = playbook(live_portal, "gone-bad-token", task.format(state="absent", token="mpt_wrong"))
    assert refused.failed == 1, refused.output
    assert "answered 401 (the API token was not accepted" in refused.output, refused.output
    assert live_portal.host("gone-01") is not None

    removed = playbook(
        live_portal,
        "gone",
        task.format(state="absent", token=live_portal.tokens["alice"]),
        "--diff",
        env=no_env_token,
    )
    assert removed.returncode == 0 and removed.changed == 1, removed.output
    assert '-    "name": "gone-01"' in removed.output, removed.output  # the diff shows what goes
    assert live_portal.host("gone-01") is None
    # wait: true returned after the core confirmed the removal.
    assert "gone-01" not in live_portal.core_hosts()

    deployments = live_portal.deployment_count()
    again = playbook(
        live_portal, "gone", task.format(state="absent", token=live_portal.tokens["alice"]), env=no_env_token
    )
    assert again.returncode == 0 and again.changed == 0, again.output
    assert live_portal.deployment_count() == deployments


def test_downtime_diff_shows_what_would_be_scheduled_and_removed(
    live_portal: LivePortal, applied: Run
) -> None:
    assert applied.returncode == 0, applied.output
    before = live_portal.api("GET", "livestatus/downtimes/?host=web-01").data["results"]
    assert [d["comment"] for d in before] == ["Planned maintenance"], before
    tasks = """\
    - monitoring.portal.downtime:
        host: web-01
        comment: Reboot window
        duration: 600
    - monitoring.portal.downtime:
        host: web-01
        comment: Planned maintenance
        state: absent
    - monitoring.portal.downtime:
        host: web-01
        comment: No such downtime
        state: absent
"""
    run = playbook(live_portal, "downtime-diff", tasks, "--check", "--diff")
    assert run.returncode == 0 and run.changed == 2, run.output
    assert re.search(r'^\+\s+"comment": "Reboot window"', run.output, re.M), run.output
    assert re.search(r'^\+\s+"duration": 600', run.output, re.M), run.output
    assert re.search(r'^-\s+"comment": "Planned maintenance"', run.output, re.M), run.output
    assert "No such downtime" not in run.output  # unchanged: no diff
    assert live_portal.api("GET", "livestatus/downtimes/?host=web-01").data["results"] == before
