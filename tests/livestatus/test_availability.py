"""The interval arithmetic of availability, over crafted log rows (no core needed).

(Against a real core: test_availability_core.py; how the page draws it: the last test.)
"""

from __future__ import annotations

from typing import Any

import pytest

from livestatus.availability import NO_DATA, Segment, StateChange, availability, state_changes, timeline
from livestatus.detail import MIN_WIDTH, timeline_view

T0 = 1_800_000_000.0
HOUR = 3600.0


def row(time: float, state: int, type_: str = "SERVICE ALERT", state_type: Any = "HARD") -> dict[str, Any]:
    return {"time": time, "type": type_, "state": state, "state_type": state_type}


def test_window_start_inside_a_state() -> None:
    """A CRITICAL that began before the window counts from the window's start."""
    rows = [row(T0 - 2 * HOUR, 2), row(T0 + HOUR, 0)]
    result = availability(rows, T0, T0 + 4 * HOUR, service=True)
    assert result.segments == (Segment(T0, T0 + HOUR, 2), Segment(T0 + HOUR, T0 + 4 * HOUR, 0))
    assert result.percent()["CRITICAL"] == 25.0
    assert result.percent()["OK"] == 75.0
    assert result.percent()[NO_DATA] == 0.0


def test_time_before_the_first_entry_is_no_data_not_ok() -> None:
    rows = [row(T0 + HOUR, 1, "SERVICE ALERT")]
    percent = availability(rows, T0, T0 + 2 * HOUR, service=True).percent()
    assert percent == {"OK": 0.0, "WARNING": 50.0, "CRITICAL": 0.0, "UNKNOWN": 0.0, NO_DATA: 50.0}


def test_initial_and_current_state_lines_give_the_state_at_the_start() -> None:
    rows = [row(T0 - HOUR, 0, "CURRENT SERVICE STATE"), row(T0 + HOUR, 2)]
    percent = availability(rows, T0, T0 + 2 * HOUR, service=True).percent()
    assert percent["OK"] == 50.0 and percent["CRITICAL"] == 50.0 and percent[NO_DATA] == 0.0


def test_no_entries_takes_the_current_status() -> None:
    result = availability([], T0, T0 + 4 * HOUR, service=False, current_state=1, current_since=T0 - HOUR)
    assert result.percent()["DOWN"] == 100.0
    # The current state began inside the window: before it, nothing is known.
    result = availability([], T0, T0 + 4 * HOUR, service=False, current_state=0, current_since=T0 + 3 * HOUR)
    assert result.percent() == {"UP": 25.0, "DOWN": 0.0, "UNREACHABLE": 0.0, NO_DATA: 75.0}


def test_no_entries_and_no_status_is_all_no_data() -> None:
    assert availability([], T0, T0 + HOUR, service=True).percent()[NO_DATA] == 100.0


def test_downtime_flapping_and_notifications_do_not_change_the_state() -> None:
    rows = [
        row(T0 - HOUR, 0, "INITIAL SERVICE STATE"),
        row(T0 + HOUR, 2, "SERVICE DOWNTIME ALERT"),
        row(T0 + HOUR, 2, "SERVICE FLAPPING ALERT"),
        row(T0 + HOUR, 2, "SERVICE NOTIFICATION"),
    ]
    assert availability(rows, T0, T0 + 2 * HOUR, service=True).percent()["OK"] == 100.0


def test_soft_states_are_not_counted() -> None:
    rows = [row(T0 - HOUR, 0), row(T0 + HOUR, 2, state_type="SOFT"), row(T0 + HOUR, 2, state_type=0)]
    assert availability(rows, T0, T0 + 2 * HOUR, service=True).percent()["OK"] == 100.0
    assert len(state_changes([row(T0, 2, state_type="SOFT")], hard_only=False)) == 1


def test_changes_after_the_window_are_ignored_and_same_state_lines_join() -> None:
    changes = [StateChange(T0, 0), StateChange(T0 + HOUR, 0), StateChange(T0 + 5 * HOUR, 2)]
    assert timeline(changes, T0, T0 + 2 * HOUR) == (Segment(T0, T0 + 2 * HOUR, 0),)


def test_same_second_lines_keep_log_order() -> None:
    rows = [row(T0 - HOUR, 0), row(T0 + HOUR, 2), row(T0 + HOUR, 0)]
    assert availability(rows, T0, T0 + 2 * HOUR, service=True).percent()["OK"] == 100.0


@pytest.mark.parametrize("bad", [{"time": None, "state": 0}, {"time": T0, "state": "x"}, {}])
def test_unreadable_rows_are_skipped(bad: dict[str, Any]) -> None:
    assert state_changes([{"type": "SERVICE ALERT", "state_type": "HARD", **bad}]) == []


def test_empty_window() -> None:
    result = availability([row(T0, 2)], T0, T0, service=True)
    assert result.segments == () and result.percent()["CRITICAL"] == 0.0


def test_a_short_stretch_is_drawn_visible_and_counted_exactly() -> None:
    rows = [row(T0 - HOUR, 0, "CURRENT SERVICE STATE"), row(T0 + 10 * HOUR, 2), row(T0 + 10 * HOUR + 2, 0)]
    result = availability(rows, T0, T0 + 30 * 24 * HOUR, service=True)
    drawn = timeline_view("30d", result)
    critical = next(s for s in drawn["segments"] if s["label"] == "CRITICAL")
    assert critical["severity"] == "critical" and critical["width"] == MIN_WIDTH
    assert dict((p["label"], p["value"]) for p in drawn["percent"])["CRITICAL"] == pytest.approx(
        2 / (30 * 864)
    )


def test_a_sliver_at_the_end_stays_inside_the_bar() -> None:
    rows = [row(T0 + 30 * 24 * HOUR - 2, 0)]
    drawn = timeline_view("30d", availability(rows, T0, T0 + 30 * 24 * HOUR, service=True))
    ok = next(s for s in drawn["segments"] if s["label"] == "OK")
    assert ok["left"] + ok["width"] <= 100


def test_the_chart_gets_epoch_milliseconds_and_each_shares_colour() -> None:
    """availability.js draws from these: times as epoch ms (no date parsing), states by severity."""
    rows = [row(T0 + HOUR, 2), row(T0 + 2 * HOUR, 0)]
    drawn = timeline_view("24h", availability(rows, T0, T0 + 4 * HOUR, service=True))
    assert (drawn["start_ms"], drawn["end_ms"]) == (T0 * 1000, (T0 + 4 * HOUR) * 1000)
    assert [(s["start_ms"], s["end_ms"], s["severity"]) for s in drawn["segments"]] == [
        (T0 * 1000, (T0 + HOUR) * 1000, "nodata"),
        ((T0 + HOUR) * 1000, (T0 + 2 * HOUR) * 1000, "critical"),
        ((T0 + 2 * HOUR) * 1000, (T0 + 4 * HOUR) * 1000, "ok"),
    ]
    assert {p["label"]: p["severity"] for p in drawn["percent"]} == {
        "OK": "ok",
        "WARNING": "warning",
        "CRITICAL": "critical",
        "UNKNOWN": "unknown",
        NO_DATA: "nodata",
    }
