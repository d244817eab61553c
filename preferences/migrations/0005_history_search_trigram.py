"""Trigram indexes for the history's free-text search (``q``: host, service or contact contains).

Django's ``icontains`` on PostgreSQL is ``UPPER(col::text) LIKE UPPER('%x%')``: no b-tree helps a
leading wildcard, so at 1,000,000 decisions it was a sequential scan (830 ms, bench/
bench_history.py). GIN indexes with ``gin_trgm_ops`` on exactly those expressions serve it.
``pg_trgm`` is a trusted extension (PostgreSQL 13+): the database's owner may create it. Other
databases (SQLite, the embedded default) keep the plain scan.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

COLUMNS = ("host", "service", "contact")
TABLE = "preferences_notificationdecision"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS prefs_decision_{column}_trgm ON {TABLE} "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS prefs_decision_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("preferences", "0004_handovers")]

    operations = [migrations.RunPython(create, drop)]
