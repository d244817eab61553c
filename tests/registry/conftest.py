"""Fixtures of the registry's render/deploy tests: a real Nagios 4 core and a node pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from registry.models import Command, Contact, HostTemplate, NaemonNode, ServiceTemplate
from tests.services.nagios import NagiosCore, VerifyDir, nagios_available
from tests.services.required import require_service


@pytest.fixture
def nagios_core() -> Iterator[NagiosCore]:
    """A running nagios4 daemon with a seed host in a (real) config dir the portal will adopt."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    core = NagiosCore()
    core.prepare()
    try:
        core.start()
        yield core
    finally:
        core.stop()
        core.cleanup()


@pytest.fixture
def verify_dir() -> Iterator[VerifyDir]:
    """A scratch main config for ``nagios4 -v`` on rendered files."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    scratch = VerifyDir()
    try:
        yield scratch
    finally:
        scratch.cleanup()


@pytest.fixture
def core_node(db: None, nagios_core: NagiosCore) -> NaemonNode:
    """A master node that deploys to the running core (command file reload, status file confirmation)."""
    return NaemonNode.objects.create(name="core", role="master", **nagios_core.node_fields())


@pytest.fixture
def basics(db: None) -> dict[str, object]:
    """What every valid config needs (Nagios wants a contact and a service): a command, templates, a contact."""
    true = Command.objects.create(name="check-true", command_line="/bin/true")
    notify = Command.objects.create(name="notify-log", command_line="/bin/true $CONTACTNAME$", channel="log")
    contact = Contact.objects.create(name="oncall", email="oncall@example.org")
    contact.host_notification_commands.add(notify)
    contact.service_notification_commands.add(notify)
    host_template = HostTemplate.objects.create(
        name="test-host", check_command=true, max_check_attempts=1, check_interval=60, retry_interval=60
    )
    service_template = ServiceTemplate.objects.create(
        name="test-service", check_command=true, max_check_attempts=1, check_interval=60, retry_interval=60
    )
    return {
        "command": true,
        "contact": contact,
        "host_template": host_template,
        "service_template": service_template,
    }


@pytest.fixture
def api(api_client_for: Any, staff: Any) -> Any:
    """An API client with a staff token."""
    return api_client_for(staff)
