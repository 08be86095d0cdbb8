"""``EffectRecord.changed``: what ``dataclasses.replace`` gives, for any change."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.stores.base import EffectRecord

_values: dict[str, st.SearchStrategy[Any]] = {
    "updated_at": st.floats(allow_nan=False),
    "attempts": st.integers(min_value=0, max_value=10),
    "first_sent_at": st.none() | st.floats(allow_nan=False),
    "uncertain": st.booleans(),
    "completed_at": st.none() | st.floats(allow_nan=False),
    "result": st.none() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    "ref": st.none() | st.text(max_size=5),
    "notes": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
}


@given(changes=st.fixed_dictionaries({}, optional=_values))
def test_a_changed_record_equals_what_replace_makes(changes: dict[str, Any]) -> None:
    record = EffectRecord("f", "pin", "event", "digest", 1.0, notes={"upload": "m1"})

    changed = record.changed(**changes)

    assert changed == dataclasses.replace(record, **changes)
    assert record == EffectRecord("f", "pin", "event", "digest", 1.0, notes={"upload": "m1"})


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="'attempt'"):
        EffectRecord("f", "pin", "event", "digest", 1.0).changed(attempt=2)
