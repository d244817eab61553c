"""Drift (registry/drift.py): found on a real Nagios 4 core, recorded, shown, healed by policy;
"redeploy this node" and "retry" per role; the registry read-only in Django's admin.

The real-core tests deploy eagerly through ``request_deployments`` and ``transaction.on_commit``
(as tests/registry/test_core.py does); the core reloads through its command FIFO and is read
from its status file (host and service counts, ``program_start``). The drift task is called as
the node's worker would run it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

from registry import deploy, drift, runner, tasks, versions
from registry.models import Deployment, Host, HostUse, NaemonNode, NodeHealth, Service, ServiceUse
from tests.doubles import DeployRecorder
from tests.services.nagios import NagiosCore, wait_for

API = "/api/v1/registry"
INTRUDER = """
define host {
    host_name intruder
    check_command check-true
    max_check_attempts 1
    check_interval 60
    retry_interval 60
}
"""


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 20.0)
    monkeypatch.setattr(deploy, "VERIFY_TIMEOUT", 30.0)
    monkeypatch.setattr(deploy, "CONFIRM_GRACE", 3.0)


def add_host(name: str, basics: dict[str, Any]) -> Host:
    """A host with a service, deployed like a write does (on commit)."""
    with transaction.atomic():
        host = Host.objects.create(name=name, address="127.0.0.1")
        HostUse.objects.create(host=host, template=basics["host_template"])
        service = Service.objects.create(host=host, description="Ping")
        ServiceUse.objects.create(service=service, template=basics["service_template"])
        tasks.request_deployments(NaemonNode.objects.all(), triggered_by="test", reason=f"add {name}")
    return host


def latest(node: NaemonNode) -> Deployment:
    found = Deployment.objects.filter(node=node).order_by("-pk").first()
    assert found is not None
    return found


def restart_by_hand(core: NagiosCore, after: Deployment) -> None:
    """Restart the core behind the portal's back (as an admin on the node would)."""
    before = core.status().program_start
    assert after.finished_at is not None
    deploy._wait_past(max(before or 0, int(after.finished_at.timestamp())))
    runner.send_external_command(str(core.command_file), "[0] RESTART_PROGRAM")
    wait_for("the core to restart", lambda: (core.status().program_start or 0) > (before or 0))


