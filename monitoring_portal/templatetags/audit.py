"""Template tags of the audit trail: an object's History section and a row's diff, readable."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from auditlog.models import LogEntry
from django import template
from django.db import models
from django.urls import reverse

from monitoring_portal import audit

register = template.Library()

HISTORY_ROWS = 50


@register.inclusion_tag("audit/_history.html")
def audit_history(obj: models.Model) -> dict[str, Any]:
    """The History section of an object page: its latest changes (all of them in the API)."""
    entries = list(audit.history_of(obj)[: HISTORY_ROWS + 1])
    return {"entries": entries[:HISTORY_ROWS], "more": len(entries) > HISTORY_ROWS, "obj": obj}


def _text(value: Any) -> str:
    if value is None or value == "None":
        return "—"
    return value if isinstance(value, str) else repr(value)


@register.filter
def audit_diff(entry: LogEntry) -> list[tuple[str, str, str]]:
    """(field, before, after) per changed field; a membership change says what joined or left."""
    rows: list[tuple[str, str, str]] = []
    for name, change in sorted((entry.changes or {}).items()):
        if isinstance(change, dict) and change.get("type") == "m2m":
            objects = ", ".join(str(o) for o in change.get("objects", []))
            if change.get("operation") == "add":
                rows.append((name, "", f"+ {objects}"))
            else:
                rows.append((name, f"- {objects}", ""))
        elif isinstance(change, list | tuple) and len(change) == 2:
            rows.append((name, _text(change[0]), _text(change[1])))
    return rows


@register.filter
def audit_action(entry: LogEntry) -> str:
    return {
        LogEntry.Action.CREATE: "created",
        LogEntry.Action.UPDATE: "changed",
        LogEntry.Action.DELETE: "deleted",
    }.get(entry.action, "accessed")


@register.filter
def audit_data(entry: LogEntry, key: str) -> str:
    data = entry.additional_data if isinstance(entry.additional_data, dict) else {}
    value = data.get(key)
    return value if isinstance(value, str) else ""


@register.filter
def audit_changes_url(deployment: Any, deployments: Any) -> str:
    """/audit/ for the registry changes a confirmed deployment carried ("" when it cannot tell).

    A deploy renders the latest registry, so it carries what was written after the node's
    previous confirmed deployment began and before this one began: that window, taken from the
    node's deployment list on the page (newest first, no extra query). It lists every registry
    change in the window, so for a poller it includes objects of other nodes too; without an
    older confirmed deployment on the page there is no honest start, and no link.
    """
    if deployment.state != "confirmed" or deployment.started_at is None:
        return ""
    rows = list(deployments)
    older = rows[rows.index(deployment) + 1 :] if deployment in rows else []
    previous = next((d for d in older if d.state == "confirmed" and d.started_at is not None), None)
    if previous is None:
        return ""
    query = urlencode(
        {
            "kind": "registry",
            "since": previous.started_at.isoformat(),
            "until": deployment.started_at.isoformat(),
        }
    )
    return f"{reverse('audit')}?{query}"
