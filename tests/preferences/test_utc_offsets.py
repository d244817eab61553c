"""Time windows from the snapshot's precomputed UTC offsets: the same wall clock as zoneinfo.

The filter evaluates a contact's time windows by integer arithmetic over the offsets the
portal stored with the contact (``rulebook.utc_offsets``), so it imports neither ``datetime``
nor ``zoneinfo``; a wrong offset would send a night-time page or hold back a day-time one.
"""

from __future__ import annotations

import marshal
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from preferences import engine, rulebook

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns"]
FIRST_YEAR = 2026
START = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
END = datetime(FIRST_YEAR + rulebook.OFFSET_YEARS, 1, 1, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    seconds=st.integers(min_value=0, max_value=int((END - START).total_seconds()) - 1),
)
def test_offsets_give_the_wall_clock_zoneinfo_gives(zone: str, seconds: int) -> None:
    offsets = rulebook.utc_offsets(zone, FIRST_YEAR)
    when = START + timedelta(seconds=seconds)
    assert engine.local_clock(when, zone, offsets) == engine.local_clock(when, zone)


def test_every_dst_change_is_found_to_the_second() -> None:
    paris = ZoneInfo("Europe/Paris")
    offsets = rulebook.utc_offsets("Europe/Paris", FIRST_YEAR)
    starts, _values, end = offsets
    assert len(starts) == 1 + 2 * rulebook.OFFSET_YEARS  # two changes a year in Paris
    # 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST.
    spring = int(datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp())
    assert spring in starts
    for epoch in (spring - 1, spring, spring + 1):
        expected = datetime.fromtimestamp(epoch, paris).utcoffset()
        assert expected is not None
        assert engine.utc_offset_at(offsets, epoch) == expected.total_seconds()
    assert engine.utc_offset_at(offsets, end) is None  # beyond the range: zoneinfo decides


def test_a_window_rule_decides_the_same_with_and_without_offsets() -> None:
    """A night-time quiet rule in Paris: the precomputed path and zoneinfo agree around DST."""
    contact = rulebook.compile_contact(
        [{"action": "suppress", "days": ["sun"], "start": "02:00", "end": "04:00"}],
        timezone="Europe/Paris",
    )
    assert "utc_offsets" in contact
    stored: engine.CompiledContact = marshal.loads(marshal.dumps(dict(contact)))  # noqa: S302 - as the snapshot stores it
    without = stored.copy()
    del without["utc_offsets"]
    for minutes in range(0, 6 * 60, 7):
        when = datetime(2026, 3, 29, 0, 0, tzinfo=UTC) + timedelta(minutes=minutes)
        n = engine.Notification(
            contact="c", channel="email", type="PROBLEM", host="web1", state="DOWN", time=when
        )
        assert engine.evaluate(stored, n).notify == engine.evaluate(without, n).notify, when


def test_contacts_without_windows_carry_no_offsets() -> None:
    contact = rulebook.compile_contact(
        [{"action": "suppress", "states": ["WARNING"]}], timezone="Europe/Paris"
    )
    assert "utc_offsets" not in contact