@pytest.mark.services
@pytest.mark.timeout(180)
def test_a_hand_edit_is_reported_then_healed_and_the_core_reloaded(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    quick_timeouts: None,
    django_capture_on_commit_callbacks: Any,
    operator: User,
    api_client_for: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web1", basics)
    first = latest(core_node)
    assert first.state == "confirmed", first.error
    live = nagios_core.config_dir
    # The files' digest is the renderer's: an untouched version has no drift.
    assert versions.content_hash_on_disk(live.resolve()) == first.content_hash
    assert tasks.check_node_drift(core_node.pk) == []  # also takes the core's counts as baseline

    # By hand on the node: a host added to the portal's file, and the core restarted on it.
    hosts_file = live / "hosts.cfg"
    original = hosts_file.read_text()
    hosts_file.write_text(original + INTRUDER)
    restart_by_hand(nagios_core, first)
    assert "intruder" in nagios_core.status().hosts

    # Policy "report": recorded and shown, nothing deployed, the edit left in place.
    NaemonNode.objects.filter(pk=core_node.pk).update(drift_policy="report")
    with django_capture_on_commit_callbacks(execute=True):
        found = tasks.check_node_drift(core_node.pk)
    assert found is not None
    assert [d["kind"] for d in found] == ["config", "core"]
    assert "changed: hosts.cfg" in found[0]["detail"]
    assert "runs 2 hosts and 1 services instead of 1 and 1" in found[1]["detail"]
    assert latest(core_node).pk == first.pk and hosts_file.read_text().endswith(INTRUDER)
    health = NodeHealth.objects.get(node=core_node)
    assert health.drift_since is not None and [d["kind"] for d in health.drift] == ["config", "core"]
    client = Client()
    client.force_login(operator)
    page = client.get(f"/registry/nodes/{core_node.name}/").content.decode()
    assert "This node does not run what was last deployed" in page and "changed: hosts.cfg" in page
    assert "its policy is to report only" in page
    node_api = api_client_for(operator).get(f"{API}/nodes/{core_node.name}/").json()
    assert node_api["drift_policy"] == "report"
    assert [d["kind"] for d in node_api["drift"]["found"]] == ["config", "core"]
    # The wall's line: kinds in words, no paths (kiosk screens read it).
    assert drift.node_drift([core_node.name])[core_node.name]["kinds"] == [
        "config edited on the node",
        "core runs another config",
    ]

    # Policy "redeploy": the next check heals it: the portal's file back, the core reloaded on it.
    NaemonNode.objects.filter(pk=core_node.pk).update(drift_policy="redeploy")
    restarts = nagios_core.restarts()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.check_node_drift(core_node.pk)
    healing = latest(core_node)
    assert healing.pk != first.pk and healing.state == "confirmed", healing.error
    assert healing.triggered_by == "drift check"
    assert healing.reason == "drift: config edited on the node; core runs another config"
    assert hosts_file.read_text() == original
    assert nagios_core.restarts() > restarts and nagios_core.status().hosts == {"web1"}
    # Healed: the next check finds nothing and clears the record.
    assert tasks.check_node_drift(core_node.pk) == []
    health.refresh_from_db()
    assert health.drift == [] and health.drift_since is None
    assert drift.node_drift([core_node.name]) == {}


@pytest.mark.services
@pytest.mark.timeout(180)
def test_a_deployment_that_gave_up_shows_as_drift_and_an_operator_retries_it(
    core_node: NaemonNode,
    nagios_core: NagiosCore,
    basics: dict[str, Any],
    quick_timeouts: None,
    django_capture_on_commit_callbacks: Any,
    operator: User,
    api_client_for: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web1", basics)
    assert latest(core_node).state == "confirmed"
    verify = core_node.verify_command
    NaemonNode.objects.filter(pk=core_node.pk).update(verify_command="/bin/false {main_config}")
    with django_capture_on_commit_callbacks(execute=True):
        add_host("web2", basics)
    failed = latest(core_node)
    assert failed.state == "failed" and failed.error.startswith("verification failed")

    with django_capture_on_commit_callbacks(execute=True):
        found = tasks.check_node_drift(core_node.pk)
    # The live config is still the confirmed one: only the failure; and no redeploy, which
    # would fail verification the same way.
    assert found == [{"kind": "failed", "detail": f"deployment {failed.pk} failed: {failed.error}"}]
    assert latest(core_node).pk == failed.pk
    client = Client()
    client.force_login(operator)
    page = client.get(f"/registry/nodes/{core_node.name}/").content.decode()
    assert f"deployment {failed.pk} failed: verification failed" in page
    assert f'data-retry="{failed.pk}"' in page  # the retry button, for an operator

    # Fixed on the node; the operator retries through the API.
    NaemonNode.objects.filter(pk=core_node.pk).update(verify_command=verify)
    api = api_client_for(operator)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"{API}/deployments/{failed.pk}/retry/", {}, format="json")
    assert answer.status_code == 202, answer.content
    retried = latest(core_node)
    assert retried.state == "confirmed", retried.error
    assert retried.triggered_by == "operator (token test)"
    assert retried.reason == f"retry of deployment {failed.pk} by operator (token test)"
    assert "web2" in nagios_core.status().hosts
    assert tasks.check_node_drift(core_node.pk) == []
    # Only the latest failed deployment is retried: nothing else is created.
    count = Deployment.objects.count()
    again = api.post(f"{API}/deployments/{failed.pk}/retry/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"deployment {failed.pk} is not core's latest ({retried.pk} is, confirmed): "
        "the latest state is deployed by that one"
    )
    assert Deployment.objects.count() == count

    # "Redeploy this node" with nothing changed: written and reloaded, not skipped.
    restarts = nagios_core.restarts()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"{API}/nodes/{core_node.name}/redeploy/", {}, format="json")
    assert answer.status_code == 202, answer.content
    redeployed = latest(core_node)
    assert redeployed.state == "confirmed" and redeployed.force, redeployed.error
    assert nagios_core.restarts() > restarts


# -- who may redeploy and retry (no core: the deploy messages are recorded) ------------------


