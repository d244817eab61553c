"""Fixtures of the preferences tests: a small registry with contacts and channels; a notifying Nagios 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from preferences.models import NotificationRule
from registry import runner
from registry.models import Command, Contact, ContactGroup, Host, HostGroup, Service, ServiceGroup
from tests.services.nagios import BASE_OBJECTS, REPO, NagiosCore, nagios_available
from tests.services.required import require_service


@dataclass
class Registry:
    """web1 in host group web (HTTP in service group frontend), db1 in db (Postgres); two channels."""

    web: HostGroup
    db: HostGroup
    frontend: ServiceGroup
    web1: Host
    db1: Host
    http: Service
    postgres: Service
    email: Command
    sms: Command
    log: Command


@pytest.fixture
def registry(db: None) -> Registry:
    web = HostGroup.objects.create(name="web")
    dbgroup = HostGroup.objects.create(name="db")
    frontend = ServiceGroup.objects.create(name="frontend")
    web1 = Host.objects.create(name="web1")
    web1.hostgroups.add(web)
    db1 = Host.objects.create(name="db1")
    db1.hostgroups.add(dbgroup)
    http = Service.objects.create(host=web1, description="HTTP")
    http.servicegroups.add(frontend)
    postgres = Service.objects.create(host=db1, description="Postgres")
    return Registry(
        web=web,
        db=dbgroup,
        frontend=frontend,
        web1=web1,
        db1=db1,
        http=http,
        postgres=postgres,
        email=Command.objects.create(name="notify-email", command_line="/bin/true email", channel="email"),
        sms=Command.objects.create(name="notify-sms", command_line="/bin/true sms", channel="sms"),
        log=Command.objects.create(name="notify-log", command_line="/bin/true log"),
    )


def make_contact(name: str, user: User | None, *commands: Command) -> Contact:
    """A contact (linked to ``user``) notified through ``commands`` for hosts and services."""
    contact = Contact.objects.create(name=name, user=user)
    contact.host_notification_commands.add(*commands)
    contact.service_notification_commands.add(*commands)
    return contact


def make_group(name: str, *members: Contact) -> ContactGroup:
    group = ContactGroup.objects.create(name=name)
    group.members.add(*members)
    return group


def make_rule(user: User, **fields: Any) -> NotificationRule:
    """A rule appended to the user's list (validated like the API does)."""
    last = NotificationRule.objects.filter(user=user).order_by("-position").first()
    rule = NotificationRule(user=user, position=last.position + 1 if last else 0, **fields)
    rule.full_clean()
    rule.save()
    return rule


# --- a real Nagios 4 that notifies through the notify-filter ------------------------------------

NOTIFY_SCRIPT = """#!/bin/sh
# The "real" notification command: one line per notification that went out.
printf '%s %s %s/%s %s\\n' "$1" "$2" "$3" "$4" "$5" >> {log}
"""
FILTER_WRAPPER = """#!/bin/sh
# The notify-filter for a core whose user cannot run the virtualenv's interpreter (it may live
# under a private home): the filter is plain Python without dependencies.
PYTHONPATH={repo} exec {python} -m preferences.notify_filter "$@"
"""


class NotifyingCore(NagiosCore):
    """A NagiosCore with notifications on, a command that logs notifications, and a notify_dir."""

    def __init__(self) -> None:
        super().__init__(f"prefs-{uuid.uuid4().hex[:8]}")
        self.notify_dir = self.dir / "notify"
        self.sent_log = self.dir / "sent.log"
        self.notify_script = self.dir / "notify.sh"

    def main_config_text(self, cfg_dir: Path | None = None) -> str:
        return super().main_config_text(cfg_dir).replace("enable_notifications=0", "enable_notifications=1")

    def prepare(self, objects: str = BASE_OBJECTS) -> None:
        super().prepare(objects)
        self.notify_script.write_text(NOTIFY_SCRIPT.format(log=self.sent_log))
        self.notify_script.chmod(0o755)
        (self.notify_dir / "state").mkdir(parents=True)
        self.own()  # the filter, as Nagios's user, writes its log and sent-problem records here

    def filter_path(self) -> str:
        """The virtualenv's notify-filter if Nagios's user can run it, else a wrapper around a system Python."""
        venv_filter = Path(sys.executable).parent / "notify-filter"
        if self.user is None or _runs_as(self.user, [sys.executable, "-c", "pass"]):
            return str(venv_filter)
        python = next((p for p in ("/usr/bin/python3", "/usr/bin/python3.11") if os.access(p, os.X_OK)), None)
        if python is None or not _runs_as(self.user, [python, "-c", "import datetime; datetime.UTC"]):
            raise AssertionError(
                f"user {self.user} can run neither {sys.executable} nor a system Python >= 3.11"
            )
        wrapper = self.dir / "notify-filter"
        wrapper.write_text(FILTER_WRAPPER.format(repo=REPO, python=python))
        wrapper.chmod(0o755)
        return str(wrapper)

    def submit(self, host: str, service: str, code: int, output: str) -> None:
        """A passive service check result through the external command file."""
        runner.send_external_command(
            str(self.command_file),
            f"[{int(time.time())}] PROCESS_SERVICE_CHECK_RESULT;{host};{service};{code};{output}",
        )

    def sent(self) -> list[str]:
        """Lines the notification command wrote, in order."""
        try:
            return self.sent_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def decisions(self) -> list[dict[str, Any]]:
        """The notify-filter's decision log."""
        try:
            text = (self.notify_dir / "decisions.log").read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines()]


def _runs_as(user: str, argv: list[str]) -> bool:
    result = subprocess.run(
        ["runuser", "-u", user, "--", *argv], capture_output=True, timeout=30, check=False
    )
    return result.returncode == 0


@pytest.fixture
def notifying_core() -> Iterator[NotifyingCore]:
    """A running nagios4 with notifications enabled (as root: it drops to the nagios user)."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    core = NotifyingCore()
    core.prepare()
    try:
        core.start()
        yield core
    finally:
        core.stop()
        core.cleanup()
