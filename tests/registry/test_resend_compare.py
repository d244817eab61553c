"""A re-send's values are compared as JSON text would compare them, fast path or not (issue 19).

The bulk re-send compares about 150 values per host; ``_same`` skips the JSON text where the types
settle it. It must never call two values equal that the JSON text tells apart (true vs 1, 1 vs 1.0,
-0.0 vs 0.0), or a body that validation would refuse (400) or change would pass as "unchanged".
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from registry.serializers.base import _canonical, _same

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.just(-0.0)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(values, values)
def test_same_agrees_with_the_json_text(a: Any, b: Any) -> None:
    assert _same(a, b) == (_canonical(a) == _canonical(b))


@given(values)
def test_a_value_is_the_same_as_itself(a: Any) -> None:
    assert _same(a, a) == (_canonical(a) == _canonical(a))


def test_the_types_that_json_tells_apart_stay_apart() -> None:
    assert not _same(True, 1)
    assert not _same(1, 1.0)
    assert not _same(-0.0, 0.0)
    assert not _same(["a", "b"], ["b", "a"])
    assert _same(["a", "b"], ["a", "b"])
    assert _same({"_RACK": "B12"}, {"_RACK": "B12"})
