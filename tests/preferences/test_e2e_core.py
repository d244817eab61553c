"""Preferences end to end with a real core: registry → deploy → Nagios 4 → notify-filter → sent or not.

The registry renders the contacts' notification commands wrapped by the notify-filter and
deploys them to a running nagios4 (Debian's, which reads Naemon's object format); the
preferences are published to the node's snapshot. Services change state through passive
check results on the external command file; the "real" notification command appends a line
per notification to a file. Celery runs eagerly and the database commits for real, so
``transaction.on_commit`` publishes and deploys as in production.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.test import APIClient

from preferences import snapshot
from preferences.models import NotificationProfile, NotificationRule
from registry import deploy, tasks
from registry.models import (
    Command,
    Contact,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    HostUse,
    NaemonNode,
    Service,
    ServiceTemplate,
    ServiceUse,
)
from tests.preferences.conftest import NotifyingCore
from tests.services.nagios import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

OK, CRITICAL = 0, 2
WEB, DB = ("web1", "HTTP"), ("db1", "Postgres")


@pytest.fixture
def site(notifying_core: NotifyingCore, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Registry objects deployed to the core: web1/HTTP in host group web, db1/Postgres in db.

    alice is notified by two channels (file and sms), bob by one (file).
    """
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 30.0)
    core = notifying_core
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob")
    with transaction.atomic():
        node = NaemonNode.objects.create(
            name="core", role="master", notify_filter_path=core.filter_path(), **core.node_fields()
        )
        assert node.notify_dir == str(core.notify_dir)
        check = Command.objects.create(name="check-true", command_line="/bin/true")
        notify = Command.objects.create(
            name="notify-file",
            channel="file",
            command_line=f'{core.notify_script} "$CONTACTNAME$" "$NOTIFICATIONTYPE$" "$HOSTNAME$" "$SERVICEDESC$" "$SERVICESTATE$"',
        )
        # alice's second channel: its lines read "alice:sms ...".
        sms = Command.objects.create(
            name="notify-sms",
            channel="sms",
            command_line=f'{core.notify_script} "$CONTACTNAME$:sms" "$NOTIFICATIONTYPE$" "$HOSTNAME$" "$SERVICEDESC$" "$SERVICESTATE$"',
        )
        host_template = HostTemplate.objects.create(
            name="e2e-host",
            check_command=check,
            max_check_attempts=1,
            check_interval=3600,
            retry_interval=3600,
        )
        service_template = ServiceTemplate.objects.create(
            name="e2e-service",
            check_command=check,
            max_check_attempts=1,  # the first CRITICAL is hard: it notifies
            check_interval=3600,
            retry_interval=3600,
            active_checks_enabled=False,
            passive_checks_enabled=True,
            notification_interval=0,  # one notification per problem
            notification_options="w,u,c,r",
        )
        contacts = []
        for name, user, commands in (("alice", alice, (notify, sms)), ("bob", bob, (notify,))):
            contact = Contact.objects.create(name=name, user=user)
            contact.host_notification_commands.add(*commands)
            contact.service_notification_commands.add(*commands)
            contacts.append(contact)
        for (host_name, description), group in ((WEB, "web"), (DB, "db")):
            host = Host.objects.create(name=host_name, address="127.0.0.1")
            host.hostgroups.add(HostGroup.objects.create(name=group))
            HostUse.objects.create(host=host, template=host_template)
            service = Service.objects.create(host=host, description=description)
            ServiceUse.objects.create(service=service, template=service_template)
            service.contacts.add(*contacts)
        # alice: only CRITICALs on host group web; everything else suppressed. bob: Naemon's behaviour.
        NotificationProfile.objects.create(user=alice, default="suppress")
        NotificationRule.objects.create(user=alice, action="notify", hostgroups=["web"], states=["CRITICAL"])
        tasks.request_deployments([node], triggered_by="test", reason="preferences e2e")
    deployment = Deployment.objects.get(node=node)
    assert deployment.state == "confirmed", (deployment.error, deployment.verify_output)
    assert core.status().hosts == {"web1", "db1"}
    # Published on commit by the changes above (no Naemon involved).
    assert snapshot.read_contact(core.notify_dir / "snapshot", "alice") is not None
    return {"core": core, "node": node, "alice": alice, "bob": bob}


def run_round(core: NotifyingCore, code: int, services: list[tuple[str, str]], decisions: int) -> None:
    """Submit a check result for each service and wait until the filter decided ``decisions`` more times."""
    before = len(core.decisions())
    for host, service in services:
        core.submit(host, service, code, "CRITICAL - e2e" if code else "OK - e2e")
    wait_for(
        f"{decisions} more notify-filter decisions",
        lambda: len(core.decisions()) >= before + decisions and core.running(),
        timeout=30,
    )


def wait_sent(core: NotifyingCore, expected: list[str]) -> None:
    """The notification command's lines are exactly ``expected`` (in any order)."""
    wait_for(f"notifications {expected}", lambda: len(core.sent()) >= len(expected), timeout=15)
    assert Counter(core.sent()) == Counter(expected), core.sent()


def reasons(core: NotifyingCore, contact: str, host: str, kind: str) -> list[str]:
    return [
        d["reason"] for d in core.decisions() if (d["contact"], d["host"], d["type"]) == (contact, host, kind)
    ]