@pytest.fixture
def plain_node(db: None, tmp_path: Any) -> NaemonNode:
    return NaemonNode.objects.create(name="n1", config_dir=str(tmp_path / "portal.d"), reload_method="none")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("viewer", 403), ("outsider", 403), ("operator", 202), ("staff", 202)],
)
def test_redeploy_endpoint_per_role(
    who: str,
    expected: int,
    plain_node: NaemonNode,
    deploys: DeployRecorder,
    api_client_for: Any,
    request: pytest.FixtureRequest,
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = None if who == "anonymous" else request.getfixturevalue(who)
    api = api_client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"{API}/nodes/n1/redeploy/", {}, format="json")
    assert answer.status_code == expected, answer.content
    if expected != 202:
        assert Deployment.objects.count() == 0 and deploys.enqueued == []
        return
    (deployment,) = Deployment.objects.all()
    assert deployment.force and deployment.triggered_by == f"{who} (token test)"
    assert answer.json()["deployments"] == [f"http://testserver{API}/deployments/{deployment.pk}/"]
    assert deploys.enqueued == [(plain_node.pk, "naemon.n1")]


@pytest.mark.django_db
def test_redeploy_refusals_change_nothing(
    plain_node: NaemonNode, deploys: DeployRecorder, api_client_for: Any, operator: User
) -> None:
    api = api_client_for(operator)
    bad = api.post(f"{API}/nodes/n1/redeploy/", {"force": True}, format="json")
    assert bad.status_code == 400 and "force" in bad.json()
    NaemonNode.objects.filter(pk=plain_node.pk).update(enabled=False)
    disabled = api.post(f"{API}/nodes/n1/redeploy/", {}, format="json")
    assert disabled.status_code == 409 and "n1 is disabled" in disabled.json()["detail"]
    assert Deployment.objects.count() == 0 and deploys.enqueued == []


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "allowed"), [("viewer", False), ("operator", True), ("staff", True)])
def test_redeploy_button_per_role(
    who: str,
    allowed: bool,
    plain_node: NaemonNode,
    deploys: DeployRecorder,
    request: pytest.FixtureRequest,
) -> None:
    client = Client()
    client.force_login(request.getfixturevalue(who))
    page = client.get("/registry/nodes/n1/").content.decode()
    assert ("Redeploy this node" in page) is allowed
    answer = client.post("/registry/nodes/n1/redeploy/")
    if not allowed:
        assert answer.status_code == 403 and Deployment.objects.count() == 0
        return
    assert answer.status_code == 302
    assert Deployment.objects.get().triggered_by == who


@pytest.mark.django_db
def test_the_drift_round_asks_each_enabled_node_on_its_own_queue(
    plain_node: NaemonNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    NaemonNode.objects.create(name="off", config_dir=str(tmp_path / "off.d"), enabled=False)
    sent: list[tuple[Any, str]] = []
    monkeypatch.setattr(
        tasks.check_node_drift, "apply_async", lambda args, queue, **kw: sent.append((args, queue))
    )
    assert tasks.check_drift() == ["n1"]
    assert sent == [((plain_node.pk,), "naemon.n1")]


# -- the admin is read-only for the registry ------------------------------------------------


@pytest.mark.django_db
def test_the_admin_cannot_change_add_or_delete_a_host(staff: User, deploys: DeployRecorder) -> None:
    host = Host.objects.create(name="web1", address="10.0.0.1")
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "root-pass-1234"))
    change = f"/admin/registry/host/{host.pk}/change/"
    page = client.get(change)
    assert page.status_code == 200  # viewing stays
    text = page.content.decode()
    assert 'name="_save"' not in text and "Read-only: change the registry" in text
    assert client.post(change, {"name": "web1", "address": "10.9.9.9"}).status_code == 403
    assert client.post("/admin/registry/host/add/", {"name": "web2"}).status_code == 403
    assert client.post(f"/admin/registry/host/{host.pk}/delete/", {"post": "yes"}).status_code == 403
    host.refresh_from_db()
    assert host.address == "10.0.0.1" and list(Host.objects.values_list("name", flat=True)) == ["web1"]
    assert deploys.calls == []
