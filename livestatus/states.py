"""What a Livestatus state is called and how bad it is: the words every status view uses.

The overview (wall, home page), the status pages and the status API name states, colour
them and sort problems with these, so that a DOWN host is "down" and on top everywhere.
"""

from __future__ import annotations

from livestatus.client import And, Expr, Filter

HOST_LABELS = {0: "UP", 1: "DOWN", 2: "UNREACHABLE"}
SERVICE_LABELS = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
#: State names accepted by the status filters, per kind of object.
HOST_STATES = {"up": 0, "down": 1, "unreachable": 2}
SERVICE_STATES = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}
PENDING_STATE = "pending"
#: Severity names, least to most severe; a tile is coloured by its worst.
SEVERITIES = ("pending", "ok", "warning", "unknown", "unreachable", "critical", "down")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
HOST_SEVERITY = {0: "ok", 1: "down", 2: "unreachable"}
SERVICE_SEVERITY = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}

CHECKED = Filter("has_been_checked", "=", 1)
PENDING = Filter("has_been_checked", "=", 0)


def in_state(value: int) -> Expr:
    """Objects in this state that have been checked.

    Icinga 2 reports a never-checked host as DOWN and a service as UNKNOWN: those are pending.
    """
    return And(Filter("state", "=", value), CHECKED)


def severity_rank(name: str) -> int:
    """Position of a severity name in ``SEVERITIES`` (unknown names sort first)."""
    return _RANK.get(name, 0)


def problem_sort_key(
    severity: str, since: float | None, host: str, service: str
) -> tuple[int, float, str, str]:
    """Most severe first; within a severity the newest first (what just broke is on top).

    ``since``: when the object entered its state (epoch seconds; None or 0 when unknown).
    """
    return (-severity_rank(severity), -(since or 0), host, service)