def test_preferences_decide_what_the_running_core_sends(
    site: dict[str, Any], api_client_for: Callable[[User | None], APIClient]
) -> None:
    core: NotifyingCore = site["core"]
    started, pid = core.status().program_start, core.proc.pid if core.proc else None

    # Round 1: both services go CRITICAL, then recover. Per service: alice twice (two channels), bob once.
    run_round(core, CRITICAL, [WEB, DB], decisions=6)
    run_round(core, OK, [WEB, DB], decisions=6)
    wait_sent(
        core,
        [
            "alice PROBLEM web1/HTTP CRITICAL",
            "alice RECOVERY web1/HTTP OK",
            # Each channel gets the recovery of the problem it was sent.
            "alice:sms PROBLEM web1/HTTP CRITICAL",
            "alice:sms RECOVERY web1/HTTP OK",
            "bob PROBLEM web1/HTTP CRITICAL",
            "bob PROBLEM db1/Postgres CRITICAL",
            "bob RECOVERY web1/HTTP OK",
            "bob RECOVERY db1/Postgres OK",
        ],
    )
    # alice's rule names CRITICAL on web: its recovery follows the problem she was sent;
    # db's problem was not sent to her, so neither is its recovery.
    assert reasons(core, "alice", "db1", "PROBLEM") == ["no rule matched; default suppress"] * 2
    assert reasons(core, "alice", "db1", "RECOVERY") == ["its problem was not sent to this contact"] * 2
    assert reasons(core, "alice", "web1", "RECOVERY") == ["its problem was sent to this contact"] * 2

    # alice changes her rules through the API: databases now, and no recoveries at all.
    client = api_client_for(site["alice"])
    [rule] = client.get("/api/v1/preferences/rules/").json()["results"]
    response = client.put(
        f"/api/v1/preferences/rules/{rule['id']}/",
        {"action": "notify", "hostgroups": ["db"], "states": ["CRITICAL"], "comment": "databases"},
        format="json",
    )
    assert response.status_code == 200, response.content
    no_recoveries = client.post(
        "/api/v1/preferences/rules/", {"action": "suppress", "types": ["RECOVERY"]}, format="json"
    )
    assert no_recoveries.status_code == 201, no_recoveries.content
    compiled = snapshot.read_contact(core.notify_dir / "snapshot", "alice")
    assert compiled is not None and len(compiled["rules"]) == 2

    # Round 2 follows the new rules, without any reload of the core.
    core.sent_log.unlink()
    run_round(core, CRITICAL, [WEB, DB], decisions=6)
    run_round(core, OK, [WEB, DB], decisions=6)
    wait_sent(
        core,
        [
            "alice PROBLEM db1/Postgres CRITICAL",
            "alice:sms PROBLEM db1/Postgres CRITICAL",
            "bob PROBLEM web1/HTTP CRITICAL",
            "bob PROBLEM db1/Postgres CRITICAL",
            "bob RECOVERY web1/HTTP OK",
            "bob RECOVERY db1/Postgres OK",
        ],
    )
    # Her rule naming RECOVERY decides for recoveries, even of a problem she was sent.
    assert reasons(core, "alice", "db1", "RECOVERY")[-1] == f"rule {no_recoveries.json()['id']} matched"
    assert reasons(core, "alice", "db1", "PROBLEM")[-1] == f"rule {rule['id']} matched"
    assert core.status().program_start == started and core.proc is not None and core.proc.pid == pid
    assert core.restarts() == 1  # the initial deploy's, nothing since

    # No snapshot on the node: everything goes out (fail open) and the log says why.
    shutil.rmtree(core.notify_dir / "snapshot")
    core.sent_log.unlink()
    run_round(core, CRITICAL, [WEB], decisions=3)
    wait_sent(
        core,
        [
            "alice PROBLEM web1/HTTP CRITICAL",
            "alice:sms PROBLEM web1/HTTP CRITICAL",
            "bob PROBLEM web1/HTTP CRITICAL",
        ],
    )
    last = core.decisions()[-3:]
    assert {d["decision"] for d in last} == {"notify"}
    assert all(d["reason"].startswith("fail open: no snapshot in ") for d in last), last
    assert core.status().program_start == started


def test_a_filter_the_core_cannot_run_lets_every_notification_out(site: dict[str, Any]) -> None:
    """A wrong notify_filter_path (or a broken virtualenv) must not silence a site: it sends, unfiltered."""
    core: NotifyingCore = site["core"]
    node: NaemonNode = site["node"]
    node.notify_filter_path = str(core.dir / "no-such-virtualenv" / "bin" / "notify-filter")
    node.save()
    with transaction.atomic():
        tasks.request_deployments([node], triggered_by="test", reason="a wrong filter path")
    latest = Deployment.objects.filter(node=node).latest("pk")
    assert latest.state == "confirmed", (latest.error, latest.verify_output)
    assert core.restarts() == 2

    for host, service in (WEB, DB):
        core.submit(host, service, CRITICAL, "CRITICAL - e2e")
    # alice's rules would have sent her only web's CRITICAL; nobody is left uninformed instead.
    wait_sent(
        core,
        [
            "alice PROBLEM web1/HTTP CRITICAL",
            "alice PROBLEM db1/Postgres CRITICAL",
            "alice:sms PROBLEM web1/HTTP CRITICAL",
            "alice:sms PROBLEM db1/Postgres CRITICAL",
            "bob PROBLEM web1/HTTP CRITICAL",
            "bob PROBLEM db1/Postgres CRITICAL",
        ],
    )
    assert core.decisions() == [], "the filter never ran"
    assert core.running()
