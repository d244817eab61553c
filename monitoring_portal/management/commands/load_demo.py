"""Load a small, realistic demo site. Idempotent: a second run changes nothing.

The demo creates staff users with a shared password: on a real site (DEBUG off) it runs only
with ``--force`` and an explicit ``PORTAL_DEMO_PASSWORD``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from monitoring_portal.models import Team
from registry.models import (
    Command as NaemonCommand,
)
from registry.models import (
    Contact,
    Host,
    HostGroup,
    HostTemplate,
    HostUse,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    ServiceUse,
    TimePeriod,
)

DEMO_TEAMS = {
    "web": "Web front ends and load balancers",
    "db": "Database servers",
    "control-room": "24/7 operators",
}
# username -> (full name, teams, staff)
DEMO_USERS = {
    "demo": ("Demo Admin", ["web", "db", "control-room"], True),
    "alice": ("Alice Martin", ["web"], False),
    "bob": ("Bob Keller", ["db"], False),
    "carol": ("Carol Weber", ["control-room"], False),
}
#: Node 'local' without a core; `manage.py demo_core` says on it when its demo core is attached.
DEMO_NODE_ALIAS = "Demo node (rendered into var/, never reloaded)"


class Command(BaseCommand):
    help = "Load the demo site: teams, users, a local node, hosts, services, contacts. Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load the demo although DEBUG is off (a real site); needs PORTAL_DEMO_PASSWORD.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off: this looks like a real site, and the demo adds staff users with a "
                "shared password. Use `make run` for the demo, or --force (with PORTAL_DEMO_PASSWORD) "
                "if you really want it here."
            )
        if not settings.PORTAL_DEMO_PASSWORD:
            raise CommandError("PORTAL_DEMO_PASSWORD is not set: the demo users need a password.")
        user_model = get_user_model()
        created: list[str] = []
        teams = {}
        for name, description in DEMO_TEAMS.items():
            teams[name], was_created = Team.objects.get_or_create(
                name=name, defaults={"description": description}
            )
            if was_created:
                created.append(f"team {name}")
        for username, (full_name, team_names, staff) in DEMO_USERS.items():
            first, last = full_name.split(" ", 1)
            user, was_created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.org",
                    "is_staff": staff,
                    "is_superuser": staff,
                },
            )
            if was_created:
                # Only on creation: a second run must not change a password someone set.
                user.set_password(settings.PORTAL_DEMO_PASSWORD)
                user.save(update_fields=["password"])
                created.append(f"user {username}")
            for team_name in team_names:
                teams[team_name].members.add(user)
        created += self._registry(teams)
        self.stdout.write(
            "Demo site: "
            + (", ".join(created) + " created." if created else "already loaded, nothing changed.")
        )

    def _registry(self, teams: dict[str, Team]) -> list[str]:
        """A local node (rendered into var/, not reloaded) with a few hosts and services."""
        created: list[str] = []

        def get(model: Any, defaults: dict[str, Any] | None = None, **lookup: Any) -> Any:
            obj, was_created = model.objects.get_or_create(defaults=defaults or {}, **lookup)
            if was_created:
                created.append(f"{model._meta.verbose_name} {obj}")
            return obj

        var = Path(settings.VAR_DIR) / "demo-naemon"
        # Verify with Nagios 4 when it is installed (same object format as Naemon).
        verify = "nagios4 -v {main_config}" if shutil.which("nagios4") else ""
        node = get(
            NaemonNode,
            name="local",
            defaults={
                "alias": DEMO_NODE_ALIAS,
                "config_dir": str(var / "portal.d"),
                "main_config": "",
                "verify_command": verify,
                "reload_method": "none",
                "notify_dir": str(var / "notify"),
            },
        )
        always = get(
            TimePeriod,
            name="24x7",
            defaults={
                "alias": "Always",
                "ranges": dict.fromkeys(
                    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
                    "00:00-24:00",
                ),
            },
        )
        alive = get(
            NaemonCommand,
            name="check-host-alive",
            defaults={
                "command_line": "$USER1$/check_ping -H $HOSTADDRESS$ -w 3000.0,80% -c 5000.0,100% -p 5"
            },
        )
        http = get(
            NaemonCommand,
            name="check_http",
            defaults={"command_line": "$USER1$/check_http -H $HOSTADDRESS$ -p $ARG1$"},
        )
        ssh = get(
            NaemonCommand, name="check_ssh", defaults={"command_line": "$USER1$/check_ssh $HOSTADDRESS$"}
        )
        pgsql = get(
            NaemonCommand,
            name="check_pgsql",
            defaults={"command_line": "$USER1$/check_pgsql -H $HOSTADDRESS$"},
        )
        mail_host = get(
            NaemonCommand,
            name="notify-host-by-email",
            defaults={
                "channel": "email",
                "command_line": (
                    '/usr/bin/printf "%b" "$NOTIFICATIONTYPE$ $HOSTNAME$ is $HOSTSTATE$\\n" | /usr/bin/mail -s '
                    '"$NOTIFICATIONTYPE$ $HOSTNAME$" $CONTACTEMAIL$'
                ),
            },
        )
        mail_service = get(
            NaemonCommand,
            name="notify-service-by-email",
            defaults={
                "channel": "email",
                "command_line": (
                    '/usr/bin/printf "%b" "$NOTIFICATIONTYPE$ $HOSTNAME$/$SERVICEDESC$ is $SERVICESTATE$\\n" | '
                    '/usr/bin/mail -s "$NOTIFICATIONTYPE$ $HOSTNAME$/$SERVICEDESC$" $CONTACTEMAIL$'
                ),
            },
        )
        generic_host = get(
            HostTemplate,
            name="generic-host",
            defaults={
                "check_command": alive,
                "max_check_attempts": 3,
                "check_interval": 5,
                "retry_interval": 1,
                "check_period": always,
                "notification_period": always,
                "notification_interval": 60,
                "notification_options": "d,u,r",
            },
        )
        generic_service = get(
            ServiceTemplate,
            name="generic-service",
            defaults={
                "max_check_attempts": 3,
                "check_interval": 5,
                "retry_interval": 1,
                "check_period": always,
                "notification_period": always,
                "notification_interval": 60,
                "notification_options": "w,u,c,r",
            },
        )
        groups = {
            "web": get(HostGroup, name="web", defaults={"alias": "Web front ends", "team": teams["web"]}),
            "db": get(HostGroup, name="db", defaults={"alias": "Database servers", "team": teams["db"]}),
        }
        frontend = get(
            ServiceGroup, name="frontend", defaults={"alias": "What users see", "team": teams["web"]}
        )
        # The demo login is a contact too, so "My notifications" has someone to apply to.
        for username in ("demo", "alice", "bob", "carol"):
            user = get_user_model().objects.get(username=username)
            contact = get(
                Contact,
                name=username,
                defaults={
                    "alias": user.get_full_name(),
                    "user": user,
                    "email": user.email,
                    "host_notification_period": always,
                    "service_notification_period": always,
                },
            )
            if "contact " + username in created:
                contact.host_notification_commands.add(mail_host)
                contact.service_notification_commands.add(mail_service)
        hosts = [
            ("web01", "web", "192.0.2.11"),
            ("web02", "web", "192.0.2.12"),
            ("db01", "db", "192.0.2.21"),
            ("db02", "db", "192.0.2.22"),
        ]
        for name, group, address in hosts:
            host = get(
                Host,
                name=name,
                defaults={
                    "address": address,
                    "team": teams[group],
                    "custom_variables": {"_RACK": f"R{address[-2:]}"},
                },
            )
            if f"host {name}" not in created:
                continue
            HostUse.objects.create(host=host, template=generic_host, position=0)
            host.hostgroups.add(groups[group])
            host.contacts.add(*Contact.objects.filter(user__teams=teams[group]))
            checks: list[tuple[str, NaemonCommand, list[str]]] = [("SSH", ssh, [])] + (
                [("HTTP", http, ["80"])] if group == "web" else [("PostgreSQL", pgsql, [])]
            )
            for description, command, args in checks:
                service = Service.objects.create(
                    host=host, description=description, check_command=command, check_command_args=args
                )
                ServiceUse.objects.create(service=service, template=generic_service, position=0)
                if description == "HTTP":
                    service.servicegroups.add(frontend)
        del node
        return created
