"""Flow files: every problem reported by JSON path; a valid flow compiled into a FlowPlan."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import ConfigurationError, FlowValidationError
from runtime.flow import check_flow, load_flow, payload_validator, validate_flow
from runtime.plan import Route
from runtime.registry import Registry
from runtime.retry import RetryPolicy
from tests.fixtures.handlers import Emit, Pass

FLOWS = Path(__file__).resolve().parent / "fixtures" / "flows"


def flow() -> dict[str, Any]:
    """A valid flow: tick -> split -(out)-> post, and log taking split's two ports and post."""
    return {
        "id": "pins",
        "components": {
            "tick": {"type": "test.core.Tick", "config": {"properties": {"interval": 5}}},
            "split": {"type": "test.core.Split", "source": {"in": {"tick": ["out"]}}},
            "post": {
                "type": "test.svc.Post",
                "source": {"in": {"split": ["out"]}},
                "concurrency": 4,
                "config": {
                    "properties": {"boardId": "b1"},
                    "transform": {
                        "in": {"title": "Tick {{{$.tick.out.n}}}", "board": "{{{$.split.out}}}"}
                    },
                },
            },
            "log": {
                "type": "test.core.Pass",
                "source": {"in": {"split": ["out", "rejected"], "post": ["out"]}},
            },
        },
    }


def problems(data: Any, registry: Registry) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(data, registry, source="pins.json")
    assert caught.value.source == "pins.json"
    assert check_flow(data, registry) == caught.value.problems
    return [str(problem) for problem in caught.value.problems]


def changed(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(flow())
    change(data)
    return data


# -- a valid flow --------------------------------------------------------------------------


def test_a_valid_flow_compiles_into_a_plan_with_every_route(sample_registry):
    plan = validate_flow(flow(), sample_registry)
    assert check_flow(flow(), sample_registry) == []
    assert (plan.id, plan.name, plan.retry) == ("pins", "pins", RetryPolicy())
    assert list(plan.nodes) == ["tick", "split", "post", "log"]
    routes = {cid: dict(node.routes) for cid, node in plan.nodes.items()}
    assert routes == {
        "tick": {"out": (Route("split", "in"),)},
        "split": {
            "out": (Route("post", "in"), Route("log", "in")),
            "rejected": (Route("log", "in"),),
        },
        "post": {"out": (Route("log", "in"),)},
        "log": {"out": ()},
    }
    assert plan.nodes["log"].is_sink
    assert plan.nodes["tick"].is_trigger


def test_a_plan_keeps_the_outputs_that_templates_read_and_no_others(sample_registry):
    plan = validate_flow(flow(), sample_registry)
    kept = {cid for cid, node in plan.nodes.items() if node.keep_output}
    assert kept == {"tick", "split"}


def test_a_plan_holds_handlers_properties_with_defaults_and_run_settings(sample_registry):
    nodes = validate_flow(flow(), sample_registry).nodes
    assert nodes["tick"].handler is Emit
    assert nodes["post"].handler is Pass
    assert nodes["post"].type == "test.svc.Post"
    assert dict(nodes["post"].properties) == {"boardId": "b1", "mode": "fast"}
    assert (nodes["post"].concurrency, nodes["log"].concurrency) == (4, 1)
    assert (nodes["tick"].tick_interval, nodes["post"].tick_interval) == (5, None)
    with pytest.raises(TypeError):
        nodes["post"].properties["boardId"] = "changed"  # type: ignore[index]


def test_a_polling_trigger_without_an_interval_property_ticks_at_its_manifest_interval(
    sample_registry,
):
    data = {"id": "t", "components": {"tick": {"type": "test.core.Tick"}}}
    assert validate_flow(data, sample_registry).nodes["tick"].tick_interval == 30


def test_changing_the_flow_data_after_validation_changes_nothing_in_the_plan(sample_registry):
    data = changed(_set("components.post.config.properties.limits", {"max": 3}))
    data["components"]["post"]["config"]["transform"]["in"]["tags"] = ["fixed"]
    post = validate_flow(data, sample_registry).nodes["post"]
    data["components"]["post"]["config"]["properties"]["limits"]["max"] = 4
    data["components"]["post"]["config"]["transform"]["in"]["tags"].append("added")
    assert post.properties["limits"] == {"max": 3}
    assert post.transforms["in"]({})["tags"] == ["fixed"]


def test_a_webhook_trigger_is_flagged_in_the_plan(sample_registry):
    data = {"id": "t", "components": {"hook": {"type": "test.core.Hook"}}}
    node = validate_flow(data, sample_registry).nodes["hook"]
    assert (node.webhook, node.tick_interval) == (True, None)


def test_a_plan_renders_each_transform_from_the_trail(sample_registry):
    post = validate_flow(flow(), sample_registry).nodes["post"]
    trail = {"tick": {"out": {"n": 7}}, "split": {"out": {"x": 1}}}
    assert post.transforms["in"](trail) == {"title": "Tick 7", "board": {"x": 1}}
    assert "in" not in validate_flow(flow(), sample_registry).nodes["log"].transforms


def test_a_plan_validates_input_only_where_the_in_port_has_a_schema(sample_registry):
    nodes = validate_flow(flow(), sample_registry).nodes
    assert "in" not in nodes["log"].validators  # schema {} accepts anything: no check at all
    validate = nodes["post"].validators["in"]
    assert validate({"title": "ok"}) is None
    assert validate({"title": 123}) == "$.title: 123 is not of type 'string'"
    assert validate({}) == "$: 'title' is a required property"


def test_the_retry_settings_and_name_of_a_flow_file_reach_the_plan(sample_registry):
    plan = load_flow(FLOWS / "pins.json", sample_registry)
    assert plan.name == "Post every tick"
    assert plan.retry == RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=2.0)


