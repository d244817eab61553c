"""The Puppet module against a live portal: ``puppet apply --detailed-exitcodes`` as a user runs it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integrations.conftest import PUPPET_MODULES, LivePortal, tool

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

# --detailed-exitcodes: 0 nothing changed, 2 changes, 4 failures, 6 changes and failures.
NO_CHANGES, CHANGES = 0, 2

MANIFEST = """\
monitoring_host {{ 'pup-01':
  ensure           => present,
  address          => '{address}',
  host_alias       => 'Puppet-managed database',
  team             => 'web',
  templates        => ['generic-host'],
  parents          => [],
  custom_variables => {{ '_role' => 'db' }},
  lease_seconds    => 3600,
}}

monitoring_service {{ 'pup-01/Disk /srv':
  templates          => ['generic-service'],
  check_command      => 'check-true',
  check_command_args => {args},
}}
"""


@dataclass
class Apply:
    returncode: int
    output: str


@pytest.fixture(scope="module")
def puppet_dir(live_portal: LivePortal) -> Iterator[Path]:
    """Puppet's own directories (confdir with the portal's config file, vardir, ...) under var/test."""
    base = live_portal.workdir / "puppet"
    for sub in ("conf", "code", "var", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    # The config file is one of the three ways to reach the portal (with url/token and the env).
    (base / "conf" / "monitoring_portal.yaml").write_text(
        f"url: {live_portal.url}\ntoken: {live_portal.tokens['alice']}\n"
    )
    yield base


def puppet_apply(
    puppet_dir: Path, name: str, manifest: str, *args: str, env: dict[str, str] | None = None
) -> Apply:
    path = puppet_dir / f"{name}.pp"
    path.write_text(manifest)
    result = subprocess.run(
        [
            tool("puppet"), "apply", "--detailed-exitcodes", "--color=false",
            "--modulepath", str(PUPPET_MODULES),
            *(f"--{d}dir={puppet_dir / d}" for d in ("conf", "code", "var", "log")),
            str(path), *args,
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        | {"HOME": str(puppet_dir)}
        | (env or {}),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    return Apply(result.returncode, result.stdout + result.stderr)


def manifest(address: str = "127.0.0.1", args: str = "['/srv']") -> str:
    return MANIFEST.format(address=address, args=args)


def test_apply_twice_then_noop(live_portal: LivePortal, puppet_dir: Path) -> None:
    first = puppet_apply(puppet_dir, "site", manifest())
    assert first.returncode == CHANGES, first.output
    host = live_portal.host("pup-01")
    assert host is not None
    assert (host["address"], host["alias"], host["team"], host["templates"]) == (
        "127.0.0.1",
        "Puppet-managed database",
        "web",
        ["generic-host"],
    )
    assert host["custom_variables"] == {"_ROLE": "db"} and host["lease"] == "active"
    [service] = host["services"]
    assert (service["description"], service["check_command_args"]) == ("Disk /srv", ["/srv"])
    # wait => true (the default): the run ended after the core confirmed the change.
    assert "pup-01" in live_portal.core_hosts()
    assert ("pup-01", "Disk /srv") in live_portal.core_services()

    deployments = live_portal.deployment_count()
    second = puppet_apply(puppet_dir, "site", manifest())
    assert second.returncode == NO_CHANGES, second.output
    assert live_portal.deployment_count() == deployments

    noop = puppet_apply(puppet_dir, "changed", manifest("127.0.0.9", "['/srv', '80%']"), "--noop")
    assert noop.returncode == NO_CHANGES, noop.output  # --noop reports, exits 0, changes nothing
    assert "current_value '127.0.0.1', should be '127.0.0.9' (noop)" in noop.output, noop.output
    assert live_portal.host("pup-01") == host
    assert live_portal.deployment_count() == deployments


def test_illegal_names_fail_with_the_api_message_and_change_nothing(
    live_portal: LivePortal, puppet_dir: Path
) -> None:
    hosts, deployments = live_portal.host_names(), live_portal.deployment_count()
    bad = """\
