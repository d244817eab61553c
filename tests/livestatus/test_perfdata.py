"""Perfdata parsing (the Nagios plugin format) and where its bars fall."""

from __future__ import annotations

import pytest

from livestatus.perfdata import PerfValue, parse, threshold_level


def test_full_item_with_unit_and_all_fields() -> None:
    assert parse("time=0.012s;1;2;0;10") == [PerfValue("time", 0.012, "s", "1", "2", 0.0, 10.0)]


def test_several_items_and_quoted_labels() -> None:
    found = parse("'/var used'=512MB;800;900;0;1024 'it''s'=3 load1=0.5;;;0")
    assert [v.label for v in found] == ["/var used", "it's", "load1"]
    assert found[0].value == 512 and found[0].uom == "MB" and found[0].max == 1024
    assert found[1].value == 3 and found[1].warn == "" and found[1].max is None
    assert found[2].min == 0 and found[2].crit == ""


def test_quoted_label_with_equals_sign() -> None:
    assert parse("'a=b'=1c")[0] == PerfValue("a=b", 1.0, "c")


def test_undetermined_value_and_exponent() -> None:
    assert parse("rta=U;;;")[0].value is None
    assert parse("bytes=1.5e3B")[0].value == 1500.0


@pytest.mark.parametrize("text", ["", "   ", "garbage", "=3", "x=abc;1;2", "x="])
def test_unreadable_items_are_skipped(text: str) -> None:
    assert parse(text) == []


def test_unreadable_item_does_not_hide_the_others() -> None:
    assert [v.label for v in parse("bad=x good=1")] == ["good"]


@pytest.mark.parametrize(
    ("text", "level"),
    [("10", 10.0), ("5:10", 10.0), ("@5:10", 10.0), ("~:10", 10.0), ("10:", None), ("", None)],
)
def test_threshold_levels(text: str, level: float | None) -> None:
    assert threshold_level(text) == level


def test_bar_against_max() -> None:
    value = parse("used=50%;80;90;0;100")[0]
    assert value.bar() == {"value": 50.0, "warn": 80.0, "crit": 90.0}


def test_bar_without_max_uses_percent_or_levels() -> None:
    assert parse("cpu=25%")[0].bar() == {"value": 25.0, "warn": -1.0, "crit": -1.0}
    # No max, no %: the largest level known, with some room, is the bar's end.
    bar = parse("rta=10ms;20;50")[0].bar()
    assert bar is not None and bar["crit"] < 100 and bar["value"] < bar["warn"] < bar["crit"]


def test_no_bar_without_a_value() -> None:
    assert parse("rta=U")[0].bar() is None
    assert parse("zero=0")[0].bar() is None