def test_an_empty_payload_schema_gives_no_validator():
    assert payload_validator({}) is None


def test_a_long_validation_message_is_cut_short():
    validate = payload_validator({"type": "string"})
    assert validate is not None
    message = validate(["x" * 50] * 50)
    assert message is not None
    assert len(message) == 300
    assert message.endswith("…")


# -- flow files ----------------------------------------------------------------------------


def test_a_flow_file_that_is_not_json_is_refused_with_line_and_column(sample_registry):
    with pytest.raises(FlowValidationError) as caught:
        load_flow(FLOWS / "broken.json", sample_registry)
    assert caught.value.source == str(FLOWS / "broken.json")
    assert [str(p) for p in caught.value.problems] == [
        "$: is not valid JSON: Expecting property name enclosed in double quotes"
        " at line 5, column 75"
    ]


def test_a_flow_file_that_names_a_component_twice_is_refused(sample_registry):
    with pytest.raises(FlowValidationError) as caught:
        load_flow(FLOWS / "repeated.json", sample_registry)
    assert [str(p) for p in caught.value.problems] == [
        '$: has the key "tick" twice in one object; JSON keeps only the last one'
    ]


def test_a_missing_flow_file_is_refused_clearly(sample_registry, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        load_flow(tmp_path / "nowhere.json", sample_registry)
    assert str(caught.value) == (
        f"{tmp_path / 'nowhere.json'}: invalid flow (1 problem(s)):\n"
        "  - $: the flow file does not exist"
    )


# -- broken flows: each problem at its path ------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change setting the dotted ``path`` of a flow to ``value``."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value

    return change


def _rename_log(data: dict[str, Any]) -> None:
    data["components"]["1 log"] = data["components"].pop("log")


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "flow id": (
        _set("id", "Pins!"),
        '$.id: must hold only lowercase letters, digits, "_" and "-", starting with a letter'
        ' or digit (e.g. "repin-new-pins")',
    ),
    "flow id too long": (_set("id", "p" * 65), "$.id: must have at most 64 characters"),
    "flow id missing": (lambda d: d.pop("id"), "$.id: is required but missing"),
    "misspelled top field": (
        _set("nmae", "x"),
        "$.nmae: is not a known field; the known fields here are: id, name, description, retry,"
        ' accounts, components; did you mean "name"?',
    ),
    "negative delay": (
        _set("retry", {"baseDelay": -1}),
        "$.retry.baseDelay: must be greater than or equal to 0 (it is -1)",
    ),
    "zero attempts": (
        _set("retry", {"maxAttempts": 0}),
        "$.retry.maxAttempts: must be greater than or equal to 1 (it is 0)",
    ),
    "components not an object": (
        _set("components", []),
        "$.components: must be an object, not an array",
    ),
    "no components": (
        _set("components", {}),
        "$.components: is empty; a flow needs at least one component",
    ),
    "component id": (
        _rename_log,
        '$.components["1 log"]: the component id "1 log" must start with a letter and hold only'
        ' letters, digits, "_" and "-"',
    ),
    "component not an object": (
        _set("components.log", "test.core.Pass"),
        "$.components.log: must be an object, not a string",
    ),
    "misspelled component field": (
        _set("components.log.sources", {}),
        "$.components.log.sources: is not a known field; the known fields here are: type,"
        ' source, concurrency, timeout, config; did you mean "source"?',
    ),
    "misspelled config field": (
        _set("components.post.config.property", {}),
        "$.components.post.config.property: is not a known field; the known fields here are:"
        ' properties, transform; did you mean "properties"?',
    ),
    "concurrency too high": (
        _set("components.post.concurrency", 1001),
        "$.components.post.concurrency: must be less than or equal to 1000 (it is 1001)",
    ),
    "concurrency as text": (
        _set("components.post.concurrency", "4"),
        "$.components.post.concurrency: must be a whole number, not a string",
    ),
    "out-ports not a list": (
        _set("components.post.source.in.split", "out"),
        "$.components.post.source.in.split: must be an array, not a string",
    ),
    "unknown type": (
        _set("components.post.type", "test.svc.Pots"),
        '$.components.post.type: unknown component type "test.svc.Pots";'
        ' did you mean "test.svc.Post"?',
    ),
    "wire from an unknown component": (
        _set("components.post.source.in", {"splitt": ["out"]}),
        '$.components.post.source.in.splitt: there is no component "splitt" in this flow;'
        ' did you mean "split"?',
    ),
    "wire to an unknown in-port": (
        _set("components.post.source", {"inn": {"split": ["out"]}}),
        '$.components.post.source.inn: component "post" has no in-port "inn";'
        ' its in-ports are: in; did you mean "in"?',
    ),
    "wire from an unknown out-port": (
        _set("components.log.source.in.split", ["out", "rejectd"]),
        '$.components.log.source.in.split[1]: component "split" has no out-port "rejectd";'
        ' its out-ports are: out, rejected; did you mean "rejected"?',
    ),
    "no out-ports listed": (
        _set("components.log.source.in.post", []),
        "$.components.log.source.in.post: lists no out-ports; name the ones to take messages"
        ' from, e.g. ["out"]',
    ),
    "out-port listed twice": (
        _set("components.log.source.in.post", ["out", "out"]),
        '$.components.log.source.in.post[1]: lists the out-port "out" twice',
    ),
    "trigger with a source": (
        _set("components.tick.source", {"in": {"split": ["rejected"]}}),
        '$.components.tick.source: component "tick" is a trigger (test.core.Tick has no'
        " in-ports), so it cannot have a source",
    ),
    "trigger with a transform": (
        _set("components.tick.config.transform", {"in": {}}),
        '$.components.tick.config.transform: component "tick" is a trigger (test.core.Tick has'
        " no in-ports), so it has no input to transform",
    ),
    "transform of a port that is no in-port": (
        _set("components.post.config.transform.inn", {"a": 1}),
        '$.components.post.config.transform.inn: component "post" has no in-port "inn";'
        ' its in-ports are: in; did you mean "in"?',
    ),
    "property of the wrong type": (
        _set("components.post.config.properties.boardId", 5),
        "$.components.post.config.properties.boardId: 5 is not of type 'string'",
    ),
    "nested property of the wrong type": (
        _set("components.post.config.properties.limits", {"max": "ten"}),
        "$.components.post.config.properties.limits.max: 'ten' is not of type 'integer'",
    ),
    "missing property": (
        _set("components.post.config.properties", {}),
        "$.components.post.config.properties: 'boardId' is a required property",
    ),
    "unknown property": (
        _set("components.tick.config.properties", {"interval": 5, "intervl": 5}),
        "$.components.tick.config.properties: Additional properties are not allowed"
        " ('intervl' was unexpected)",
    ),
    "interval out of range": (
        _set("components.tick.config.properties.interval", 0),
        "$.components.tick.config.properties.interval: 0 is less than or equal to the minimum of 0",
    ),
    "malformed variable": (
        _set("components.post.config.transform.in.title", "{{{$.tick}}}"),
        "$.components.post.config.transform.in.title: variable {{{$.tick}}} names no port of"
        ' component "tick"; write it like {{{$.componentId.port}}} or'
        " {{{$.componentId.port.some.field}}}",
    ),
    "variable of an unknown component": (
        _set("components.post.config.transform.in.title", "{{{$.tock.out}}}"),
        "$.components.post.config.transform.in.title: variable {{{$.tock.out}}} reads"
        ' component "tock", which is not in this flow; did you mean "tick"?',
    ),
    "variable of an unknown port": (
        _set("components.post.config.transform.in.title", "{{{$.split.rejectd.x}}}"),
        "$.components.post.config.transform.in.title: variable {{{$.split.rejectd.x}}} reads a"
        ' port that does not exist: component "split" has no out-port "rejectd"; its'
        ' out-ports are: out, rejected; did you mean "rejected"?',
    ),
    "variable of a component downstream": (
        _set("components.post.config.transform.in.title", "{{{$.log.out}}}"),
        "$.components.post.config.transform.in.title: variable {{{$.log.out}}} reads component"
        ' "log", which is not upstream of "post" (no wires lead from it to "post"), so its'
        ' output is unknown when "post" runs; upstream of "post": "split", "tick"',
    ),
    "variable of a port whose wires lead elsewhere": (
        _set("components.post.config.transform.in.title", "{{{$.split.rejected}}}"),
        "$.components.post.config.transform.in.title: variable {{{$.split.rejected}}} reads"
        ' the out-port "rejected" of component "split", but no wire from that port leads to'
        ' "post", so the value would always be missing; its ports that do: out',
    ),
    "variable of the component itself": (
        _set("components.post.config.transform.in", "{{{$.post.out}}}"),
        "$.components.post.config.transform.in: variable {{{$.post.out}}} reads component"
        ' "post", which is not upstream of "post"',
    ),
}


