"""Contacts follow ownership, end to end: a host added through the API with only a team notifies
the team's members on a running Nagios 4, each as their own rules decide.

Nobody is named as a contact anywhere: alice and bob are in team web and have an email, so the
portal makes them contacts with the site's email channel (registry/signals.py); the host's
team makes the team's contact group its recipients (registry/state.py). bob's rule suppresses
web1's problems: the notify-filter drops his copy. Celery runs eagerly and the database commits
for real, so deployments and snapshots go out on commit as in production.
"""

from __future__ import annotations

from collections import Counter
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
from registry.models import Command, Contact, Deployment, HostTemplate, NaemonNode, ServiceTemplate
from tests.preferences.conftest import NotifyingCore, notifying_core  # noqa: F401 (the fixture)
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

CRITICAL = 2


@pytest.fixture
def team_site(notifying_core: NotifyingCore, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # noqa: F811
    """Team web (alice, bob, with emails), the site's email channel, a node on the running core."""
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
        web = Team.objects.create(name="web")
        alice = User.objects.create_user("alice", "alice@example.org")
        bob = User.objects.create_user("bob", "bob@example.org")
        web.members.add(alice, bob)
    node = NaemonNode.objects.create(
        name="core", role="master", notify_filter_path=core.filter_path(), **core.node_fields()
    )
    with transaction.atomic():
        NotificationRule.objects.create(user=bob, action="suppress", hosts=["web1"], comment="not my hosts")
    return {"core": core, "node": node, "alice": alice, "bob": bob}


def test_a_host_with_only_a_team_notifies_its_members_by_their_rules(
    team_site: dict[str, Any], api_client_for: Callable[[User | None], APIClient]
) -> None:
    core: NotifyingCore = team_site["core"]
    # The users became contacts with the email channel, named after them; nobody named them anywhere.
    assert sorted(Contact.objects.values_list("name", "email")) == [
        ("alice", "alice@example.org"),
        ("bob", "bob@example.org"),
    ]

    body = {
        "name": "web1",
        "address": "127.0.0.1",
        "team": "web",
        "templates": ["e2e-host"],
        "services": [{"description": "HTTP", "templates": ["e2e-service"]}],
    }
    response = api_client_for(team_site["alice"]).put("/api/v1/registry/hosts/web1/", body, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["contacts"] == [] and response.json()["contact_groups"] == []
    assert response.json()["recipients"] == [
        {"contact": "alice", "via": ["team web"]},
        {"contact": "bob", "via": ["team web"]},
    ]
    deployment = Deployment.objects.filter(node=team_site["node"]).latest("pk")
    assert deployment.state == "confirmed", (deployment.error, deployment.verify_output)
    assert deployment.warnings == [], deployment.warnings
    assert "web1" in core.status().hosts

    def bobs_rules() -> bool:
        compiled = snapshot.read_contact(core.notify_dir / "snapshot", "bob")
        return compiled is not None and bool(compiled["rules"])

    wait_for("bob's rules in the node's snapshot", bobs_rules, timeout=15)

    core.submit("web1", "HTTP", CRITICAL, "CRITICAL - e2e")
    wait_for("a decision for each member", lambda: len(core.decisions()) >= 2 and core.running(), timeout=30)
    wait_for("alice's notification", lambda: core.sent(), timeout=15)
    assert Counter(core.sent()) == Counter(["alice PROBLEM web1/HTTP CRITICAL"])
    decided = {d["contact"]: d for d in core.decisions()}
    assert decided["alice"]["decision"] == "notify"
    assert decided["bob"]["decision"] == "suppress"
    assert decided["bob"]["rule"], decided["bob"]  # his rule decided, not the default
