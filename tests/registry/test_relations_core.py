"""Dependencies and escalations on a running Nagios 4, written through the API and deployed for real.

- A service dependency: while its master is CRITICAL, the dependent's problem is not notified
  (the core counts no notification); once the master is OK, it is.
- An escalation: from the 2nd notification on, the escalated contacts are told too, each through
  the notify-filter with their own rules: carol gets it, dave's rule drops his copy.

alice is in team web (which owns web1); carol and dave are in team dba. Celery runs eagerly and
the database commits for real, so deployments and snapshots go out on commit as in production.
The core's interval_length is 1: a notification_interval of 1 is one second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.test import APIClient

from monitoring_portal.models import Team
from preferences import snapshot
from preferences.models import NotificationRule
from registry import deploy
from registry.models import Command, Deployment, HostTemplate, NaemonNode, ServiceTemplate
from tests.preferences.conftest import NotifyingCore, notifying_core  # noqa: F401 (the fixture)
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

API = "/api/v1/registry"
OK, CRITICAL = 0, 2


@pytest.fixture
def core_site(
    notifying_core: NotifyingCore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    api_client_for: Callable[[User | None], APIClient],
) -> dict[str, Any]:
    """web1 (team web) with passive services, the email channel, a node on the running core."""
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 30.0)
    core = notifying_core
    with transaction.atomic():
        Command.objects.create(
            name="notify-email",
            channel="email",
            command_line=f'{core.notify_script} "$CONTACTNAME$" "$NOTIFICATIONTYPE$" "$HOSTNAME$" '
            '"$SERVICEDESC$" "$SERVICESTATE$"',
        )
        check = Command.objects.create(name="check-true", command_line="/bin/true")
        HostTemplate.objects.create(
            name="e2e-host",
            check_command=check,
            max_check_attempts=1,
            check_interval=3600,
            retry_interval=3600,
        )
        ServiceTemplate.objects.create(
            name="e2e-service",
            check_command=check,
            max_check_attempts=1,  # the first CRITICAL is hard: it notifies
            check_interval=3600,
            retry_interval=3600,
            active_checks_enabled=False,
            passive_checks_enabled=True,
            notification_interval=0,
            notification_options="w,u,c,r",
        )
        web, dba = Team.objects.create(name="web"), Team.objects.create(name="dba")
        users = {
            name: User.objects.create_user(name, f"{name}@example.org") for name in ("alice", "carol", "dave")
        }
        web.members.add(users["alice"])
        dba.members.add(users["carol"], users["dave"])
        staff = User.objects.create_user("staff", "staff@example.org", is_staff=True)
    NaemonNode.objects.create(
        name="core", role="master", notify_filter_path=core.filter_path(), **core.node_fields()
    )
    return {"core": core, "api": api_client_for(staff), **users}


def confirmed(response: Any) -> None:
    """The write deployed and the core runs it."""
    assert response.status_code == 202, response.content
    deployment = Deployment.objects.latest("pk")
    assert deployment.state == "confirmed", (deployment.error, deployment.verify_output)


def notifications(core: NotifyingCore, service: str) -> int:
    """How many notifications the core counts for web1's service (its status file)."""
    return int(core.services()[("web1", service)]["current_notification_number"])


def test_a_service_dependency_holds_back_the_dependents_notification_while_its_master_is_critical(
    core_site: dict[str, Any],
) -> None:
    core: NotifyingCore = core_site["core"]
    api: APIClient = core_site["api"]
    services = [{"description": name, "templates": ["e2e-service"]} for name in ("DB", "App")]
    body = {"team": "web", "address": "127.0.0.1", "templates": ["e2e-host"], "services": services}
    confirmed(api.put(f"{API}/hosts/web1/", body, format="json"))
    dependency = {"service": "web1/App", "master_service": "web1/DB", "notification_failure_criteria": "c"}
    confirmed(api.post(f"{API}/servicedependencies/", dependency, format="json"))

    core.submit("web1", "DB", CRITICAL, "CRITICAL - db down")
    wait_for("the master's notification", lambda: "alice PROBLEM web1/DB CRITICAL" in core.sent(), timeout=30)
    core.submit("web1", "App", CRITICAL, "CRITICAL - no db")
    wait_for(
        "the core to take App's result", lambda: core.services()[("web1", "App")]["current_state"] == "2"
    )
    # The core decided on App's notification when it took the result: none, the master is CRITICAL.
    assert notifications(core, "App") == 0 and notifications(core, "DB") == 1
    assert not [line for line in core.sent() if "web1/App" in line]

    # The master recovers: App's next CRITICAL result is notified (the dependency no longer holds).
    core.submit("web1", "DB", OK, "OK")
    wait_for("DB to recover", lambda: core.services()[("web1", "DB")]["current_state"] == "0")
    core.submit("web1", "App", CRITICAL, "CRITICAL - still broken")
    wait_for("App's notification", lambda: "alice PROBLEM web1/App CRITICAL" in core.sent(), timeout=30)


def test_an_escalation_adds_its_contacts_from_the_nth_notification_each_by_their_rules(
    core_site: dict[str, Any],
) -> None:
    core: NotifyingCore = core_site["core"]
    api: APIClient = core_site["api"]
    with transaction.atomic():
        NotificationRule.objects.create(
            user=core_site["dave"], action="suppress", hosts=["web1"], comment="not mine"
        )
    service = {"description": "Disk", "templates": ["e2e-service"], "notification_interval": 1}
    body = {"team": "web", "address": "127.0.0.1", "templates": ["e2e-host"], "services": [service]}
    confirmed(api.put(f"{API}/hosts/web1/", body, format="json"))
    # Naemon sends an escalated notification to the escalation's contacts (not also the object's):
    # alice is listed to stay on it; carol and dave are added from the 2nd notification.
    escalation = {
        "service": "web1/Disk",
        "first_notification": 2,
        "last_notification": 0,
        "notification_interval": 1,
        "contacts": ["alice", "carol", "dave"],
    }
    confirmed(api.post(f"{API}/serviceescalations/", escalation, format="json"))

    def daves_rules() -> bool:
        compiled = snapshot.read_contact(core.notify_dir / "snapshot", "dave")
        return compiled is not None and bool(compiled["rules"])

    wait_for("dave's rules in the node's snapshot", daves_rules, timeout=15)

    core.submit("web1", "Disk", CRITICAL, "CRITICAL - full")
    wait_for("the first notification", lambda: core.sent(), timeout=30)
    assert core.sent() == ["alice PROBLEM web1/Disk CRITICAL"]
    assert {d["contact"] for d in core.decisions()} == {"alice"}  # carol and dave were not asked yet

    def escalated() -> bool:
        # Naemon re-notifies on a check result once the interval has passed: keep results coming.
        core.submit("web1", "Disk", CRITICAL, "CRITICAL - still full")
        return any(line.startswith("carol ") for line in core.sent())

    wait_for("the escalated notification", escalated, timeout=30, interval=0.5)
    assert "carol PROBLEM web1/Disk CRITICAL" in core.sent()
    assert not any(line.startswith("dave ") for line in core.sent())
    wait_for("dave's decision", lambda: any(d["contact"] == "dave" for d in core.decisions()), timeout=15)
    dave = next(d for d in core.decisions() if d["contact"] == "dave")
    assert dave["decision"] == "suppress" and dave["rule"], dave  # his rule decided, as for any notification
