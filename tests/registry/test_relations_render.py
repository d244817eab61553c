"""Dependencies and escalations rendered: exact blocks, on the nodes that hold both objects, accepted by ``nagios4 -v``."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import (
    ContactGroup,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    Service,
    ServiceTemplate,
    TimePeriod,
)
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from registry.state import render_node
from registry.validation import NaemonValueError
from tests.services.nagios import VerifyDir
from tests.services.nagios import parse_objects as blocks

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(basics: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    """A master and a poller; app1 and db1 on the poller (group dc1), central on the masters only."""
    master = NaemonNode.objects.create(name="master", role="master", config_dir=str(tmp_path / "m"))
    poller = NaemonNode.objects.create(name="poller", role="poller", config_dir=str(tmp_path / "p"))
    dc1 = HostGroup.objects.create(name="dc1", node=poller)
    host_template: HostTemplate = basics["host_template"]
    service_template: ServiceTemplate = basics["service_template"]
    hosts = {}
    for name in ("app1", "db1", "central"):
        host = Host.objects.create(name=name, address="127.0.0.1")
        host.templates.add(host_template)
        if name != "central":
            host.hostgroups.add(dc1)
        hosts[name] = host
    services = {}
    for host_name, description in (("app1", "App"), ("db1", "DB"), ("central", "Queue")):
        service = Service.objects.create(host=hosts[host_name], description=description)
        service.templates.add(service_template)
        services[description] = service
    workhours = TimePeriod.objects.create(name="workhours", ranges={"monday": "09:00-17:00"})
    admins = ContactGroup.objects.create(name="admins")
    admins.members.add(basics["contact"])
    HostDependency.objects.create(
        host=hosts["app1"],
        master_host=hosts["db1"],
        notification_failure_criteria="d,u",
        inherits_parent=True,
    )
    ServiceDependency.objects.create(
        service=services["App"],
        master_service=services["DB"],
        execution_failure_criteria="c",
        notification_failure_criteria="w,c",
        dependency_period=workhours,
    )
    escalation = ServiceEscalation.objects.create(
        service=services["App"], first_notification=3, last_notification=0, notification_interval=10
    )
    escalation.contact_groups.add(admins)
    host_escalation = HostEscalation.objects.create(
        host=hosts["central"], first_notification=2, last_notification=5, escalation_options="d,r"
    )
    host_escalation.contacts.add(basics["contact"])
    return {"master": master, "poller": poller, "hosts": hosts, "services": services}


def relations(node: NaemonNode) -> list[tuple[str, dict[str, str]]]:
    return [(kind, dict(d)) for kind, d in blocks(render_node(node).files["relations.cfg"])]


def test_relations_render_as_naemon_reads_them_on_every_node_holding_them(world: dict[str, Any]) -> None:
    assert relations(world["master"]) == [
        (
            "hostdependency",
            {
                "host_name": "db1",
                "dependent_host_name": "app1",
                "inherits_parent": "1",
                "notification_failure_criteria": "d,u",
            },
        ),
        (
            "servicedependency",
            {
                "host_name": "db1",
                "service_description": "DB",
                "dependent_host_name": "app1",
                "dependent_service_description": "App",
                "inherits_parent": "0",
                "execution_failure_criteria": "c",
                "notification_failure_criteria": "w,c",
                "dependency_period": "workhours",
            },
        ),
        (
            "hostescalation",
            {
                "host_name": "central",
                "contacts": "oncall",
                "first_notification": "2",
                "last_notification": "5",
                "notification_interval": "0",
                "escalation_options": "d,r",
            },
        ),
        (
            "serviceescalation",
            {
                "host_name": "app1",
                "service_description": "App",
                "contact_groups": "admins",
                "first_notification": "3",
                "last_notification": "0",
                "notification_interval": "10",
            },
        ),
    ]
    # The poller holds app1 and db1, not central: everything but central's escalation.
    assert [kind for kind, _ in relations(world["poller"])] == [
        "hostdependency",
        "servicedependency",
        "serviceescalation",
    ]


def test_the_core_accepts_the_rendered_relations(world: dict[str, Any], verify_dir: VerifyDir) -> None:
    for node in (world["master"], world["poller"]):
        files = render_node(node).files
        assert "define servicedependency" in files["relations.cfg"]
        result = verify_dir.check(files)
        assert result.returncode == 0 and "Total Errors:   0" in result.output, result.output


def test_a_master_moved_off_the_poller_is_rendered_only_where_both_are(
    world: dict[str, Any], verify_dir: VerifyDir
) -> None:
    # db1 leaves the poller's group after the dependency was written (a move, not a write of it).
    world["hosts"]["db1"].hostgroups.clear()
    assert [kind for kind, _ in relations(world["poller"])] == ["serviceescalation"]
    assert [kind for kind, _ in relations(world["master"])][:2] == ["hostdependency", "servicedependency"]
    result = verify_dir.check(render_node(world["poller"]).files)
    assert result.returncode == 0 and "Total Errors:   0" in result.output, result.output


def test_rendering_is_deterministic_and_a_change_changes_the_hash(world: dict[str, Any]) -> None:
    first = render_node(world["master"])
    assert render_node(world["master"]).content_hash == first.content_hash
    HostEscalation.objects.update(first_notification=3)
    assert render_node(world["master"]).content_hash != first.content_hash


def test_the_renderer_checks_again_what_got_around_the_api(world: dict[str, Any]) -> None:
    ServiceDependency.objects.update(notification_failure_criteria="w,x")
    with pytest.raises(
        NaemonValueError, match=r"service dependency 'app1/App' on 'db1/DB'.*unknown option\(s\) x"
    ):
        render_node(world["master"])
