"""manage.py import_naemon_config PATH...: existing Naemon object definitions into the registry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from registry.importer import import_paths
from registry.models import NaemonNode
from registry.tasks import request_deployments


class Command(BaseCommand):
    help = (
        "Import Naemon/Nagios object definitions (files, or directories of *.cfg) into the registry. "
        "Everything is validated; what is invalid or unsupported is reported and skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="object config files or directories")
        parser.add_argument("--dry-run", action="store_true", help="report what would happen, change nothing")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="fail, changing nothing, if any directive or definition cannot be held (default: report it)",
        )
        parser.add_argument(
            "--deploy",
            action="store_true",
            help="request a deployment of every enabled node afterwards (by default the running config "
            "still defines these objects: remove it from the core first)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = import_paths(options["paths"], dry_run=options["dry_run"], strict=options["strict"])
        for line in report.lines():
            self.stdout.write(line)
        if options["strict"] and report.lost():
            raise CommandError(
                "--strict: the import would lose the directives or objects listed; nothing was changed"
            )
        if options["dry_run"]:
            self.stdout.write("dry run: nothing was changed")
        elif options["deploy"]:
            with transaction.atomic():
                deployments = request_deployments(
                    NaemonNode.objects.filter(enabled=True), triggered_by="import"
                )
            self.stdout.write(f"requested {len(deployments)} deployment(s)")
        if report.skipped:
            self.stderr.write(f"{len(report.skipped)} definition(s) skipped; see above")
