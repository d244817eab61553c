"""Everyone's notification preferences as one file, and back (staff's backup and bulk edit).

    manage.py preferences_export export [--user alice ...] [--format yaml|json] [-o FILE]
    manage.py preferences_export import FILE

The file is ``{"version": 1, "users": {username: document}}``, each document the one of
``GET /api/v1/preferences/export`` (``preferences.export``). ``import`` validates every section
before writing, applies all of them in one transaction and only what differs (the same file
twice changes nothing); users not in the file are left alone. A bad file names the path of
the bad field (``users.alice.rules[2].states``) and changes nothing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from preferences import export


class Command(BaseCommand):
    help = "Export or import every user's notification preferences (one file, a section per user)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="command", required=True)
        out = sub.add_parser("export", help="Write everyone's preferences (or --user's).")
        out.add_argument("--user", action="append", default=[], help="Only this user (repeatable).")
        out.add_argument("--format", choices=["yaml", "json"], default="yaml")
        out.add_argument("-o", "--output", help="File to write (default: standard output).")
        into = sub.add_parser("import", help="Apply a file of `export` (YAML or JSON).")
        into.add_argument("file", help="The file ('-': standard input).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["command"] == "export":
            self._export(options)
        else:
            self._import(options["file"])

    def _export(self, options: dict[str, Any]) -> None:
        users = User.objects.order_by("username")
        if options["user"]:
            users = users.filter(username__in=options["user"])
            missing = sorted(set(options["user"]) - set(users.values_list("username", flat=True)))
            if missing:
                raise CommandError(f"No such user: {', '.join(missing)}.")
        data = export.export_users(users)
        if options["format"] == "json":
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        else:
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")

    def _import(self, name: str) -> None:
        try:
            text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}.") from None
        try:
            data = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as exc:
            raise CommandError(f"{name} is neither YAML nor JSON: {exc}") from None
        try:
            changed = export.import_users(data)
        except export.DocumentError as exc:
            raise CommandError(f"{exc.path}: {exc.message} (nothing was changed)") from None
        if changed:
            self.stdout.write(f"Changed: {', '.join(changed)}.")
        else:
            self.stdout.write("Nothing to change.")
