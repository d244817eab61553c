"""Importing dependencies and escalations: a round trip through Nagios 4 that loses nothing, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry import importer
from registry.models import NaemonNode
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from registry.state import render_node
from tests.services.nagios import VerifyDir, parse_objects

pytestmark = pytest.mark.django_db

RELATION_KINDS = ("hostdependency", "servicedependency", "hostescalation", "serviceescalation")

CONFIG = """
define timeperiod {
    timeperiod_name 24x7
    alias Always
    monday 00:00-24:00
}
define timeperiod {
    timeperiod_name workhours
    alias Work
    monday 09:00-17:00
}
define command {
    command_name check-true
    command_line /bin/true
}
define command {
    command_name notify-by-email
    command_line /bin/true $CONTACTEMAIL$
}
define contact {
    contact_name oncall
    email oncall@example.org
    host_notification_period 24x7
    service_notification_period 24x7
    host_notification_commands notify-by-email
    service_notification_commands notify-by-email
}
define contact {
    contact_name boss
    email boss@example.org
    host_notification_period 24x7
    service_notification_period 24x7
    host_notification_commands notify-by-email
    service_notification_commands notify-by-email
}
define contactgroup {
    contactgroup_name ops
    alias Operations
    members oncall
}
define host {
    name base
    check_command check-true
    max_check_attempts 1
    contacts oncall
    register 0
}
define host {
    host_name router
    use base
    address 192.0.2.1
}
define host {
    host_name web1
    use base
    address 192.0.2.2
}
define host {
    host_name web2
    use base
    address 192.0.2.3
}
define service {
    name svc
    check_command check-true
    max_check_attempts 1
    notification_period 24x7
    register 0
}
define service {
    use svc
    host_name router,web1,web2
    service_description PING
}
define service {
    use svc
    host_name web1
    service_description HTTP
}
define hostdependency {
    host_name router
    dependent_host_name web1,web2
    inherits_parent 1
    execution_failure_criteria d,u
    notification_failure_criteria d,u,p
    dependency_period workhours
}
define servicedependency {
    host_name web1
    service_description PING
    dependent_service_description HTTP
    notification_failure_criteria w,c
}
define servicedependency {
    name esc-default
    execution_failure_criteria n
    register 0
}
define servicedependency {
    use esc-default
    host_name router
    service_description PING
    dependent_host_name web2
    dependent_service_description PING
}
define hostescalation {
    host_name web1,web2
    first_notification 3
    last_notification 0
    notification_interval 30
    contact_groups ops
    contacts boss
    escalation_period workhours
    escalation_options d,r
}
define serviceescalation {
    host_name web1
    service_description HTTP
    first_notification 2
    last_notification 4
    notification_interval 10
    contacts boss
    escalation_options w,c,r
}
"""


def relations_of(precache: Path) -> list[dict[str, str]]:
    """The core's resolved dependencies and escalations, each with its kind, sorted."""
    found = [
        {"kind": kind, **dict(d)} for kind, d in parse_objects(precache.read_text()) if kind in RELATION_KINDS
    ]
    return sorted(found, key=lambda d: sorted(d.items()))


def test_a_site_with_dependencies_and_escalations_round_trips_through_the_core(
    verify_dir: VerifyDir, tmp_path: Path
) -> None:
    original = verify_dir.check({"site.cfg": CONFIG}, precache=True)
    assert original.returncode == 0, original.output
    before = relations_of(verify_dir.precache)
    # The core splits a dependency with both criteria into an execution and a notification one,
    # and keeps none of a dependency whose only criteria are "n" (router/PING -> web2/PING).
    assert len(before) == 8

    report = importer.import_paths(_write(tmp_path))
    assert not report.lost(), report.lines()
    assert report.created["host dependencies"] == 2 and report.created["service dependencies"] == 2
    assert report.created["host escalations"] == 2 and report.created["service escalations"] == 1

    node = NaemonNode.objects.create(name="master", config_dir=str(tmp_path / "portal.d"))
    rendered = verify_dir.check(render_node(node).files, precache=True)
    assert rendered.returncode == 0 and "Total Errors:   0" in rendered.output, rendered.output
    # Directive by directive, as the core resolved them: nothing lost, nothing added.
    assert relations_of(verify_dir.precache) == before

    # A second import changes nothing.
    counts = [
        m.objects.count() for m in (HostDependency, ServiceDependency, HostEscalation, ServiceEscalation)
    ]
    again = importer.import_paths(_write(tmp_path))
    assert not any(
        k in again.created for k in ("host dependencies", "host escalations", "service escalations")
    )
    assert again.updated["host escalations"] == 2
    assert [
        m.objects.count() for m in (HostDependency, ServiceDependency, HostEscalation, ServiceEscalation)
    ] == counts


def _write(tmp_path: Path) -> list[Path]:
    path = tmp_path / "site.cfg"
    path.write_text(CONFIG)
    return [path]


REFUSED = """
define host {
    host_name h1
    check_command check-true
    max_check_attempts 1
}
define command {
    command_name check-true
    command_line /bin/true
}
define hostdependency {
    hostgroup_name linux
    dependent_host_name h1
}
define hostdependency {
    host_name h1
    dependent_host_name ghost
}
define hostescalation {
    host_name h1
    first_notification 4
    last_notification 2
    contacts nobody
}
"""


def test_what_the_registry_cannot_hold_is_listed_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "refused.cfg"
    path.write_text(REFUSED)
    report = importer.import_paths([path])
    assert (
        f"{path}:12: hostdependency hostgroup_name (the registry names hosts, not groups)"
        in report.dropped_at
    )
    assert any(f"{path}:15" in s and "host 'ghost' was not imported" in s for s in report.skipped), (
        report.skipped
    )
    assert any(f"{path}:19" in s and "last_notification (2) is before" in s for s in report.skipped), (
        report.skipped
    )
    assert report.lost() and not HostDependency.objects.exists() and not HostEscalation.objects.exists()
    # --strict refuses the whole import.
    strict = importer.import_paths([path], strict=True)
    assert strict.lost()
