"""The manifest registry: loads every manifest, refuses broken ones naming file and field."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from runtime.component import Component
from runtime.errors import ConfigurationError, ManifestError
from runtime.registry import Registry, UnknownComponentError
from tests.fixtures.handlers import Emit, Pass

REMOVE = object()
RULES = Path(__file__).resolve().parent / "fixtures" / "service_rules"


def manifest(**changes: Any) -> dict[str, Any]:
    """A valid component manifest with ``changes`` (``REMOVE`` drops a key)."""
    data: dict[str, Any] = {
        "name": "test.core.Thing",
        "label": "Thing",
        "description": "Does a thing.",
        "handler": "tests.fixtures.handlers:Pass",
        "inPorts": [{"name": "in"}],
        "outPorts": [{"name": "out"}],
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not REMOVE}


def write(root: Path, rel: str, content: Any) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        Registry.load(root)
    assert caught.value.source == str(root)
    return [str(problem) for problem in caught.value.problems]


# -- a good tree ---------------------------------------------------------------------------


def test_a_tree_of_good_manifests_loads_with_components_services_and_handlers(sample_registry):
    assert sample_registry.names() == [
        "test.core.Hook",
        "test.core.Merge",
        "test.core.Pass",
        "test.core.Split",
        "test.core.Tick",
        "test.svc.Post",
    ]
    assert [m.name for m in sample_registry.components()] == sample_registry.names()
    assert list(sample_registry.services()) == ["test:svc"]
    assert sample_registry.service("test:svc").label == "Test service"
    assert sample_registry.service("test:nope") is None
    assert sample_registry.handler("test.core.Tick") is Emit
    assert sample_registry.handler("test.svc.Post") is Pass
    assert sample_registry.get("test.core.Tick").tick.interval == 30
    assert sample_registry.source_of("test.core.Split").endswith("test/Split.json")
    assert "test.core.Pass" in sample_registry
    assert len(sample_registry) == 6


def test_an_unknown_component_name_is_refused_with_a_suggestion(sample_registry):
    assert sample_registry.find("test.core.Pas") is None
    with pytest.raises(UnknownComponentError) as caught:
        sample_registry.get("test.core.Pas")
    assert (
        str(caught.value)
        == 'unknown component type "test.core.Pas"; did you mean "test.core.Pass"?'
    )
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, ConfigurationError)
    with pytest.raises(KeyError):
        sample_registry.handler("nothing.like.This")


def test_manifests_in_nested_folders_and_several_roots_are_all_loaded(tmp_path):
    write(tmp_path / "one", "deep/er/Thing.json", manifest())
    write(tmp_path / "two", "Other.json", manifest(name="test.core.Other"))
    write(tmp_path / "two", "__pycache__/Ignored.json", "not even JSON")
    registry = Registry.load(tmp_path / "one", str(tmp_path / "two"))
    assert registry.names() == ["test.core.Other", "test.core.Thing"]


def test_with_several_roots_problems_name_each_file_in_full(tmp_path):
    write(tmp_path / "one", "Thing.json", manifest(label=REMOVE))
    write(tmp_path / "two", "Thing.json", manifest(name="test.core.Other", label=REMOVE))
    with pytest.raises(ManifestError) as caught:
        Registry.load(tmp_path / "one", tmp_path / "two")
    assert caught.value.source == f"{tmp_path / 'one'}, {tmp_path / 'two'}"
    assert [p.path for p in caught.value.problems] == [
        f"{tmp_path / 'one'}/Thing.json $.label",
        f"{tmp_path / 'two'}/Thing.json $.label",
    ]


def test_a_single_manifest_file_can_be_a_root(tmp_path):
    path = write(tmp_path, "Thing.json", manifest())
    assert Registry.load(path).names() == ["test.core.Thing"]


def test_the_manifests_shipped_with_flowmixer_all_load():
    registry = Registry.load()
    shipped = Path(str(files("manifests")))
    component_files = [p for p in shipped.rglob("*.json") if p.name != "service.json"]
    assert len(registry) == len(component_files) > 0
    for name in registry.names():
        assert issubclass(registry.handler(name), Component)
    assert "flowmixer.core.Webhook" in registry


# -- broken manifests ----------------------------------------------------------------------

BROKEN = {
    "missing field": (manifest(label=REMOVE), "$.label: is required but missing"),
    "misspelled field": (
        {**manifest(inPorts=REMOVE), "inPort": [{"name": "in"}]},
        "$.inPort: is not a known field; the known fields here are: name, label, description,"
        " version, handler, icon, auth, quota, properties, inPorts, outPorts, tick, webhook,"
        ' timeout, concurrency, authProperty, quotaProperty; did you mean "inPorts"?',
    ),
    "bad name": (manifest(name="Thing"), "$.name: must look like vendor.service.Component"),
    "bad port name": (
        manifest(inPorts=[{"name": "In"}]),
        "$.inPorts[0].name: must start with a lowercase letter",
    ),
    "port schema of the wrong type": (
        manifest(outPorts=[{"name": "out", "schema": []}]),
        "$.outPorts[0].schema: must be an object, not an array",
    ),
    "invalid port schema": (
        manifest(inPorts=[{"name": "in", "schema": {"type": "strin"}}]),
        "$.inPorts[0].schema.type: is not a valid JSON Schema: 'strin' is not valid under",
    ),
    "invalid properties schema": (
        manifest(properties={"schema": {"properties": {"a": {"required": "a"}}}}),
        "$.properties.schema.properties.a.required: is not a valid JSON Schema:"
        " 'a' is not of type 'array'",
    ),
    "missing handler module": (
        manifest(handler="tests.fixtures.nowhere:Thing"),
        '$.handler: names the module "tests.fixtures.nowhere", which cannot be imported'
        " (ModuleNotFoundError: No module named 'tests.fixtures.nowhere')",
    ),
    "missing handler class": (
        manifest(handler="tests.fixtures.handlers:Passs"),
        '$.handler: names "Passs", which module "tests.fixtures.handlers" lacks;'
        ' did you mean "Pass"?',
    ),
    "handler not a component": (
        manifest(handler="tests.fixtures.handlers:NotAComponent"),
        '$.handler: names "tests.fixtures.handlers:NotAComponent", which is not a component'
        " class; a handler must be a subclass of runtime.component.Component",
    ),
    "malformed handler": (
        manifest(handler="tests.fixtures.handlers.Pass"),
        "$.handler: must look like package.module:ClassName",
    ),
    "unknown service": (
        manifest(auth={"service": "test:svcc"}),
        '$.auth.service: names the service "test:svcc", which no service.json defines;'
        ' did you mean "test:svc"?; known services: test:svc',
    ),
    "trigger with in-ports": (
        manifest(tick={"interval": 5}),
        "$: a trigger (tick or webhook) must not have inPorts",
    ),
    "tick interval of zero": (
        manifest(inPorts=REMOVE, tick={"interval": 0}),
        "$.tick.interval: must be greater than 0 (it is 0)",
    ),
    "not an object": ([1, 2], "$: must be a JSON object, not an array"),
    "invalid JSON": (
        '{\n  "name": "test.core.Thing",\n  "label": "Thing"\n  "description": "x"\n}',
        "$: is not valid JSON: Expecting ',' delimiter at line 4, column 3",
    ),
    "repeated key": (
        '{"name": "test.core.Thing", "label": "A", "label": "B", "description": "x",'
        ' "handler": "tests.fixtures.handlers:Pass"}',
        '$: has the key "label" twice in one object; JSON keeps only the last one',
    ),
}


@pytest.mark.parametrize(("content", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_manifest_is_refused_naming_its_file_and_field(tmp_path, content, expected):
    write(tmp_path, "svc/service.json", {"service": "test:svc", "label": "Svc"})
    write(tmp_path, "svc/Broken.json", content)
    problems = problems_of(tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"svc/Broken.json {expected}")


def test_every_problem_in_every_file_is_listed_in_one_error(tmp_path):
    write(tmp_path, "a/First.json", manifest(label=REMOVE, handler="nowhere:X"))
    write(tmp_path, "a/Fine.json", manifest(name="test.core.Fine"))
    write(tmp_path, "b/Second.json", "[")
    with pytest.raises(ManifestError) as caught:
        Registry.load(tmp_path)
    paths = [problem.path for problem in caught.value.problems]
    assert paths == ["a/First.json $.label", "a/First.json $.handler", "b/Second.json $"]
    assert "(3 problem(s))" in str(caught.value)


def test_a_field_error_and_a_schema_error_and_a_handler_error_are_all_reported(tmp_path):
    broken = manifest(
        handler="tests.fixtures.handlers:Nope",
        properties={"schema": {"type": 1}},
        outPorts=[{"name": "out", "schema": {"minLength": -1}}],
    )
    write(tmp_path, "Broken.json", broken)
    paths = [p.split(":")[0] for p in problems_of(tmp_path)]
    assert paths == [
        "Broken.json $.properties.schema.type",
        "Broken.json $.outPorts[0].schema.minLength",
        "Broken.json $.handler",
    ]


def test_two_components_with_one_name_are_refused_naming_both_files(tmp_path):
    write(tmp_path, "a/Thing.json", manifest())
    write(tmp_path, "b/Thing.json", manifest(label="Again"))
    assert problems_of(tmp_path) == [
        'b/Thing.json $.name: the component "test.core.Thing" is already defined in'
        " a/Thing.json; component names must be unique"
    ]


def test_a_broken_service_manifest_and_a_repeated_service_are_refused(tmp_path):
    write(tmp_path, "a/service.json", {"service": "test:svc", "label": "Svc"})
    write(tmp_path, "b/service.json", {"service": "test:svc", "label": "Again"})
    write(tmp_path, "c/service.json", {"service": "Test", "label": "Bad", "quota": [{}]})
    problems = problems_of(tmp_path)
    assert problems[0] == (
        'b/service.json $.service: the service "test:svc" is already defined in a/service.json;'
        " service names must be unique"
    )
    assert [p.split(":")[0] for p in problems[1:]] == [
        "c/service.json $.service",
        "c/service.json $.quota[0].resource",
        "c/service.json $.quota[0].limit",
        "c/service.json $.quota[0].window",
    ]


def test_a_component_may_use_a_service_defined_in_a_later_file(tmp_path):
    write(tmp_path, "a/Thing.json", manifest(auth={"service": "zz:svc", "scopes": ["x"]}))
    write(tmp_path, "z/service.json", {"service": "zz:svc", "label": "Late"})
    assert Registry.load(tmp_path).get("test.core.Thing").auth.service == "zz:svc"


# -- what a component asks of its service ---------------------------------------------------


def test_a_component_using_scopes_and_quota_resources_its_service_defines_loads():
    registry = Registry.load(RULES / "service.json", RULES / "Allowed.json")
    allowed = registry.get("test.rules.Allowed")
    assert allowed.auth.scopes == ("pins:read", "pins:write")
    assert allowed.quota.resources == ("reads", "writes")


def test_a_scope_or_quota_resource_its_service_does_not_define_is_refused_by_file_and_field():
    assert problems_of(RULES) == [
        'Overreach.json $.auth.scopes[1]: names the scope "pins:wirte", which the service'
        ' "test:rules" does not list; its scopes are: boards:read, pins:read, pins:write;'
        ' did you mean "pins:write"?',
        'Overreach.json $.auth.scopes[2]: names the scope "admin", which the service'
        ' "test:rules" does not list; its scopes are: boards:read, pins:read, pins:write',
        'Overreach.json $.quota.resources[1]: names the quota resource "write", which no quota'
        ' rule of the service "test:rules" limits; its quota resources are: reads, writes;'
        ' did you mean "writes"?',
    ]


def test_a_service_that_lists_no_scopes_or_quota_rules_leaves_them_unchecked(tmp_path):
    write(tmp_path, "svc/service.json", {"service": "test:svc", "label": "Svc"})
    asks = manifest(auth={"service": "test:svc", "scopes": ["any"]}, quota={"resources": ["any"]})
    write(tmp_path, "svc/Thing.json", asks)
    thing = Registry.load(tmp_path).get("test.core.Thing")
    assert (thing.auth.scopes, thing.quota.resources) == (("any",), ("any",))


def test_a_scope_is_checked_even_when_the_service_has_no_quota_rules_and_back(tmp_path):
    write(
        tmp_path,
        "svc/service.json",
        {"service": "test:svc", "label": "Svc", "scopes": ["read"]},
    )
    write(
        tmp_path,
        "other/service.json",
        {
            "service": "test:other",
            "label": "Other",
            "quota": [{"resource": "calls", "limit": 1, "window": 1}],
        },
    )
    scoped = {"service": "test:svc", "scopes": ["write"]}
    write(tmp_path, "svc/Thing.json", manifest(auth=scoped, quota={"resources": ["any"]}))
    limited = {"service": "test:other", "scopes": ["any"]}
    other = manifest(name="test.other.Thing", auth=limited, quota={"resources": ["call"]})
    write(tmp_path, "other/Thing.json", other)
    assert [p.split(":")[0] for p in problems_of(tmp_path)] == [
        "other/Thing.json $.quota.resources[0]",
        "svc/Thing.json $.auth.scopes[0]",
    ]


def test_a_root_that_does_not_exist_is_refused(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ManifestError) as caught:
        Registry.load(missing)
    assert [str(p) for p in caught.value.problems] == [
        f"{missing} $: does not exist: no manifests can be loaded from it"
    ]
