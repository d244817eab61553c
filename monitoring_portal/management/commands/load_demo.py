"""Load a small, realistic demo site. Idempotent: a second run changes nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from monitoring_portal.models import Team

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


class Command(BaseCommand):
    help = "Load the demo site (teams, users; later: hosts, services, nodes). Safe to run twice."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
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
        self.stdout.write(
            "Demo site: "
            + (", ".join(created) + " created." if created else "already loaded, nothing changed.")
        )
