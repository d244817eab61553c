"""Deploys against a real, running Nagios 4 core (Debian's nagios4 reads Naemon's object format).

The deploy task runs eagerly (no broker in tests), through ``request_deployments`` and
``transaction.on_commit`` like request code does. The core reloads through its external
command FIFO and is confirmed through its status file. The API tests commit for real
(``transaction=True``): the write's commit runs the deploy inside the request, and
``?wait=`` sees it end.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from registry import deploy, tasks, versions
from registry.models import (
    Contact,
    Deployment,
    Host,
    HostUse,
    NaemonNode,
    Service,
    ServiceUse,
    nodes_for_hosts,
)
from registry.tasks import deploy_node, retire_expired_hosts
from tests.services.nagios import NagiosCore, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 20.0)
    monkeypatch.setattr(deploy, "VERIFY_TIMEOUT", 30.0)
    monkeypatch.setattr(deploy, "CONFIRM_GRACE", 3.0)


API = "/api/v1/registry"


def add_host(name: str, basics: dict[str, Any], **fields: Any) -> Host:
    """Create a host with a service, in one transaction, and request deployments like the API does."""
    with transaction.atomic():
        host = Host.objects.create(name=name, address="127.0.0.1", **fields)
        HostUse.objects.create(host=host, template=basics["host_template"])
        service = Service.objects.create(host=host, description="Ping")
        ServiceUse.objects.create(service=service, template=basics["service_template"])
        tasks.request_deployments(nodes_for_hosts([host]), triggered_by="test", reason=f"add {name}")
    return host


def latest(node: NaemonNode) -> Deployment:
    return Deployment.objects.filter(node=node).order_by("-pk").first()  # type: ignore[return-value]


def live_files(core: NagiosCore) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(core.config_dir.iterdir()) if p.suffix == ".cfg"}


def test_added_host_appears_in_the_running_core(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = nagios_core.status()
    assert "seed-host" in before.hosts
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web1", basics)
    deployment = latest(core_node)
    assert deployment.state == "confirmed", (deployment.error, deployment.verify_output)
    assert nagios_core.status().hosts == {"web1"}  # the adopted seed config is replaced
    assert (nagios_core.status().program_start or 0) > (before.program_start or 0)
    assert "Total Errors:   0" in deployment.verify_output
    assert "RESTART_PROGRAM" in deployment.reload_output
    assert "program_start" in deployment.confirmation
    assert deployment.summary["hosts"]["added_names"] == ["web1"]
    assert deployment.summary["services"]["added_names"] == ["web1/Ping"]
    assert deployment.duration_seconds is not None and deployment.started_at is not None
    assert set(deployment.summary["timings"]) >= {"render", "verify", "reload"}
    # The live dir is a symlink to the version; the adopted original is kept for rollback.
    assert os.path.islink(nagios_core.config_dir)
    assert (versions.versions_dir(core_node) / "initial" / "seed.cfg").exists()
    assert sorted(live_files(nagios_core)) == [
        "commands.cfg",
        "contacts.cfg",
        "groups.cfg",
        "hosts.cfg",
        "relations.cfg",
        "services.cfg",
        "templates.cfg",
        "timeperiods.cfg",
    ]

    with django_capture_on_commit_callbacks(execute=True):
        add_host("web2", basics)
    second = latest(core_node)
    assert second.state == "confirmed", second.error
    assert nagios_core.status().hosts == {"web1", "web2"}
    assert second.summary["hosts"] | {"added_names": ["web2"]} == second.summary["hosts"]
    # One previous version kept, older ones pruned.
    kept = sorted(p.name for p in versions.versions_dir(core_node).iterdir() if p.is_dir())
    assert kept == sorted([str(deployment.pk), str(second.pk)])


def test_failed_verification_leaves_the_live_config_and_core_alone(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web1", basics)
    assert latest(core_node).state == "confirmed"
    files_before, target_before = live_files(nagios_core), os.readlink(nagios_core.config_dir)
    start_before, restarts_before = nagios_core.status().program_start, nagios_core.restarts()

    # Valid for the portal's checks, but Naemon requires notification commands on a contact:
    # exactly the kind of mistake only the core's own verifier catches.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        Contact.objects.create(name="nobody-to-notify")
        tasks.request_deployments([core_node], triggered_by="test")
    failed = latest(core_node)
    assert failed.state == "failed"
    assert "verification failed" in failed.error
    assert "Contact 'nobody-to-notify' has no service notification commands defined" in failed.verify_output
    assert live_files(nagios_core) == files_before and os.readlink(nagios_core.config_dir) == target_before
    assert not (versions.versions_dir(core_node) / str(failed.pk)).exists()
    assert nagios_core.running() and nagios_core.restarts() == restarts_before
    assert nagios_core.status().program_start == start_before
    assert nagios_core.status().hosts == {"web1"}


def test_failed_reload_rolls_back(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web1", basics)
    target_before = os.readlink(nagios_core.config_dir)
    # The core stops reading commands: the reload cannot be confirmed.
    NaemonNode.objects.filter(pk=core_node.pk).update(command_file=str(nagios_core.dir / "missing.cmd"))
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web2", basics)
    failed = latest(core_node)
    assert failed.state == "failed"
    assert "reload failed" in failed.error and "does not exist" in failed.error
    assert "rolled back" in failed.error
    assert os.readlink(nagios_core.config_dir) == target_before
    assert nagios_core.running() and nagios_core.status().hosts == {"web1"}


def test_expired_lease_removes_the_host_from_the_core(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("keeper", basics)
        add_host("ci-runner-17", basics, expires_at=timezone.now() + dt.timedelta(seconds=2))
    assert nagios_core.status().hosts == {"keeper", "ci-runner-17"}
    Host.objects.filter(name="ci-runner-17").update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert retire_expired_hosts() == ["ci-runner-17"]
    deployment = latest(core_node)
    assert deployment.triggered_by == "lease-expiry"
    assert deployment.state == "confirmed", deployment.error
    assert deployment.summary["hosts"]["removed_names"] == ["ci-runner-17"]
    assert nagios_core.status().hosts == {"keeper"}
    assert not Host.objects.filter(name="ci-runner-17").exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert retire_expired_hosts() == []


def test_burst_coalesces_and_unchanged_render_is_skipped(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("first", basics)
    restarts = nagios_core.restarts()
    runs_before = Deployment.objects.filter(node=core_node).count()

    # 50 writes, each its own transaction, while the node's worker is busy with a deploy
    # (we hold its lock): each eager task finds the lock taken and leaves the work pending.
    monkeypatch.setattr(deploy, "LOCK_WAIT", 0.0)
    with deploy.node_lock(core_node) as held:
        assert held
        for i in range(50):
            with django_capture_on_commit_callbacks(execute=True):
                add_host(f"burst{i:02d}", basics)
    # Two more racing requests made their own pending deployments.
    Deployment.objects.create(node=core_node, triggered_by="race-1")
    Deployment.objects.create(node=core_node, triggered_by="race-2")
    assert Deployment.objects.filter(node=core_node, state="pending").count() == 3

    # What the lock holder does when it lets go: one more run, which covers everything pending.
    deploy_node.delay(core_node.pk)
    runs = Deployment.objects.filter(node=core_node).order_by("pk")[runs_before:]
    primary = [d for d in runs if d.covered_by_id is None]
    assert len(primary) == 1 and primary[0].state == "confirmed", primary[0].error
    assert sorted(d.state for d in runs) == ["confirmed"] * 3
    assert all(d.covered_by_id == primary[0].pk for d in runs if d != primary[0])
    assert primary[0].summary["hosts"]["added"] == 50
    assert nagios_core.restarts() == restarts + 1
    assert len(nagios_core.status().hosts) == 51

    # Nothing changed since: skipped, no reload, the core not restarted.
    start = nagios_core.status().program_start
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        tasks.request_deployments([core_node], triggered_by="test", reason="no-op")
    skipped = latest(core_node)
    assert skipped.state == "skipped"
    assert f"unchanged since deployment {primary[0].pk}" in skipped.confirmation
    assert nagios_core.restarts() == restarts + 1
    wait_for("another status update", lambda: (nagios_core.dir / "status.dat").stat().st_mtime > 0)
    assert nagios_core.status().program_start == start


# --- through the REST API -------------------------------------------------------------------


def only_deployment(response: Any) -> dict[str, Any]:
    body = response.json()
    (result,) = body["deployment_results"]
    return result


@pytest.mark.django_db(transaction=True)
def test_a_host_put_through_the_api_is_monitored_with_its_service(
    core_node: NaemonNode, nagios_core: NagiosCore, basics: dict[str, Any], api_client_for: Any, owner: Any
) -> None:
    api = api_client_for(owner)  # a team member's token: writes for the team's hosts
    body = {
        "address": "127.0.0.1",
        "team": "web",
        "templates": ["test-host"],
        "services": [{"description": "Ping", "templates": ["test-service"]}],
    }
    created = api.put(f"{API}/hosts/web1/?wait=30", body, format="json")
    assert created.status_code == 201, created.json()  # a create, confirmed within the wait
    result = only_deployment(created)
    assert result["state"] == "confirmed", (result["error"], result["verify_output"])
    assert result["triggered_by"] == "owner (token test)"
    assert nagios_core.status().hosts == {"web1"}
    assert set(nagios_core.services()) == {("web1", "Ping")}  # the seed's service is gone
    assert "lists all 1 hosts and 1 services rendered" in result["confirmation"]

    # The same body again: nothing changed, no deployment, the core not restarted.
    restarts = nagios_core.restarts()
    again = api.put(f"{API}/hosts/web1/?wait=30", body, format="json")
    assert again.status_code == 200 and again.json()["deployments"] == []
    assert nagios_core.restarts() == restarts

    before = float(nagios_core.services()[("web1", "Ping")]["check_interval"])
    assert before == 60
    patched = api.patch(f"{API}/hosts/web1/services/Ping/?wait=30", {"check_interval": 17}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["check_interval"] == 17
    result = only_deployment(patched)
    assert result["state"] == "confirmed", result["error"]
    assert result["summary"]["services"]["changed_names"] == ["web1/Ping"]
    assert float(nagios_core.services()[("web1", "Ping")]["check_interval"]) == 17
    assert nagios_core.restarts() == restarts + 1


@pytest.mark.django_db(transaction=True)
def test_services_on_a_host_group_are_confirmed_on_each_member_host(
    core_node: NaemonNode, nagios_core: NagiosCore, basics: dict[str, Any], api_client_for: Any, staff: Any
) -> None:
    api = api_client_for(staff)
    # A group and no host yet: the core gets the renderer's placeholders, which the
    # confirmation neither expects nor minds.
    group = api.put(f"{API}/hostgroups/web/?wait=30", {"alias": "Web servers"}, format="json")
    assert group.status_code == 201, group.json()
    assert only_deployment(group)["state"] == "confirmed", only_deployment(group)["error"]
    assert nagios_core.status().hosts == {"portal-placeholder"}

    host = {"address": "127.0.0.1", "templates": ["test-host"], "hostgroups": ["web"]}
    for name in ("web1", "web2"):
        response = api.put(f"{API}/hosts/{name}/?wait=30", host, format="json")
        assert response.status_code == 201 and only_deployment(response)["state"] == "confirmed"
    service = api.put(
        f"{API}/hostgroups/web/services/HTTP/?wait=30", {"templates": ["test-service"]}, format="json"
    )
    assert service.status_code == 201, service.json()
    result = only_deployment(service)
    assert result["state"] == "confirmed", result["error"]
    assert "lists all 2 hosts and 2 services rendered" in result["confirmation"]
    assert set(nagios_core.services()) == {("web1", "HTTP"), ("web2", "HTTP")}

    # web2 leaves the group: its HTTP must be gone from the core for the deploy to count.
    left = api.patch(f"{API}/hosts/web2/?wait=30", {"hostgroups": []}, format="json")
    assert left.status_code == 200, left.json()
    result = only_deployment(left)
    assert result["state"] == "confirmed", result["error"]
    assert "0 removed hosts and 1 removed services gone" in result["confirmation"]
    assert set(nagios_core.services()) == {("web1", "HTTP")}
    assert nagios_core.status().hosts == {"web1", "web2"}


def test_a_reload_whose_core_lacks_a_rendered_service_fails_and_rolls_back(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web1", basics)
    assert latest(core_node).state == "confirmed"
    target_before = os.readlink(nagios_core.config_dir)

    # Below the API: the pipeline expects a service the rendered files do not define, as if
    # the core read other files than the ones the portal swapped in.
    real = deploy.expected_services
    monkeypatch.setattr(deploy, "expected_services", lambda state: real(state) | {("web2", "Phantom")})
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web2", basics)
    failed = latest(core_node)
    assert failed.state == "failed"
    assert failed.error.startswith("not confirmed: reloaded (program_start "), failed.error
    assert "but the core does not list 1 services: web2/Phantom (by status file " in failed.error
    assert "rolled back to the previous version and reloaded it" in failed.error
    assert "RESTART_PROGRAM" in failed.reload_output
    assert os.readlink(nagios_core.config_dir) == target_before
    wait_for("the rolled-back objects", lambda: set(nagios_core.services()) == {("web1", "Ping")})
    assert nagios_core.running() and nagios_core.status().hosts == {"web1"}
