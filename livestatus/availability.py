"""Availability of one host or service over a window: a state timeline and the time in each state.

Computed from the core's ``log`` table: the alerts (class 1, ``HOST ALERT``/``SERVICE ALERT``)
say when the state changed, and the state lines (class 6, ``INITIAL ... STATE`` at start-up and
``CURRENT ... STATE`` at each log rotation) say what it was at a moment, so the state at the
window's start is known when such a line precedes it. Time before the first known state is
"no data": it is shown and counted apart, never as OK. Like Nagios's availability report (its
default), only hard states count: a soft problem is a check still being retried. Downtime and
flapping lines are alerts too (class 1) but do not change the state, so they are ignored.

Pure Python (no Django): the detail page and the API feed it rows from ``livestatus.client``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livestatus.states import HOST_LABELS, SERVICE_LABELS

#: The windows offered, by name, in seconds.
WINDOWS: dict[str, int] = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
#: How far before a window's start the log is read for the state at its start: Naemon writes
#: ``CURRENT ... STATE`` lines at every (daily) log rotation.
LOOKBACK_SECONDS = 86400
#: The log classes read: 1 alerts, 6 state lines (naemon-livestatus ``LOGCLASS_STATE``).
LOG_CLASSES = (1, 6)
LOG_COLUMNS = ("time", "type", "state", "state_type")

#: The log lines that say which state the object is in from then on.
STATE_TYPES = frozenset(
    (
        "HOST ALERT",
        "SERVICE ALERT",
        "INITIAL HOST STATE",
        "INITIAL SERVICE STATE",
        "CURRENT HOST STATE",
        "CURRENT SERVICE STATE",
    )
)

NO_DATA = "no data"


@dataclass(frozen=True)
class StateChange:
    """The object entered ``state`` at ``time`` (epoch seconds)."""

    time: float
    state: int


@dataclass(frozen=True)
class Segment:
    """A stretch of the window in one state (``state`` None: no data)."""

    start: float
    end: float
    state: int | None

    @property
    def seconds(self) -> float:
        """How long the stretch lasts."""
        return self.end - self.start


@dataclass(frozen=True)
class Availability:
    """A window's timeline and the share of it spent in each state (and without data)."""

    start: float
    end: float
    labels: Mapping[int, str]
    segments: tuple[Segment, ...]

    def seconds(self) -> dict[str, float]:
        """Seconds per state label, every label present, plus ``NO_DATA``."""
        totals = dict.fromkeys([*self.labels.values(), NO_DATA], 0.0)
        for segment in self.segments:
            totals[self.label(segment.state)] += segment.seconds
        return totals

    def percent(self) -> dict[str, float]:
        """Percent of the window per state label and ``NO_DATA`` (they sum to 100)."""
        length = self.end - self.start
        return {
            label: 100 * seconds / length if length > 0 else 0.0 for label, seconds in self.seconds().items()
        }

    def label(self, state: int | None) -> str:
        """The name of a state (``NO_DATA`` for None; a state outside the labels by number)."""
        return NO_DATA if state is None else self.labels.get(state, str(state))


def state_changes(rows: Iterable[Mapping[str, Any]], *, hard_only: bool = True) -> list[StateChange]:
    """The state changes among log rows (``time``, ``type``, ``state``, ``state_type``), oldest first.

    Rows of other types (downtime, flapping, notifications) and, with ``hard_only``, soft
    alerts are left out. Rows of the same second keep their log order (the later one wins).
    """
    found = []
    for row in rows:
        if str(row.get("type") or "") not in STATE_TYPES:
            continue
        if hard_only and _is_soft(row.get("state_type")):
            continue
        try:
            found.append(StateChange(float(row["time"]), int(row["state"])))
        except (KeyError, TypeError, ValueError):
            continue  # a line the core could not parse: nothing to learn from it
    return sorted(found, key=lambda change: change.time)


def _is_soft(value: Any) -> bool:
    # naemon-livestatus answers "HARD"/"SOFT"; some cores answer 1 (hard) / 0 (soft).
    return str(value).upper() in ("SOFT", "0")


def timeline(
    changes: Sequence[StateChange],
    start: float,
    end: float,
    *,
    current_state: int | None = None,
    current_since: float | None = None,
) -> tuple[Segment, ...]:
    """The window [start, end) cut into stretches of one state, oldest first.

    ``changes``: oldest first (``state_changes``). The state at ``start`` is that of the last
    change at or before it; without one, the stretch up to the first change is no data. With
    no change at all, the current status fills the window from ``current_since`` (its last
    state change; before it: no data, unless it is unknown (None or 0): then all of it).
    """
    if end <= start:
        return ()
    state: int | None = None
    cursor = start
    segments: list[Segment] = []
    if not changes:
        if current_state is None:
            return (Segment(start, end, None),)
        since = min(max(current_since or start, start), end)
        if since > start:
            segments.append(Segment(start, since, None))
        segments.append(Segment(since, end, current_state))
        return _joined(segments)
    for change in changes:
        if change.time <= start:
            state = change.state
            continue
        if change.time >= end:
            break
        segments.append(Segment(cursor, change.time, state))
        cursor, state = change.time, change.state
    segments.append(Segment(cursor, end, state))
    return _joined(segments)


def _joined(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    """Neighbours in the same state as one stretch (a CURRENT STATE line repeats the state); no empty ones."""
    joined: list[Segment] = []
    for segment in segments:
        if segment.seconds <= 0:
            continue
        if joined and joined[-1].state == segment.state:
            joined[-1] = Segment(joined[-1].start, segment.end, segment.state)
        else:
            joined.append(segment)
    return tuple(joined)


def availability(
    rows: Iterable[Mapping[str, Any]],
    start: float,
    end: float,
    *,
    service: bool,
    current_state: int | None = None,
    current_since: float | None = None,
) -> Availability:
    """The availability of a host (``service`` False) or service over [start, end) from its log rows."""
    segments = timeline(
        state_changes(rows), start, end, current_state=current_state, current_since=current_since
    )
    return Availability(start, end, SERVICE_LABELS if service else HOST_LABELS, segments)
