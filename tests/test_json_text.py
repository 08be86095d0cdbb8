"""The stores' JSON text: orjson and the standard library read each other's, values intact."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.envelope import Envelope
from runtime.stores import codec, json_text

REPO = Path(__file__).resolve().parent.parent

# JSON data as the stores keep it: big integers and non-ASCII text included.
JSON_DATA = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8") | st.sampled_from("\ud800\udfff\x00")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def test_orjson_writes_and_reads_the_stores_json_when_installed():
    pytest.importorskip("orjson")
    assert json_text.ENGINE == "orjson"


@given(JSON_DATA)
def test_the_standard_library_reads_what_the_store_writes(value: Any):
    assert json.loads(json_text.dumps(value)) == value


@given(JSON_DATA)
def test_the_store_reads_what_the_standard_library_writes(value: Any):
    assert json_text.loads(json.dumps(value)) == value
    assert json_text.loads(json.dumps(value, separators=(",", ":"))) == value


@given(st.integers(min_value=2**63, max_value=2**200) | st.integers(max_value=-(2**63)))
def test_integers_beyond_64_bits_keep_every_digit(number: int):
    text = json_text.dumps({"n": number})
    assert json_text.loads(text)["n"] == number
    assert isinstance(json_text.loads(text)["n"], int)


def test_nan_and_infinity_written_by_the_standard_library_are_read_back():
    text = json.dumps({"a": math.nan, "b": math.inf, "c": -math.inf})
    read = json_text.loads(text)
    assert math.isnan(read["a"])
    assert (read["b"], read["c"]) == (math.inf, -math.inf)


def test_keys_that_are_not_text_are_written_as_the_standard_library_writes_them():
    value = {1: "one", 1.5: "half", None: "none"}
    assert json.loads(json_text.dumps(value)) == json.loads(json.dumps(value))


def test_a_lone_surrogate_in_text_is_kept_either_way():
    value = {"a": "x\ud800y"}
    assert json_text.loads(json_text.dumps(value)) == value
    assert json_text.loads(json.dumps(value)) == value


def test_nesting_deeper_than_orjson_writes_is_written_by_the_standard_library():
    deep: Any = "bottom"
    for _ in range(400):
        deep = [deep]
    assert json_text.loads(json_text.dumps(deep)) == deep


def test_an_envelope_with_odd_values_is_still_kept_with_stand_ins():
    class Odd:
        pass

    envelope = Envelope("f", "c", "out", {"odd": Odd(), 2: "two", "big": 2**70}, "k", id="e-1")
    back = codec.decode_envelope(codec.encode_envelope(envelope))
    assert back.payload == {"odd": "<Odd that is not JSON data>", "2": "two", "big": 2**70}


def test_an_envelope_the_standard_library_wrote_with_nan_is_read_back():
    envelope = Envelope("f", "c", "out", {"x": math.nan}, "k", id="e-1")
    text = json.dumps(envelope.to_dict(), separators=(",", ":"))
    assert math.isnan(codec.decode_envelope(text).payload["x"])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"ratio": math.nan}, "the value['ratio'] is nan, which JSON cannot hold"),
        ({"by": {1: "a"}}, "the value['by'] has the key 1; JSON object keys must be strings"),
    ],
    ids=["nan", "integer key"],
)
def test_state_json_cannot_hold_is_refused_naming_the_field(value: Any, problem: str):
    with pytest.raises(TypeError) as caught:
        codec.encode_state("cursor", value)
    assert str(caught.value) == f"cannot store state key 'cursor': {problem}"


CHILD = """
import json, math, sys
{block}
from runtime.stores import codec, json_text
from runtime.envelope import Envelope
value = {{"title": "caf\\u00e9", "big": 2**70, "ids": [1, 2.5, None, True]}}
envelope = Envelope("f", "c", "out", value, "k", id="e-1")
text = codec.encode_envelope(envelope)
print(json.dumps({{"engine": json_text.ENGINE, "text": text,
                   "back": codec.decode_envelope(text).payload == value}}))
"""


def _child(block: str, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(block=block)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    ("block", "env"),
    [("sys.modules['orjson'] = None", {}), ("", {"FLOWMIXER_JSON": "json"})],
    ids=["orjson not importable", "FLOWMIXER_JSON=json"],
)
def test_without_orjson_the_standard_library_writes_what_orjson_reads(
    block: str, env: dict[str, str]
):
    orjson = pytest.importorskip("orjson")
    found = _child(block, **env)
    assert found["engine"] == "json"
    assert found["back"] is True
    kept = Envelope.from_dict(json_text.loads(found["text"]))
    assert kept.payload["big"] == 2**70
    assert orjson.loads(found["text"].replace(str(2**70), "0"))["payload"]["title"] == "café"


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    )
)
def test_bytes_are_the_text_encoded(value: object) -> None:
    assert json_text.dumps_bytes(value) == json_text.dumps(value).encode()
