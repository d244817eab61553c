"""Issue 16's directives in a running Nagios 4 core, deployed by the portal: freshness and event handlers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from registry import deploy, tasks
from registry.models import (
    Command,
    Deployment,
    Host,
    HostUse,
    NaemonNode,
    Service,
    ServiceUse,
    nodes_for_hosts,
)
from tests.services.nagios import NagiosCore, nagios_available, wait_for
from tests.services.required import require_service


class CheckingCore(NagiosCore):
    """A core that runs checks, event handlers and freshness checks every second."""

    def main_config_text(self, cfg_dir: Path | None = None) -> str:
        text = (
            super().main_config_text(cfg_dir).replace("execute_service_checks=0", "execute_service_checks=1")
        )
        return text + "\n".join(
            [
                "enable_event_handlers=1",
                "check_service_freshness=1",
                "service_freshness_check_interval=1",
                "additional_freshness_latency=1",
                "max_service_check_spread=2",
                "",
            ]
        )


@pytest.fixture
def core() -> Iterator[CheckingCore]:
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    core = CheckingCore()
    core.prepare()
    # The plugins the objects run: the stale check says so and is CRITICAL; the handler writes a file.
    (core.dir / "stale.sh").write_text("#!/bin/sh\necho 'STALE: no passive result'\nexit 2\n")
    (core.dir / "handler.sh").write_text(f'#!/bin/sh\necho "$1 $2" >> {core.dir}/handled.log\n')
    for script in ("stale.sh", "handler.sh"):
        (core.dir / script).chmod(0o755)
    core.own()
    try:
        core.start()
        yield core
    finally:
        core.stop()
        core.cleanup()


@pytest.fixture(autouse=True)
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 20.0)
    monkeypatch.setattr(deploy, "CONFIRM_GRACE", 3.0)


def test_freshness_turns_a_passive_service_stale_and_its_event_handler_runs(
    db: None, core: CheckingCore, basics: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    node = NaemonNode.objects.create(name="core", role="master", **core.node_fields())
    stale = Command.objects.create(name="stale", command_line=f"{core.dir}/stale.sh")
    handler = Command.objects.create(
        name="record-change", command_line=f"{core.dir}/handler.sh $SERVICEDESC$ $SERVICESTATE$"
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        host = Host.objects.create(name="web1", address="127.0.0.1")
        HostUse.objects.create(host=host, template=basics["host_template"])
        # Results come from outside (passive); none for 2 s: the core runs the stale check.
        service = Service.objects.create(
            host=host,
            description="Backup",
            check_command=stale,
            active_checks_enabled=False,
            passive_checks_enabled=True,
            check_freshness=True,
            freshness_threshold=2,
            event_handler=handler,
            event_handler_enabled=True,
        )
        ServiceUse.objects.create(service=service, template=basics["service_template"])
        tasks.request_deployments(nodes_for_hosts([host]), triggered_by="test", reason="directives")
    deployment = Deployment.objects.filter(node=node).latest("pk")
    assert deployment.state == "confirmed", (deployment.error, deployment.verify_output)

    status = wait_for(
        "the stale check's result",
        lambda: (s := core.services().get(("web1", "Backup"))) and s.get("current_state") == "2" and s,
    )
    assert status["plugin_output"].startswith("STALE")
    handled = core.dir / "handled.log"
    wait_for(
        "the event handler's file", lambda: handled.exists() and "Backup CRITICAL" in handled.read_text()
    )
