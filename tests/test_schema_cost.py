"""Schema cost checks: expensive webhook and in-port schemas are refused at their JSON path."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from runtime.cli import main
from runtime.engine import Engine
from runtime.errors import EngineError, FlowValidationError
from runtime.flow import check_flow, validate_flow
from runtime.logging import reset_logging
from runtime.regex_cost import backtracking_risk
from runtime.registry import Registry
from runtime.schema_cost import schema_cost_problems
from runtime.stores.memory import MemoryStore

SCHEMA_AT = "$.components.hook.config.properties.schema"


def bomb(levels: int, branches: int = 2, keyword: str = "anyOf") -> dict[str, Any]:
    """``levels`` definitions, each ``keyword`` of ``branches`` references to the next one:
    ``branches ** levels`` subschemas tried for a value that matches none."""
    defs: dict[str, Any] = {
        f"d{i}": {keyword: [{"$ref": f"#/$defs/d{i + 1}"} for _ in range(branches)]}
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string", "minLength": 3}
    return {"$ref": "#/$defs/d0", "$defs": defs}


def hooked(schema: Any) -> dict[str, Any]:
    return {
        "id": "hooked",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook", "config": {"properties": {"schema": schema}}}
        },
    }


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def refused(schema: Any, registry: Registry) -> list[tuple[str, str]]:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(hooked(schema), registry)
    return [(p.path, p.message) for p in caught.value.problems]


# -- the webhook's schema ------------------------------------------------------------------


def test_a_schema_bomb_of_nested_anyof_and_ref_is_refused_where_it_grows_too_big(registry):
    [(path, message)] = refused(bomb(18), registry)

    assert path == f"{SCHEMA_AT}.$defs.d10"  # 1021 evaluations from there on
    assert "more than 1000 subschemas" in message


def test_a_bomb_through_properties_is_refused_at_the_level_of_the_payload_it_reaches(registry):
    node = {"anyOf": [{"properties": {"c": {"$ref": "#/$defs/n"}}} for _ in range(2)]}
    [(path, message)] = refused({"$ref": "#/$defs/n", "$defs": {"n": node}}, registry)

    assert path == f"{SCHEMA_AT}.$defs.n"
    assert "one value 8 level(s) down in the payload" in message


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"properties": {"name": {"pattern": "^(a+)+$"}}}, ".properties.name.pattern"),
        ({"patternProperties": {"^(x*)*$": {}}}, '.patternProperties["^(x*)*$"]'),
        ({"items": {"pattern": "(a|a)*b"}}, ".items.pattern"),
        ({"propertyNames": {"pattern": "^(.*a){20}$"}}, ".propertyNames.pattern"),
    ],
    ids=["nested plus", "nested star", "overlapping alternatives", "repeated dot star"],
)
def test_a_pattern_that_backtracks_is_refused_at_its_path(registry, schema, where):
    [(path, message)] = refused(schema, registry)

    assert path == SCHEMA_AT + where
    assert "backtracks catastrophically" in message


def test_unique_items_over_objects_needs_a_bound_on_the_arrays_length(registry):
    [(path, message)] = refused({"items": {"type": "object"}, "uniqueItems": True}, registry)

    assert path == f"{SCHEMA_AT}.uniqueItems"
    assert "give maxItems (at most 1000)" in message
    validate_flow(hooked({"uniqueItems": True, "maxItems": 100}), registry)
    validate_flow(hooked({"uniqueItems": True, "items": {"type": "string"}}), registry)


def test_a_schema_nested_too_deep_is_refused(registry):
    schema: dict[str, Any] = {}
    inner = schema
    for _ in range(40):
        inner["not"] = {}
        inner = inner["not"]
    [(path, message)] = refused(schema, registry)

    assert path == SCHEMA_AT + ".not" * 33
    assert message == "is nested too deep: at most 32 levels"


def test_a_schema_with_too_many_subschemas_is_refused(registry):
    schema = {"properties": {f"p{i}": {"type": "string"} for i in range(2500)}}

    assert refused(schema, registry) == [(SCHEMA_AT, "has too many subschemas: at most 2000")]


def test_a_reference_cycle_that_never_descends_into_the_value_is_refused(registry):
    schema = {"$ref": "#/$defs/a", "$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}}
    [(path, message)] = refused(schema, registry)

    assert path == f"{SCHEMA_AT}.$defs.a"
    assert "validating would never end" in message


def test_a_webhook_schema_that_is_no_schema_is_refused_at_its_path(registry):
    [(path, message)] = refused({"properties": {"n": {"type": 5}}}, registry)

    assert path == f"{SCHEMA_AT}.properties.n.type"
    assert message.startswith("is not a valid JSON Schema: 5 is not valid")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "required": ["total"], "properties": {"total": {"type": "number"}}},
        {  # a recursive tree: one evaluation per value, however deep
            "$ref": "#/$defs/node",
            "$defs": {
                "node": {
                    "type": "object",
                    "properties": {
                        "left": {"$ref": "#/$defs/node"},
                        "right": {"$ref": "#/$defs/node"},
                        "name": {"type": "string", "pattern": r"^[a-z]+(-[a-z]+)*$"},
                    },
                }
            },
        },
        bomb(6),
        {"oneOf": [{"type": "string", "format": "email"}, {"type": "integer"}]},
        {"items": {"pattern": r"^(\d+\.){3}\d+$"}, "maxItems": 10},
    ],
    ids=["plain", "recursive tree", "small anyOf nest", "oneOf with format", "bounded repeat"],
)
def test_ordinary_schemas_are_accepted(registry, schema):
    validate_flow(hooked(schema), registry)


def test_every_installed_manifest_schema_passes_the_cost_checks(registry):
    for manifest in registry.components():
        for index, port in enumerate(manifest.in_ports):
            assert schema_cost_problems(port.schema_, f"$.inPorts[{index}]") == [], manifest.name
        assert schema_cost_problems(manifest.properties.schema_) == [], manifest.name


def test_validate_refuses_a_schema_bomb_naming_its_path(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "home"))
    path = tmp_path / "bomb.json"
    path.write_text(json.dumps(hooked(bomb(18))))
    try:
        assert main(["validate", str(path)]) == 1
    finally:
        reset_logging()

    assert f"{SCHEMA_AT}.$defs.d10" in capsys.readouterr().out


# -- the checker on any input --------------------------------------------------------------

_leaf = st.one_of(
    st.booleans(),
    st.fixed_dictionaries({"type": st.sampled_from(["string", "number", "object", "array"])}),
    st.fixed_dictionaries({"pattern": st.text(alphabet="ab()*+?|.^$[]{}\\-0123", max_size=12)}),
    st.fixed_dictionaries({"$ref": st.sampled_from(["#", "#/$defs/x", "#/nowhere", "other.json"])}),
)
_schemas = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.dictionaries(
            st.sampled_from(
                ["not", "if", "then", "else", "items", "contains", "additionalProperties"]
            ),
            inner,
            max_size=3,
        ),
        st.dictionaries(
            st.sampled_from(["anyOf", "oneOf", "allOf", "prefixItems"]),
            st.lists(inner, max_size=3),
            max_size=2,
        ),
        st.dictionaries(
            st.sampled_from(["properties", "patternProperties", "$defs"]),
            st.dictionaries(st.sampled_from(["x", "y", "(a+)+"]), inner, max_size=2),
            max_size=2,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_schemas)
def test_the_cost_checker_never_crashes_on_a_small_schema(schema):
    problems = schema_cost_problems(schema, "$.s")

    assert all(p.path.startswith("$.s") and p.message for p in problems)


@settings(max_examples=50, deadline=None)
@given(
    levels=st.integers(min_value=10, max_value=40),
    branches=st.integers(min_value=2, max_value=4),
    keyword=st.sampled_from(["anyOf", "oneOf", "allOf"]),
)
def test_a_nest_of_branching_references_is_always_refused(levels, branches, keyword):
    problems = schema_cost_problems(bomb(levels, branches, keyword), "$.s")

    assert [p.message for p in problems if "more than 1000 subschemas" in p.message]


@settings(max_examples=100, deadline=None)
@given(
    atom=st.sampled_from(["a", "[a-z]", ".", r"\w", r"\d", "(?:ab)"]),
    inner=st.sampled_from(["+", "*", "{1,}", "{2,}"]),
    outer=st.sampled_from(["+", "*", "{2,}", "{5}"]),
    prefix=st.sampled_from(["", "^", "x"]),
)
def test_a_quantified_group_of_a_quantified_atom_is_always_refused(atom, inner, outer, prefix):
    assert backtracking_risk(f"{prefix}({atom}{inner}){outer}$") is not None


def test_check_flow_reports_the_same_problems_as_validate(registry):
    assert [p.path for p in check_flow(hooked(bomb(18)), registry)] == [f"{SCHEMA_AT}.$defs.d10"]


async def test_a_webhook_refuses_an_expensive_schema_in_a_plan_built_without_checks(registry):
    plan = validate_flow(hooked({"type": "object"}), registry)
    hook = replace(plan.nodes["hook"], properties=MappingProxyType({"schema": bomb(18)}))
    plan = replace(plan, nodes={"hook": hook})
    async with Engine(MemoryStore()) as engine:
        with capture_logs(), pytest.raises(EngineError, match="too expensive to validate with"):
            await engine.start_flow(plan)
