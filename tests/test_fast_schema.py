"""Payload verdicts from jsonschema-rs: the verdict and message stay python-jsonschema's."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, Draft7Validator, Draft202012Validator
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from runtime.fast_schema import FAST_SCHEMA_VARIABLE, fast_verdict
from runtime.flow import payload_validator
from runtime.mapping import json_path
from runtime.problems import cap

ROOT = Path(__file__).resolve().parent.parent


def _in_port_schemas() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for folder in (ROOT / "manifests", ROOT / "tests"):
        for path in sorted(folder.rglob("*.json")):
            try:
                manifest = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                continue  # the fixtures of broken files
            ports = manifest.get("inPorts") if isinstance(manifest, dict) else None
            for port in ports if isinstance(ports, list) else ():
                schema = port.get("schema") if isinstance(port, dict) else None
                if isinstance(schema, dict) and schema:
                    found.append((f"{path.relative_to(ROOT)}:{port.get('name')}", schema))
    return found


IN_PORT_SCHEMAS = _in_port_schemas()

_junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    low = max(0, int(schema.get("minLength", 0)) - 1)
    high = int(schema.get("maxLength", low + 10)) + 2
    options = [st.text(min_size=low, max_size=high), st.text("0123456789abcdef#/:٣", max_size=high)]
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        matching = st.from_regex(pattern, fullmatch=True)
        options += [matching, matching.map(lambda s: s + "\n"), matching.map(lambda s: "x" + s)]
    return st.one_of(options)


def payloads(schema: Any) -> st.SearchStrategy[Any]:
    """Values near ``schema``: ones it likely accepts and ones broken in the usual ways."""
    if not isinstance(schema, dict):
        return _junk
    options: list[st.SearchStrategy[Any]] = [_junk]
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(schema.get("enum"), list):
        options.append(st.sampled_from(schema["enum"]))
    if "string" in kinds or "pattern" in schema:
        options.append(_strings(schema))
    if "integer" in kinds or "number" in kinds:
        options.append(st.integers(min_value=-(2**65), max_value=2**65) | st.floats())
    if "array" in kinds:
        items = payloads(schema.get("items", {}))
        high = int(schema.get("maxItems", 3)) + 1
        options += [st.lists(items, max_size=high), st.lists(items, max_size=high).map(tuple)]
    if "object" in kinds or "properties" in schema:
        properties = {name: payloads(sub) for name, sub in schema.get("properties", {}).items()}
        required = [name for name in schema.get("required", []) if name in properties]
        whole = st.fixed_dictionaries(
            {name: properties[name] for name in required},
            optional={n: s for n, s in properties.items() if n not in required},
        )
        options += [
            whole,
            st.fixed_dictionaries({}, optional=properties),  # required ones may be missing
            st.tuples(whole, st.dictionaries(st.text(max_size=6), _junk, max_size=2)).map(
                lambda parts: {**parts[1], **parts[0]}  # extra properties
            ),
        ]
    return st.one_of(options)


def reference_message(schema: dict[str, Any], payload: Any) -> str | None:
    """What payload_validator said before jsonschema-rs: python-jsonschema alone."""
    validator = validator_for(schema)(schema)
    error = best_match(validator.iter_errors(payload))
    if error is None:
        return None
    return cap(f"{json_path('$', *error.absolute_path)}: {error.message}")


@pytest.mark.parametrize(("where", "schema"), IN_PORT_SCHEMAS, ids=[w for w, _ in IN_PORT_SCHEMAS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_in_port_schema_gives_python_jsonschemas_verdict_and_message(where, schema, data):
    payload = data.draw(payloads(schema), label="payload")
    validator = validator_for(schema)(schema)
    fast = fast_verdict(schema, validator)
    if fast is not None and fast(payload):
        assert validator.is_valid(payload), f"{where}: jsonschema-rs passed what python refuses"
    assert payload_validator(schema)(payload) == reference_message(schema, payload)


def test_the_manifests_in_port_schemas_take_the_fast_path():
    slow = [w for w, s in IN_PORT_SCHEMAS if fast_verdict(s, validator_for(s)(s)) is None]
    assert slow == []


SCHEMAS = [
    {"type": "integer", "minimum": 0, "maximum": 2**64},
    {"type": "number", "exclusiveMaximum": 2**63, "exclusiveMinimum": -1.5},
    {"enum": [1, 2**64, "a", None, [1, 2], {"a": [1]}]},
    {"const": [1, {"a": 2}]},
    {"type": "array", "uniqueItems": True, "maxItems": 4},
    {"type": "object", "maxProperties": 2, "propertyNames": {"maxLength": 3}},
    {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "null"}},
    {"$defs": {"n": {"type": ["integer", "null"]}}, "items": {"$ref": "#/$defs/n"}},
    {"type": "string", "pattern": "^[a-c]{2,3}$", "format": "email"},
    {"type": "array", "contains": {"const": 1}, "minContains": 2},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[json.dumps(s)[:40] for s in SCHEMAS])
@settings(max_examples=200, deadline=None)
@given(payload=_junk)
def test_numbers_arrays_and_equality_get_python_jsonschemas_verdict(schema, payload):
    validator = Draft202012Validator(schema)
    fast = fast_verdict(schema, validator)
    assert fast is not None
    assert fast(payload) is False or validator.is_valid(payload)
    assert payload_validator(schema)(payload) == reference_message(schema, payload)


LAXER = {
    "multipleOf": {"multipleOf": 0.1},
    "a Unicode class": {"pattern": "^\\w+$"},
    "a flag": {"pattern": "(?i)^a$"},
    "a POSIX class": {"pattern": "[[:alpha:]]"},
    "an open brace": {"pattern": "^a{,3}$"},
    "unevaluatedProperties": {"unevaluatedProperties": False},
    "a remote $ref": {"$ref": "https://example.com/s.json"},
    "an $id": {"$id": "https://example.com/s", "$ref": "#/$defs/a", "$defs": {"a": {}}},
    "dependencies": {"dependencies": {"a": ["b"]}},
}


@pytest.mark.parametrize("schema", LAXER.values(), ids=LAXER.keys())
def test_a_schema_jsonschema_rs_may_read_more_laxly_stays_with_python_jsonschema(schema):
    assert fast_verdict(schema, Draft202012Validator(schema)) is None


def test_a_checked_format_stays_with_python_jsonschema():
    schema = {"type": "string", "format": "email"}
    assert fast_verdict(schema, Draft202012Validator(schema), formats=True) is None
    assert fast_verdict(schema, Draft202012Validator(schema)) is not None


def test_drafts_without_a_jsonschema_rs_twin_stay_with_python_jsonschema():
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"}
    assert fast_verdict(schema, Draft4Validator(schema)) is None
    seven = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "integer"}
    assert fast_verdict(seven, Draft7Validator(seven)) is not None


@pytest.mark.parametrize(
    "payload",
    [(1, 2), {"images": ("a",)}, "\ud800", b"x", float("nan"), {1: "a"}],
    ids=["a tuple", "a nested tuple", "a lone surrogate", "bytes", "nan", "an int key"],
)
def test_values_jsonschema_rs_reads_otherwise_are_judged_by_python_jsonschema(payload):
    schema = {"type": ["array", "object", "string", "number"], "items": {"type": "string"}}
    validator = Draft202012Validator(schema)
    fast = fast_verdict(schema, validator)
    assert fast is not None
    assert fast(payload) is False
    assert payload_validator(schema)(payload) == reference_message(schema, payload)


def test_the_fast_path_is_off_with_flowmixer_fast_schema_0(monkeypatch):
    monkeypatch.setenv(FAST_SCHEMA_VARIABLE, "0")
    schema = {"type": "string"}
    assert fast_verdict(schema, Draft202012Validator(schema)) is None
    assert payload_validator(schema)(1) == "$: 1 is not of type 'string'"


def test_without_jsonschema_rs_payloads_are_checked_as_before():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["jsonschema_rs"] = None  # an import of it fails, as when not installed
        from jsonschema import Draft202012Validator
        from runtime.fast_schema import fast_verdict
        from runtime.flow import payload_validator
        schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
        assert fast_verdict(schema, Draft202012Validator(schema)) is None
        validate = payload_validator(schema)
        print(repr(validate({"n": 1})), repr(validate({"n": "1"})), repr(validate({})))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1)[0] == "None"
    assert "$.n: '1' is not of type 'integer'" in done.stdout
    assert "$: 'n' is a required property" in done.stdout


def test_nan_is_a_number_to_both():
    schema = {"type": "number"}
    assert payload_validator(schema)(math.nan) is None
