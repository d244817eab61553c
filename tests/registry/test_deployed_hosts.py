"""Which registry hosts a confirmed deployment put on a node, against a real Nagios 4 core.

That record (``DeployedHost``) is what gives a host's team the right to act on the node's
object of that name (livestatus.actions). A registry host named like an object the node
monitors outside the registry never gets there: the core's verify refuses the duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from livestatus import actions
from livestatus.actions import Target
from monitoring_portal.models import Team
from registry import deploy, tasks
from registry.models import DeployedHost, Deployment, Host, NaemonNode
from tests.registry.test_core import add_host, latest, quick_timeouts  # noqa: F401 (autouse fixture)
from tests.services.nagios import NagiosCore, nagios_available
from tests.services.required import require_service

pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.timeout(120)]

# A site's own definition, outside the portal's config dir, self-contained (the portal's first
# deploy replaces the seed objects in its own dir).
STATIC_OBJECTS = """
define command {
    command_name static-true
    command_line /bin/true
}
define host {
    host_name core-router
    check_command static-true
    max_check_attempts 1
}
"""


@pytest.fixture
def static_core() -> Iterator[NagiosCore]:
    """A running Nagios 4 that also reads a static file defining ``core-router``."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    core = NagiosCore()
    core.prepare()
    static = core.dir / "static.cfg"
    static.write_text(STATIC_OBJECTS)
    core.main_config.write_text(core.main_config_text() + f"cfg_file={static}\n")
    core.own()
    try:
        core.start()
        yield core
    finally:
        core.stop()
        core.cleanup()


@pytest.fixture
def static_node(db: None, static_core: NagiosCore) -> NaemonNode:
    return NaemonNode.objects.create(name="core", role="master", **static_core.node_fields())


def deployed(node: NaemonNode) -> dict[str, Any]:
    return dict(DeployedHost.objects.filter(node=node).values_list("name", "host_id"))


def test_confirmed_deploys_record_their_hosts_and_a_duplicate_never_gets_there(
    static_node: NaemonNode,
    static_core: NagiosCore,
    basics: dict[str, Any],
    owner: User,
    team: Team,
    django_capture_on_commit_callbacks: Any,
) -> None:
    assert "core-router" in static_core.status().hosts  # monitored outside the registry
    web1 = add_host("web1", basics, team=team)  # its deployment has not run yet
    assert deployed(static_node) == {}
    deploy.deploy(static_node.pk)
    assert latest(static_node).state == "confirmed", latest(static_node).error
    assert deployed(static_node) == {"web1": web1.pk}
    assert DeployedHost.objects.get(name="web1").deployment == latest(static_node)

    # A team member's registry host named like the node's own object (say the node was
    # unreachable when it was registered): the core refuses the duplicate, nothing is recorded,
    # and the name grants no right over the node's core-router.
    with django_capture_on_commit_callbacks(execute=True):
        add_host("core-router", basics, team=team)
    failed = latest(static_node)
    assert failed.state == "failed"
    assert "Duplicate definition found for host 'core-router'" in failed.verify_output
    assert deployed(static_node) == {"web1": web1.pk}
    assert "core-router is not yet deployed" in (actions.denial(owner, Target("core-router")) or "")

    # An unchanged deploy (skipped) keeps the record; removing the host removes it.
    Deployment.objects.filter(state="pending").delete()
    Host.objects.filter(name="core-router").delete()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.request_deployments([static_node], triggered_by="test")
    assert latest(static_node).state == "skipped"
    assert deployed(static_node) == {"web1": web1.pk}
    with django_capture_on_commit_callbacks(execute=True):
        web1.delete()
        tasks.request_deployments([static_node], triggered_by="test")
    assert latest(static_node).state == "confirmed", latest(static_node).error
    assert deployed(static_node) == {}
