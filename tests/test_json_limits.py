"""JSON from outside within limits: what is under them reads as ``json.loads`` reads it; what is
over them is refused saying which limit and where."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.json_limits import MAX_DEPTH, MAX_NUMBER_LENGTH, JSONLimitError, loads

REPO = Path(__file__).resolve().parents[1]

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(values)
def test_json_under_the_limits_reads_as_json_loads_reads_it(value: Any) -> None:
    text = json.dumps(value)
    assert loads(text) == json.loads(text)


@given(st.integers(min_value=1, max_value=3 * MAX_DEPTH), st.sampled_from("[{"))
def test_nesting_is_refused_exactly_past_the_depth_limit(levels: int, bracket: str) -> None:
    inner = "[]" if bracket == "[" else "{}"
    opening = '{"k": ' if bracket == "{" else "["
    closing = "}" if bracket == "{" else "]"
    text = opening * (levels - 1) + inner + closing * (levels - 1)
    if levels <= MAX_DEPTH:
        assert depth(loads(text)) == levels
    else:
        with pytest.raises(JSONLimitError, match=f"nested deeper than {MAX_DEPTH} levels"):
            loads(text)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"text": "[" * 1000, "escaped": '\\"[[[' * 100})
    assert loads(text)["text"] == "[" * 1000


@given(st.integers(min_value=1, max_value=6000))
def test_numbers_are_refused_exactly_past_the_length_limit(digits: int) -> None:
    text = "[\n  " + "9" * digits + "]"
    if digits <= MAX_NUMBER_LENGTH:
        assert loads(text) == [int("9" * digits)]
    else:
        with pytest.raises(JSONLimitError) as refused:
            loads(text)
        assert str(refused.value) == (
            f"a number longer than {MAX_NUMBER_LENGTH} characters at line 2 column 3"
        )


def test_a_long_fraction_is_refused_like_a_long_integer() -> None:
    with pytest.raises(JSONLimitError, match="a number longer than"):
        loads('{"x": 0.' + "1" * MAX_NUMBER_LENGTH + "}")


def test_flowmixer_run_refuses_a_push_file_nested_too_deep_saying_so(tmp_path: Path) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text(
        json.dumps({"id": "f", "components": {"hook": {"type": "flowmixer.core.Webhook"}}})
    )
    event = tmp_path / "event.json"
    event.write_text("[" * 1000 + "]" * 1000)
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", str(flow), "--push", f"hook={event}"],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "FLOWMIXER_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"event.json is refused: nested deeper than {MAX_DEPTH} levels at line 1" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_flowmixer_call_refuses_an_input_with_a_huge_number_saying_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "call", "Filter", "--input", "9" * 5000],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "FLOWMIXER_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"--input: refused: a number longer than {MAX_NUMBER_LENGTH} characters" in (done.stderr)