@pytest.mark.parametrize(("change", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_flow_is_refused_naming_the_problem_at_its_path(sample_registry, change, expected):
    found = problems(changed(change), sample_registry)
    assert len(found) == 1, found
    assert found[0].startswith(expected)


@pytest.mark.parametrize("data", [[], "pins", None], ids=["an array", "a string", "null"])
def test_a_flow_that_is_not_an_object_is_refused(sample_registry, data):
    assert problems(data, sample_registry)[0].startswith("$: a flow must be a JSON object, not")


def test_every_problem_of_a_flow_is_reported_at_once(sample_registry):
    def break_many(data: dict[str, Any]) -> None:
        data["id"] = "Pins"
        components = data["components"]
        components["split"]["type"] = "test.core.Splitt"
        components["post"]["config"]["properties"]["boardId"] = 1
        components["post"]["config"]["transform"]["in"]["title"] = "{{{$.}}}"
        components["log"]["source"]["in"]["post"] = ["outt"]
        components["log"]["concurrency"] = 0

    found = [p.split(":")[0] for p in problems(changed(break_many), sample_registry)]
    assert found == [
        "$.id",
        "$.components.split.type",
        "$.components.log.concurrency",
        "$.components.post.config.properties.boardId",
        "$.components.post.config.transform.in.title",
    ]


def test_the_problems_of_one_component_do_not_hide_those_of_another(sample_registry):
    def break_two(data: dict[str, Any]) -> None:
        data["components"]["post"]["concurrency"] = "many"
        data["components"]["log"]["source"]["in"]["split"] = ["nope"]

    assert [p.split(":")[0] for p in problems(changed(break_two), sample_registry)] == [
        "$.components.post.concurrency",
        "$.components.log.source.in.split[0]",
    ]


def test_wires_and_variables_naming_a_broken_component_add_no_second_problem(sample_registry):
    found = problems(changed(_set("components.split.concurrency", -1)), sample_registry)
    assert [p.split(":")[0] for p in found] == ["$.components.split.concurrency"]


# -- properties a schema refuses whatever their value ---------------------------------------


@pytest.fixture(scope="module")
def shipped_registry() -> Registry:
    return Registry.load()


@pytest.mark.parametrize("operator", ["exists", "isNotEmpty"], ids=["exists", "isNotEmpty"])
def test_a_value_for_a_filter_operator_that_takes_none_is_refused_in_plain_words(
    shipped_registry, operator
):
    properties = {"field": "a", "operator": operator, "value": 1}
    data = {
        "id": "f",
        "components": {
            "f": {"type": "flowmixer.core.Filter", "config": {"properties": properties}}
        },
    }
    assert problems(data, shipped_registry) == [
        '$.components.f.config.properties.value: property "value" is not allowed here when'
        f' "operator" is "{operator}"'
    ]
    del properties["value"]
    assert check_flow(data, shipped_registry) == []


def test_a_property_refused_by_a_false_or_not_anything_schema_is_not_allowed_here(tmp_path):
    schema = {
        "type": "object",
        "properties": {
            "legacy": False,
            "retired": False,
            "tags": {"type": "array", "items": {"not": {}}},
            "mode": {"enum": ["a", "b"]},
        },
        "if": {"properties": {"mode": {"const": "a"}}},
        "then": {"properties": {"extra": False}},
        "else": {"properties": {"extra": {"not": {}}}},
    }
    manifest = {
        "name": "test.core.Strict",
        "label": "Strict",
        "description": "Has properties that are never allowed, or only in some modes.",
        "handler": "tests.fixtures.handlers:Pass",
        "properties": {"schema": schema},
        "inPorts": [{"name": "in"}],
        "outPorts": [{"name": "out"}],
    }
    (tmp_path / "Strict.json").write_text(json.dumps(manifest))
    registry = Registry.load(tmp_path)

    def refused(properties: dict[str, Any]) -> list[str]:
        strict = {"type": "test.core.Strict", "config": {"properties": properties}}
        return problems({"id": "s", "components": {"s": strict}}, registry)

    at = "$.components.s.config.properties"
    # jsonschema drops the name of a property refused by false; it is found again
    assert refused({"retired": 1, "legacy": 1, "tags": ["x"]}) == [
        f'{at}.legacy: property "legacy" is not allowed here',
        f'{at}.retired: property "retired" is not allowed here',
        f"{at}.tags[0]: is not allowed here",
    ]
    assert refused({"mode": "a", "extra": True}) == [
        f'{at}.extra: property "extra" is not allowed here when "mode" is "a"'
    ]
    # an "else" branch has no condition that holds to name
    assert refused({"mode": "b", "extra": True}) == [
        f'{at}.extra: property "extra" is not allowed here'
    ]


# -- cycles and the upstream rule ----------------------------------------------------------


def test_a_flow_with_a_cycle_is_refused_naming_the_components_in_order(sample_registry):
    # log -> split is the new wire; it closes log -> split -> post -> log (and log -> split -> log)
    data = changed(_set("components.split.source.in", {"tick": ["out"], "log": ["out"]}))
    assert problems(data, sample_registry) == [
        '$.components.log.source: components "log" -> "split" -> "post" -> "log" form a'
        " cycle: a message would go round forever; remove one wire",
    ]


def test_separate_cycles_are_each_reported(sample_registry):
    def two_loops(data: dict[str, Any]) -> None:
        data["components"]["split"]["source"]["in"]["post"] = ["out"]
        data["components"]["echo"] = {"type": "test.core.Pass", "source": {"in": {"echo": ["out"]}}}

    assert [p.split(" form")[0] for p in problems(changed(two_loops), sample_registry)] == [
        '$.components.post.source: components "post" -> "split" -> "post"',
        '$.components.echo.source: component "echo" is wired to itself: a message would go'
        " round forever; remove one wire",
    ]


def test_a_component_wired_to_itself_is_a_cycle(sample_registry):
    data = changed(_set("components.log.source.in.log", ["out"]))
    assert problems(data, sample_registry) == [
        '$.components.log.source: component "log" is wired to itself: a message would go'
        " round forever; remove one wire"
    ]


def test_a_template_may_read_any_component_upstream_not_only_the_direct_source(
    sample_registry,
):
    data = changed(_set("components.log.config", {"transform": {"in": "{{{$.tick.out}}}"}}))
    plan = validate_flow(data, sample_registry)
    assert plan.nodes["log"].transforms["in"]({"tick": {"out": [1]}}) == [1]


def test_a_template_may_not_read_a_component_on_another_branch(sample_registry):
    def add_branch(data: dict[str, Any]) -> None:
        data["components"]["hook"] = {"type": "test.core.Hook"}
        data["components"]["side"] = {
            "type": "test.core.Pass",
            "source": {"in": {"hook": ["out"]}},
            "config": {"transform": {"in": {"t": "{{{$.split.out}}} {{{$.hook.out}}}"}}},
        }

    assert problems(changed(add_branch), sample_registry) == [
        "$.components.side.config.transform.in.t: variable {{{$.split.out}}} reads component"
        ' "split", which is not upstream of "side" (no wires lead from it to "side"), so its'
        ' output is unknown when "side" runs; upstream of "side": "hook"'
    ]


def test_a_component_that_nothing_feeds_has_nothing_upstream(sample_registry):
    data = changed(_set("components.lonely", {"type": "test.core.Pass"}))
    data["components"]["lonely"]["config"] = {"transform": {"in": "{{{$.tick.out}}}"}}
    assert problems(data, sample_registry)[0].endswith('upstream of "lonely": no component')


def test_in_ports_left_unwired_are_allowed(sample_registry):
    data = {"id": "t", "components": {"merge": {"type": "test.core.Merge"}}}
    assert dict(validate_flow(data, sample_registry).nodes["merge"].routes) == {"out": ()}


@given(length=st.integers(min_value=2, max_value=8), data=st.data())
def test_the_last_of_a_chain_may_read_any_earlier_component_and_only_that_one_is_kept(
    sample_registry, length, data
):
    read = data.draw(st.integers(min_value=0, max_value=length - 2), label="read")
    components: dict[str, Any] = {"c0": {"type": "test.core.Hook"}}
    for i in range(1, length):
        components[f"c{i}"] = {"type": "test.core.Pass", "source": {"in": {f"c{i - 1}": ["out"]}}}
    last = components[f"c{length - 1}"]
    last["config"] = {"transform": {"in": {"v": f"{{{{{{$.c{read}.out.v}}}}}}"}}}
    plan = validate_flow({"id": "chain", "components": components}, sample_registry)
    assert [cid for cid, node in plan.nodes.items() if node.keep_output] == [f"c{read}"]
    for i in range(length - 1):
        assert plan.nodes[f"c{i}"].routes["out"] == (Route(f"c{i + 1}", "in"),)
    # reading the last itself, which is not upstream of itself, is refused
    last["config"]["transform"]["in"]["v"] = f"{{{{{{$.c{length - 1}.out}}}}}}"
    assert len(check_flow({"id": "chain", "components": components}, sample_registry)) == 1


# -- a tick interval that no schema checks ------------------------------------------------


def test_a_tick_interval_that_is_not_a_positive_number_is_refused(tmp_path):
    manifest = {
        "name": "test.core.Loose",
        "label": "Loose",
        "description": "A polling trigger whose properties have no schema.",
        "handler": "tests.fixtures.handlers:Emit",
        "tick": {"interval": 10},
        "outPorts": [{"name": "out"}],
    }
    (tmp_path / "Loose.json").write_text(json.dumps(manifest))
    registry = Registry.load(Path(tmp_path))
    data = {
        "id": "t",
        "components": {
            "t": {"type": "test.core.Loose", "config": {"properties": {"interval": "5"}}}
        },
    }
    assert problems(data, registry) == [
        "$.components.t.config.properties.interval: must be a number of seconds greater than 0"
    ]
    data["components"]["t"]["config"]["properties"]["interval"] = 2.5
    assert validate_flow(data, registry).nodes["t"].tick_interval == 2.5
