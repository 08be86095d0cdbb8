"""The built-in components: Webhook, OnStart, Schedule, Filter (and its conditions) and Log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from structlog.testing import capture_logs

from components.core.conditions import (
    MISSING,
    OPERATORS,
    VALUELESS_OPERATORS,
    compile_condition,
    json_key,
    parse_path,
    resolve,
)
from runtime.engine import Engine, Output
from runtime.errors import ConfigurationError, EngineError, FlowValidationError
from runtime.flow import validate_flow
from runtime.manifest import ComponentManifest
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests" / "core"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.text(
    alphabet=st.characters(blacklist_characters=".", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=6,
)
paths = st.lists(field_names, min_size=1, max_size=4).map(".".join)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_for(operator: str) -> st.SearchStrategy[Any]:
    """Values an operator accepts."""
    if operator in VALUELESS_OPERATORS:
        return st.just(MISSING)
    if operator in ("in", "notIn"):
        return st.lists(json_values, max_size=4)
    if operator in ("startsWith", "endsWith"):
        return st.text(max_size=4)
    if operator == "matches":
        return st.sampled_from(["^a", "b$", "[0-9]+", "x|y", ".*"])
    if operator.startswith(("greater", "less")):
        return json_scalars.filter(lambda v: isinstance(v, str) or _is_number(v))
    return json_values


def _passes(message: Any, field: str, operator: str, value: Any = MISSING, **kw: Any) -> bool:
    return compile_condition(field, operator, value, **kw)(message)


def _manifest(name: str) -> ComponentManifest:
    return ComponentManifest.model_validate(json.loads((MANIFESTS / f"{name}.json").read_text()))


def _core_manifests() -> list[ComponentManifest]:
    return [_manifest(p.stem) for p in sorted(MANIFESTS.glob("*.json"))]


# -- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "field", "expected"),
    [
        ({"a": 1}, "a", 1),
        ({"pin": {"title": "Hi"}}, "pin.title", "Hi"),
        ({"items": [{"id": "x"}, {"id": "y"}]}, "items.1.id", "y"),
        ({"a": {"0": "key"}}, "a.0", "key"),
        ({"a": None}, "a", None),
        ({"a": 1}, "b", MISSING),
        ({"a": 1}, "a.b", MISSING),
        ({"items": [1]}, "items.1", MISSING),
        ({"items": [1]}, "items.first", MISSING),
        ({"items": [1]}, "items.²", MISSING),
        ({"x²": 2}, "x²", 2),
        ("text", "a", MISSING),
    ],
    ids=[
        "top-level key",
        "nested key",
        "array index then key",
        "digits are a key inside an object",
        "null is a value",
        "absent key",
        "path through a number",
        "index past the end",
        "name into an array",
        "a superscript digit is no index",
        "a key with a superscript digit",
        "message is not an object",
    ],
)
def test_a_dotted_path_reads_objects_by_key_and_arrays_by_index(message, field, expected):
    assert resolve(message, parse_path(field)) == expected


@pytest.mark.parametrize("field", ["", ".a", "a.", "a..b"], ids=["empty", "lead", "trail", "gap"])
def test_a_path_with_an_empty_step_is_refused(field):
    with pytest.raises(ConfigurationError, match="is not a dotted path"):
        parse_path(field)


@given(steps=st.lists(field_names, min_size=1, max_size=5), value=json_values)
def test_the_value_placed_at_a_path_is_the_value_read_there(steps, value):
    message: Any = value
    for step in reversed(steps):
        message = {step: message}
    assert json_key(resolve(message, parse_path(".".join(steps)))) == json_key(value)


# -- operators -----------------------------------------------------------------------------

ORDER = {"total": 150, "price": 99.5, "name": "Blue Mug", "tags": ["sale", "Blue"], "note": None}
CASES = [
    # (message, field, operator, value, case sensitive, expected)
    ({"a": 1}, "a", "equals", 1, True, True),
    ({"a": 1}, "a", "equals", 1.0, True, True),
    ({"a": True}, "a", "equals", 1, True, False),
    ({"a": 1}, "a", "equals", "1", True, False),
    ({"a": [1, {"b": 2}]}, "a", "equals", [1, {"b": 2}], True, True),
    ({"a": "Blue"}, "a", "equals", "blue", True, False),
    ({"a": "Blue"}, "a", "equals", "blue", False, True),
    ({"a": ["Blue"]}, "a", "equals", ["BLUE"], False, True),
    ({"a": None}, "a", "equals", None, True, True),
    ({}, "a", "equals", None, True, False),
    ({}, "a", "notEquals", 1, True, True),
    ({"a": 2}, "a", "notEquals", 1, True, True),
    (ORDER, "name", "contains", "Mug", True, True),
    (ORDER, "name", "contains", "mug", True, False),
    (ORDER, "name", "contains", "mug", False, True),
    (ORDER, "tags", "contains", "sale", True, True),
    (ORDER, "tags", "contains", "blue", False, True),
    (ORDER, "tags", "contains", "sal", True, False),
    (ORDER, "total", "contains", 1, True, False),
    (ORDER, "name", "notContains", "Cup", True, True),
    (ORDER, "name", "startsWith", "Blue", True, True),
    (ORDER, "name", "startsWith", "blue", False, True),
    (ORDER, "name", "endsWith", "Mug", True, True),
    (ORDER, "total", "startsWith", "1", True, False),
    (ORDER, "total", "greaterThan", 100, True, True),
    (ORDER, "total", "greaterThan", 150, True, False),
    (ORDER, "total", "greaterThanOrEqual", 150, True, True),
    (ORDER, "price", "lessThan", 100, True, True),
    (ORDER, "price", "lessThanOrEqual", 99.5, True, True),
    (ORDER, "name", "greaterThan", 100, True, False),
    (ORDER, "total", "greaterThan", "100", True, False),
    ({"a": True}, "a", "greaterThan", 0, True, False),
    ({"at": "2024-05-02T00:00:00Z"}, "at", "greaterThan", "2024-05-01T23:59:59Z", True, True),
    ({"a": "b"}, "a", "lessThan", "B", False, False),
    ({}, "total", "lessThan", 100, True, False),
    (ORDER, "total", "exists", MISSING, True, True),
    (ORDER, "note", "exists", MISSING, True, False),
    (ORDER, "missing", "exists", MISSING, True, False),
    (ORDER, "note", "notExists", MISSING, True, True),
    (ORDER, "name", "matches", r"^Blue\s", True, True),
    (ORDER, "name", "matches", "^blue", True, False),
    (ORDER, "name", "matches", "^blue", False, True),
    (ORDER, "total", "matches", "1", True, False),
    (ORDER, "total", "in", [100, 150], True, True),
    (ORDER, "name", "in", ["blue mug"], False, True),
    (ORDER, "missing", "in", [None], True, False),
    (ORDER, "total", "notIn", [100], True, True),
    (ORDER, "note", "isEmpty", MISSING, True, True),
    (ORDER, "missing", "isEmpty", MISSING, True, True),
    ({"a": ""}, "a", "isEmpty", MISSING, True, True),
    ({"a": []}, "a", "isEmpty", MISSING, True, True),
    ({"a": {}}, "a", "isEmpty", MISSING, True, True),
    ({"a": 0}, "a", "isEmpty", MISSING, True, False),
    ({"a": False}, "a", "isEmpty", MISSING, True, False),
    (ORDER, "tags", "isNotEmpty", MISSING, True, True),
]


@pytest.mark.parametrize(
    ("message", "field", "operator", "value", "case_sensitive", "expected"),
    CASES,
    ids=[
        f"{c[1]} {c[2]} {'' if c[3] is MISSING else json.dumps(c[3])}"
        f"{'' if c[4] else ' (ignoring case)'} -> {c[5]}"
        for c in CASES
    ],
)
def test_an_operator_tests_the_field_as_documented(
    message, field, operator, value, case_sensitive, expected
):
    assert _passes(message, field, operator, value, case_sensitive=case_sensitive) is expected


def test_every_operator_has_a_case_above():
    assert {c[2] for c in CASES} == OPERATORS


@pytest.mark.parametrize(
    ("operator", "value", "error"),
    [
        ("between", 1, "operator 'between' is unknown; use one of: contains, endsWith"),
        ("equals", MISSING, "operator 'equals' needs a 'value' to compare with"),
        ("exists", True, "operator 'exists' takes no value; remove 'value'"),
        ("in", "a", "operator 'in' needs an array value, not 'a'"),
        ("notIn", 3, "operator 'notIn' needs an array value, not 3"),
        ("startsWith", 1, "operator 'startsWith' needs a string value, not 1"),
        ("greaterThan", [1], "operator 'greaterThan' needs a number or a string value, not [1]"),
        ("lessThan", True, "operator 'lessThan' needs a number or a string value, not True"),
        ("matches", "(", "value '(' is not a valid regular expression: missing ), unterminated"),
    ],
    ids=[
        "unknown operator",
        "missing value",
        "value for a valueless operator",
        "in without an array",
        "notIn names itself",
        "startsWith without a string",
        "ordering against an array",
        "ordering against a boolean",
        "broken regular expression",
    ],
)
def test_a_condition_that_cannot_work_is_refused_when_compiled(operator, value, error):
    with pytest.raises(ConfigurationError) as caught:
        compile_condition("a", operator, value)
    assert str(caught.value).startswith(error)


@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, str, Any, bool]:
    operator = draw(st.sampled_from(sorted(OPERATORS)))
    return draw(paths), operator, draw(_value_for(operator)), draw(st.booleans())


@given(condition=conditions(), message=json_values)
def test_a_condition_never_raises_whatever_the_message(condition, message):
    field, operator, value, case_sensitive = condition
    result = compile_condition(field, operator, value, case_sensitive=case_sensitive)(message)
    assert isinstance(result, bool)


NEGATIONS = [
    ("notEquals", "equals"),
    ("notContains", "contains"),
    ("notIn", "in"),
    ("notExists", "exists"),
    ("isNotEmpty", "isEmpty"),
]


@pytest.mark.parametrize(("negative", "positive"), NEGATIONS, ids=[n for n, _ in NEGATIONS])
@given(data=st.data(), message=json_values, case_sensitive=st.booleans())
def test_a_not_operator_is_the_exact_negation_of_its_twin(
    negative, positive, data, message, case_sensitive
):
    value = data.draw(_value_for(positive))
    field = data.draw(st.sampled_from(["a", "a.b", "a.0"]))
    wrapped = {"a": message}
    kw = {"case_sensitive": case_sensitive}
    assert _passes(wrapped, field, negative, value, **kw) is not _passes(
        wrapped, field, positive, value, **kw
    )


@given(value=json_values)
def test_a_field_equals_itself_and_is_in_an_array_holding_it(value):
    message = {"f": value}
    assert _passes(message, "f", "equals", value)
    assert _passes(message, "f", "in", [0, value])
    assert _passes(message, "f", "exists") is (value is not None)


@given(
    actual=st.integers() | st.floats(allow_nan=False),
    bound=st.integers() | st.floats(allow_nan=False),
)
def test_ordering_of_numbers_follows_arithmetic(actual, bound):
    message = {"n": actual}
    assert _passes(message, "n", "greaterThan", bound) is (actual > bound)
    assert _passes(message, "n", "greaterThanOrEqual", bound) is (actual >= bound)
    assert _passes(message, "n", "lessThan", bound) is (actual < bound)
    assert _passes(message, "n", "lessThanOrEqual", bound) is (actual <= bound)


ORDERINGS = ["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"]


@pytest.mark.parametrize("operator", ORDERINGS, ids=ORDERINGS)
@given(actual=json_values, number=st.integers(), text=st.text(max_size=3))
def test_ordering_across_types_never_matches(operator, actual, number, text):
    if not _is_number(actual):
        assert not _passes({"x": actual}, "x", operator, number)
    if not isinstance(actual, str):
        assert not _passes({"x": actual}, "x", operator, text)


@given(text=st.text(alphabet="abcXYZ-", max_size=8))
def test_ignoring_case_matches_text_whatever_its_case(text):
    message = {"t": text.swapcase()}
    assert _passes(message, "t", "equals", text, case_sensitive=False)
    assert _passes(message, "t", "startsWith", text[:2], case_sensitive=False)
    assert _passes(message, "t", "contains", text[1:3], case_sensitive=False)


# -- the Filter manifest agrees with the conditions ----------------------------------------


@given(
    operator=st.sampled_from(sorted(OPERATORS)),
    value=st.just(MISSING) | json_values,
)
def test_the_filter_property_schema_accepts_exactly_the_conditions_that_compile(operator, value):
    assume(operator != "matches" or not isinstance(value, str))  # regex syntax: checked at start
    validator = Draft202012Validator(_manifest("Filter").properties.schema_)
    properties: dict[str, Any] = {"field": "a.b", "operator": operator}
    if value is not MISSING:
        properties["value"] = value
    try:
        compile_condition("a.b", operator, value)
    except ConfigurationError:
        compiles = False
    else:
        compiles = True
    assert validator.is_valid(properties) is compiles


@pytest.mark.parametrize(
    "properties",
    [
        {"field": "a", "operator": "equals", "value": 1, "extra": True},
        {"field": "a..b", "operator": "exists"},
        {"operator": "exists"},
        {"field": "a", "operator": "equals", "value": 1, "caseSensitive": "no"},
    ],
    ids=["unknown property", "empty path step", "no field", "case flag not a boolean"],
)
def test_the_filter_property_schema_refuses_malformed_properties(properties):
    validator = Draft202012Validator(_manifest("Filter").properties.schema_)
    assert not validator.is_valid(properties)


@pytest.mark.parametrize(
    "name", ["Webhook", "OnStart", "Schedule", "Filter", "Log"], ids=lambda name: name
)
def test_each_core_manifest_is_valid_and_describes_every_property(name):
    manifest = _manifest(name)
    schema = manifest.properties.schema_
    Draft202012Validator.check_schema(schema)
    assert manifest.name == f"flowmixer.core.{name}"
    assert schema["additionalProperties"] is False
    for key, prop in schema["properties"].items():
        assert prop.get("title"), f"{name}.{key} has no title"
        assert prop.get("description"), f"{name}.{key} has no description"


# -- end to end, in the engine -------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@contextlib.asynccontextmanager
async def running(
    flow: dict[str, Any], registry: Registry, store: MemoryStore | None = None
) -> AsyncIterator[tuple[Engine, list[Output]]]:
    """The engine running ``flow`` (validated), with the outputs that left it."""
    outputs: list[Output] = []
    async with Engine(store or MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(validate_flow(flow, registry))
        yield engine, outputs


class Outputs(list[Output]):
    """Collects a flow's outputs (pass it as ``on_output``) and lets a test wait for more."""

    def __init__(self) -> None:
        super().__init__()
        self._grew = asyncio.Event()

    def __call__(self, output: Output) -> None:
        self.append(output)
        self._grew.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self) < count:
                self._grew.clear()
                await self._grew.wait()


