"""manage.py create_kiosk_link --name NAME [--days N] [--base-url URL]: a read-only wall link."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from livestatus import wall_kiosk


class Command(BaseCommand):
    help = (
        "Print a read-only kiosk link to the control-room wall (/wall/?kiosk=<signed token>). "
        "Revoke it by adding its name to WALL_KIOSK_REVOKED; revoke all by changing WALL_KIOSK_SALT."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the screen's name, e.g. control-room-1")
        parser.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
        parser.add_argument(
            "--base-url", default="", help="print an absolute link, e.g. https://portal.example.org"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = wall_kiosk.make_token(options["name"], days=options["days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        path = f"{reverse('wall:wall')}?{wall_kiosk.PARAM}={quote(token, safe='')}"
        self.stdout.write(options["base_url"].rstrip("/") + path)