monitoring_host { 'bad;name': address => '127.0.0.1', team => 'web' }
monitoring_host { "web\\n01": address => '127.0.0.1', team => 'web' }
"""
    # Here the portal is reached through the environment rather than the config file.
    run = puppet_apply(
        puppet_dir,
        "bad",
        bad,
        env={
            "PORTAL_URL": live_portal.url,
            "PORTAL_API_TOKEN": live_portal.tokens["alice"],
            "PORTAL_CONFIG": "/nonexistent",
        },
    )
    assert run.returncode in (4, 6), run.output  # failures
    assert "Monitoring_host[bad;name]: Could not evaluate" in run.output, run.output
    assert "answered 400" in run.output and "name contains ';'" in run.output, run.output
    assert "name contains control character U+000A" in run.output, run.output
    assert live_portal.host_names() == hosts
    assert live_portal.deployment_count() == deployments


def test_ensure_absent_removes_the_host_from_the_core(live_portal: LivePortal, puppet_dir: Path) -> None:
    created = puppet_apply(
        puppet_dir,
        "gone",
        "monitoring_host { 'pup-gone': address => '127.0.0.1', team => 'web', templates => ['generic-host'] }\n",
    )
    assert created.returncode == CHANGES, created.output
    assert "pup-gone" in live_portal.core_hosts()
    removed = puppet_apply(puppet_dir, "gone", "monitoring_host { 'pup-gone': ensure => absent }\n")
    assert removed.returncode == CHANGES, removed.output
    assert live_portal.host("pup-gone") is None
    assert "pup-gone" not in live_portal.core_hosts()


def test_a_refused_deployment_fails_the_resource_with_the_verifier_output(
    live_portal: LivePortal, puppet_dir: Path
) -> None:
    declared = "monitoring_host { 'pup-refused': address => '127.0.0.1', team => 'web', templates => ['generic-host'] }\n"
    # The core's verifier refuses the next config for a reason the API cannot see (a site file).
    with live_portal.broken_core():
        run = puppet_apply(puppet_dir, "refused", declared)
        assert run.returncode in (4, 6), run.output  # failures
        assert "Monitoring_host[pup-refused]" in run.output, run.output
        assert "to node core failed" in run.output, run.output
        assert "The node still runs its previous config" in run.output, run.output
        assert "has no service notification commands defined" in run.output, run.output
        assert "pup-refused" not in live_portal.core_hosts()
        assert live_portal.host("pup-refused") is not None  # the message says: stored
    fixed = live_portal.api("PATCH", "registry/hosts/pup-refused/?wait=60", {"alias": "x"})
    assert fixed.status == 200, fixed
    assert fixed.data["deployment_results"][0]["state"] == "confirmed", fixed
    assert "pup-refused" in live_portal.core_hosts()
    # Declared as stored: the next run changes nothing.
    again = puppet_apply(puppet_dir, "refused", declared)
    assert again.returncode == NO_CHANGES, again.output


def test_a_host_a_node_already_monitors_needs_adopt_and_a_staff_token(
    live_portal: LivePortal, puppet_dir: Path
) -> None:
    # pup-legacy-01 is in the poller's own config: the team's token cannot register it.
    declared = (
        "monitoring_host { 'pup-legacy-01': address => '127.0.0.1', team => 'web', "
        "templates => ['generic-host']%s }\n"
    )
    refused = puppet_apply(puppet_dir, "legacy", declared % "")
    assert refused.returncode in (4, 6), refused.output  # failures
    assert "Monitoring_host[pup-legacy-01]: Could not evaluate" in refused.output, refused.output
    assert (
        "answered 400 (the portal refused the input): name: Node live already monitors a host "
        "named 'pup-legacy-01' outside the registry" in refused.output
    ), refused.output
    assert live_portal.host("pup-legacy-01") is None

    staff = f", adopt => true, token => '{live_portal.tokens['admin']}'"
    adopted = puppet_apply(puppet_dir, "legacy", declared % staff)
    assert adopted.returncode == CHANGES, adopted.output
    host = live_portal.host("pup-legacy-01")
    assert host is not None and host["team"] == "web", host
    # adopt is a parameter, sent on create only: the next run changes nothing.
    deployments = live_portal.deployment_count()
    again = puppet_apply(puppet_dir, "legacy", declared % staff)
    assert again.returncode == NO_CHANGES, again.output
    assert live_portal.deployment_count() == deployments