def _hook_into(component: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A flow ``t``: a Webhook ``hook`` (with ``schema``) feeding ``component`` (id ``next``)."""
    hook: dict[str, Any] = {"type": "flowmixer.core.Webhook"}
    if schema is not None:
        hook["config"] = {"properties": {"schema": schema}}
    return {
        "id": "t",
        "components": {"hook": hook, "next": {**component, "source": {"in": {"hook": ["out"]}}}},
    }


BIG_ORDERS = {
    "type": "flowmixer.core.Filter",
    "config": {"properties": {"field": "order.total", "operator": "greaterThan", "value": 100}},
}


async def test_a_filter_sends_passing_events_on_out_and_the_others_on_rejected(registry):
    async with running(_hook_into(BIG_ORDERS), registry) as (engine, outputs):
        big = await engine.push("t", "hook", {"order": {"total": 150}})
        small = await engine.push("t", "hook", {"order": {"total": 20}})
        odd = await engine.push("t", "hook", {"order": {"total": "lots"}})
        await engine.wait_idle("t")
        stats = engine.stats("t")

    routed = {(o.correlation_id, o.port, json.dumps(o.payload)) for o in outputs}
    assert routed == {
        (big, "out", '{"order": {"total": 150}}'),
        (small, "rejected", '{"order": {"total": 20}}'),
        (odd, "rejected", '{"order": {"total": "lots"}}'),
    }
    assert (stats["next"].received, stats["next"].sent, stats["next"].failed) == (3, 3, 0)


async def test_rejected_messages_are_discarded_and_counted_when_that_port_is_unwired(
    registry, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWMIXER_LOG_DIR", str(tmp_path))
    flow = _hook_into(BIG_ORDERS)
    log = tmp_path / "passed.jsonl"
    flow["components"]["log"] = {
        "type": "flowmixer.core.Log",
        "source": {"in": {"next": ["out"]}},
        "config": {"properties": {"path": str(log)}},
    }
    async with running(flow, registry) as (engine, outputs):
        await engine.push("t", "hook", {"order": {"total": 150}})
        await engine.push("t", "hook", {"order": {"total": 20}})
        await engine.wait_idle("t")
        stats = engine.stats("t")

    assert outputs == []
    assert (stats["next"].sent, stats["log"].received) == (2, 1)
    lines = log.read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == [{"order": {"total": 150}}]


async def test_a_webhook_dead_letters_an_event_that_misses_its_schema_naming_the_field(registry):
    schema = {
        "type": "object",
        "required": ["order"],
        "properties": {
            "order": {
                "type": "object",
                "required": ["id", "total"],
                "properties": {"total": {"type": "number"}},
            }
        },
    }
    store = MemoryStore()
    flow = _hook_into(BIG_ORDERS, schema)
    with capture_logs() as logs:
        async with running(flow, registry, store) as (engine, outputs):
            good = await engine.push("t", "hook", {"order": {"id": "a", "total": 120}})
            await engine.push("t", "hook", {"order": {"total": 120}})
            await engine.push("t", "hook", {"order": {"id": "c", "total": "120"}})
            await engine.wait_idle("t")
            stats = engine.stats("t")

    assert [(o.correlation_id, o.port) for o in outputs] == [(good, "out")]
    errors = sorted(letter.error for letter in await store.list_dead_letters(flow_id="t"))
    assert errors == [
        "the event does not match the webhook schema: field $.order.id is missing",
        "the event does not match the webhook schema: field $.order.total is invalid:"
        " '120' is not of type 'number'",
    ]
    assert (stats["hook"].dead_lettered, stats["hook"].retried) == (2, 0)
    buried = [e for e in logs if e["event"] == "message dead-lettered"]
    assert [e["error_type"] for e in buried] == ["CancelError", "CancelError"]


@pytest.mark.parametrize(
    ("properties", "path", "message"),
    [
        (
            {"field": "a", "operator": "exists", "value": 1},
            ".value",
            'not allowed here when "operator" is "exists"',
        ),
        ({"field": "a", "operator": "in", "value": 1}, ".value", "1 is not of type 'array'"),
        ({"field": "a", "operator": "equals"}, "", "'value' is a required property"),
        ({"field": "a..b", "operator": "exists"}, ".field", "does not match"),
        ({"field": "a", "operator": "above", "value": 1}, ".operator", "is not one of"),
    ],
    ids=["value for exists", "in without array", "equals without value", "empty step", "typo"],
)
def test_a_misconfigured_filter_is_refused_with_the_flow_naming_the_property(
    registry, properties, path, message
):
    flow = _hook_into({"type": "flowmixer.core.Filter", "config": {"properties": properties}})
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(flow, registry)
    [problem] = caught.value.problems
    assert problem.path == f"$.components.next.config.properties{path}"
    assert message in problem.message


def test_a_schedule_ticks_every_minute_unless_its_interval_says_otherwise(registry):
    flow = {"id": "t", "components": {"every": {"type": "flowmixer.core.Schedule"}}}
    assert validate_flow(flow, registry).nodes["every"].tick_interval == 60


@pytest.mark.parametrize(
    ("component", "error"),
    [
        (
            {
                "type": "flowmixer.core.Filter",
                "config": {"properties": {"field": "a", "operator": "matches", "value": "(x"}},
            },
            "value '(x' is not a valid regular expression",
        ),
        (
            {
                "type": "flowmixer.core.Filter",
                "config": {"properties": {"field": "a", "operator": "matches", "value": "(x+)+y"}},
            },
            "value '(x+)+y' is refused: the pattern nests quantifiers",
        ),
        (
            {"type": "flowmixer.core.Log", "config": {"properties": {"path": "/nonexistent/x"}}},
            "property 'path': '/nonexistent/x' leads outside the log folder",
        ),
    ],
    ids=["filter regex that does not compile", "filter regex that backtracks", "log path"],
)
async def test_a_component_whose_properties_cannot_work_stops_its_flow_from_starting(
    registry, component, error, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWMIXER_LOG_DIR", str(tmp_path))
    if component["type"] == "flowmixer.core.Webhook":
        flow = {"id": "t", "components": {"hook": component}}
    else:
        flow = _hook_into(component)
    plan = validate_flow(flow, registry)
    async with Engine(MemoryStore()) as engine:
        with capture_logs(), pytest.raises(EngineError, match=re.escape(error)):
            await engine.start_flow(plan)
        assert not engine.is_running("t")


async def test_on_start_sends_one_message_each_time_its_flow_starts(registry):
    flow = {
        "id": "t",
        "components": {
            "boot": {
                "type": "flowmixer.core.OnStart",
                "config": {"properties": {"payload": {"reason": "deploy", "flowId": "ignored"}}},
            }
        },
    }
    plan = validate_flow(flow, registry)
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        for _ in range(2):
            before = datetime.now(UTC)
            await engine.start_flow(plan)
            await engine.wait_idle("t")
            await engine.stop_flow("t")
            started = datetime.fromisoformat(outputs[-1].payload["startedAt"])
            assert before - timedelta(seconds=1) <= started <= datetime.now(UTC)

    assert [(o.component_id, o.port) for o in outputs] == [("boot", "out")] * 2
    assert [o.payload["flowId"] for o in outputs] == ["t", "t"]
    assert [o.payload["reason"] for o in outputs] == ["deploy", "deploy"]
    assert outputs[0].payload["startedAt"].endswith("Z")
    assert outputs[0].correlation_id != outputs[1].correlation_id


async def test_a_schedule_ticks_on_its_interval_and_keeps_counting_across_restarts(registry):
    flow = {
        "id": "t",
        "components": {
            "every": {
                "type": "flowmixer.core.Schedule",
                "config": {"properties": {"interval": 0.1, "payload": {"job": "sync"}}},
            }
        },
    }
    plan = validate_flow(flow, registry)
    assert plan.nodes["every"].tick_interval == pytest.approx(0.1)
    store = MemoryStore()
    outputs = Outputs()
    loop = asyncio.get_running_loop()
    async with Engine(store, on_output=outputs) as engine:
        began = loop.time()
        await engine.start_flow(plan)
        await outputs.wait_for(3)
        took = loop.time() - began
        await engine.stop_flow("t")
        first_run = len(outputs)
        await engine.start_flow(plan)
        await outputs.wait_for(first_run + 2)
        await engine.stop_flow("t")

    ticks = [o.payload["tick"] for o in outputs]
    assert ticks == list(range(1, len(outputs) + 1))
    assert 0.15 <= took < 2.0  # three ticks: one at the start, then two intervals
    assert all(o.payload["job"] == "sync" for o in outputs)
    assert all(o.payload["firedAt"].endswith("Z") for o in outputs)
    assert len({o.correlation_id for o in outputs}) == len(outputs)


def _log_flow(properties: dict[str, Any]) -> dict[str, Any]:
    return _hook_into({"type": "flowmixer.core.Log", "config": {"properties": properties}})


async def test_log_appends_one_sorted_compact_json_line_per_message_to_its_file(
    registry, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWMIXER_LOG_DIR", str(tmp_path))
    path = tmp_path / "events.jsonl"
    path.write_text('{"earlier":true}\n')
    async with running(_log_flow({"path": str(path), "label": "orders"}), registry) as run:
        engine, outputs = run
        first = await engine.push("t", "hook", {"b": 1, "a": "é"})
        await engine.wait_idle("t")
        assert len(path.read_text().splitlines()) == 2  # flushed before the flow stops
        second = await engine.push("t", "hook", [1, None])
        await engine.wait_idle("t")

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines == [
        '{"earlier":true}',
        '{"componentId":"next","correlationId":"FIRST","flowId":"t","label":"orders",'
        '"message":{"a":"é","b":1}}'.replace("FIRST", first),
        '{"componentId":"next","correlationId":"SECOND","flowId":"t","label":"orders",'
        '"message":[1,null]}'.replace("SECOND", second),
    ]
    assert outputs == []


async def test_log_prints_its_lines_to_stdout_when_it_has_no_path(registry, capsys):
    with capture_logs():
        async with running(_log_flow({}), registry) as (engine, _):
            event = await engine.push("t", "hook", {"hello": "world"})
            await engine.wait_idle("t")

    line = capsys.readouterr().out
    assert line == (
        '{"componentId":"next","correlationId":"EVENT","flowId":"t","message":{"hello":"world"}}\n'
    ).replace("EVENT", event)


async def test_log_writes_a_relative_path_inside_the_home_logs_folder_by_default(
    registry, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOWMIXER_LOG_DIR", raising=False)
    async with running(_log_flow({"path": "events.jsonl"}), registry) as (engine, _):
        await engine.push("t", "hook", {"n": 1})
        await engine.wait_idle("t")
    (line,) = (tmp_path / "home" / "logs" / "events.jsonl").read_text().splitlines()
    assert json.loads(line)["message"] == {"n": 1}


@pytest.mark.parametrize(
    "path",
    ["../outside.jsonl", "sub/../../outside.jsonl", "..", "sub/.."],
    ids=["dot-dot", "dot-dot-deeper", "parent", "up-again"],
)
def test_validate_refuses_a_log_path_that_climbs_out_with_dot_dot_at_its_json_path(registry, path):
    with pytest.raises(FlowValidationError) as refused:
        validate_flow(_log_flow({"path": path}), registry)
    [problem] = refused.value.problems
    assert problem.path == "$.components.next.config.properties.path"
    assert problem.message.startswith(f'"{path}" leads out of the log folder')
    assert "FLOWMIXER_LOG_DIR" in problem.message


def test_validate_accepts_log_paths_with_dots_that_stay_inside(registry):
    for path in ("a/..b/c.jsonl", "orders..jsonl", "./x.jsonl", "..hidden"):
        validate_flow(_log_flow({"path": path}), registry)


@pytest.mark.parametrize(
    "path",
    ["OUTSIDE", "escape/outside.jsonl", "."],
    ids=["absolute-elsewhere", "symlink-out", "the-folder"],
)
async def test_log_refuses_a_path_leading_out_of_its_folder_and_writes_nothing(
    registry, tmp_path, monkeypatch, path
):
    folder, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "escape").symlink_to(elsewhere)
    monkeypatch.setenv("FLOWMIXER_LOG_DIR", str(folder))
    path = str(elsewhere / "outside.jsonl") if path == "OUTSIDE" else path
    plan = validate_flow(_log_flow({"path": path}), registry)
    async with Engine(MemoryStore()) as engine:
        with capture_logs(), pytest.raises(EngineError) as refused:
            await engine.start_flow(plan)
        assert not engine.is_running("t")
    assert f"property 'path': {path!r} leads outside the log folder" in str(refused.value)
    assert "FLOWMIXER_LOG_DIR" in str(refused.value)
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "outside.jsonl").exists()


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (EXAMPLES / "flows").glob("*.json")), ids=lambda n: n
)
def test_each_example_flow_validates(registry, name):
    flow = json.loads((EXAMPLES / "flows" / name).read_text())
    plan = validate_flow(flow, registry)
    assert set(plan.nodes) == set(flow["components"])


async def test_the_webhook_example_logs_the_sample_order(registry, capsys):
    flow = json.loads((EXAMPLES / "flows" / "webhook-filter-log.json").read_text())
    order = json.loads((EXAMPLES / "events" / "order.json").read_text())
    with capture_logs():
        async with running(flow, registry) as (engine, _):
            await engine.push(flow["id"], "hook", order)
            await engine.push(flow["id"], "hook", {**order, "total": 5})
            await engine.wait_idle(flow["id"])

    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["message"] for line in lines] == [order]
