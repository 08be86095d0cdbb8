"""Plug-ins in the registry: folders and entry points are read after the built-in manifests; a
broken plug-in is left out whole, named with its file and JSON path, and hides no other."""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from runtime.plugins import PATH_VARIABLE, discover, from_entry_point, from_folder, path_folders
from runtime.registry import Registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WHISPER = FIXTURES / "plugin_folder"


def component(name: str, handler: str = "tests.fixtures.handlers:Pass", **changes: Any) -> dict:
    data: dict[str, Any] = {
        "name": name,
        "label": "Thing",
        "description": "Does a thing.",
        "handler": handler,
        "inPorts": [{"name": "in"}],
        "outPorts": [{"name": "out"}],
    }
    return {**data, **changes}


def folder(root: Path, name: str, files: dict[str, Any]) -> Path:
    path = root / name
    path.mkdir()
    for rel, content in files.items():
        (path / rel).write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def problems(registry: Registry) -> list[tuple[str, list[str]]]:
    return [(e.source, [str(p) for p in e.problems]) for e in registry.broken]


def test_a_components_path_folder_adds_its_components_with_handlers_beside_them():
    registry = Registry.load(plugins=discover({PATH_VARIABLE: str(WHISPER)}))
    assert "whisperco.text.Whisper" in registry
    assert "acme.pinterest.GetBoard" in registry
    assert registry.handler("whisperco.text.Whisper").__name__ == "Whisper"
    assert registry.plugin_of("whisperco.text.Whisper") == (
        f"folder {WHISPER} (FLOWMIXER_COMPONENTS_PATH)"
    )
    assert registry.plugin_of("acme.pinterest.GetBoard") is None
    assert registry.broken == ()


def test_the_components_path_is_split_on_the_path_separator_skipping_blanks_and_repeats(
    tmp_path,
):
    sep = os.pathsep
    value = f"{tmp_path / 'a'}{sep} {sep}{tmp_path / 'b'}{sep}{tmp_path / 'a'}"
    assert path_folders({PATH_VARIABLE: value}) == [tmp_path / "a", tmp_path / "b"]
    assert path_folders({}) == []


def test_a_broken_plugin_is_left_out_whole_naming_its_folder_file_and_json_path(tmp_path):
    bad = folder(
        tmp_path,
        "bad",
        {
            "Good.json": component("badco.text.Good"),
            "Bad.json": component("badco.text.Bad", label=3),
            "Worse.json": "{not json",
        },
    )
    registry = Registry.load(plugins=[from_folder(bad), from_folder(WHISPER)])
    assert "whisperco.text.Whisper" in registry
    assert "badco.text.Good" not in registry  # a plug-in loads whole or not at all
    [(source, found)] = problems(registry)
    assert source == f"plug-in folder {bad} (FLOWMIXER_COMPONENTS_PATH)"
    assert found[0] == "Bad.json $.label: must be a string, not a number"
    assert found[1].startswith("Worse.json $")
    assert str(registry.broken[0]).startswith(f"{source}: invalid manifest (2 problem(s)):")


def test_a_plugin_component_named_like_a_built_in_one_is_refused_naming_both(tmp_path):
    clash = folder(tmp_path, "clash", {"Log.json": component("flowmixer.core.Log")})
    registry = Registry.load(plugins=[from_folder(clash)])
    [(_, found)] = problems(registry)
    assert found == [
        'Log.json $.name: the component "flowmixer.core.Log" is already defined in the built-in'
        f" {registry.source_of('flowmixer.core.Log')}; component names must be unique"
    ]
    assert registry.plugin_of("flowmixer.core.Log") is None


def test_of_two_plugins_defining_one_component_the_later_is_refused_naming_the_earlier(
    tmp_path,
):
    first = folder(tmp_path, "first", {"A.json": component("twoco.text.Same")})
    second = folder(tmp_path, "second", {"B.json": component("twoco.text.Same")})
    registry = Registry.load(plugins=[from_folder(first), from_folder(second)])
    assert registry.plugin_of("twoco.text.Same") == f"folder {first} (FLOWMIXER_COMPONENTS_PATH)"
    [(source, found)] = problems(registry)
    assert source == f"plug-in folder {second} (FLOWMIXER_COMPONENTS_PATH)"
    assert found == [
        'B.json $.name: the component "twoco.text.Same" is already defined in A.json of the'
        f" plug-in folder {first} (FLOWMIXER_COMPONENTS_PATH); component names must be unique"
    ]


def test_a_plugin_may_use_a_service_that_another_plugin_defines(tmp_path):
    service = {"service": "svcco:api", "label": "API", "scopes": ["read"]}
    owner = folder(tmp_path, "owner", {"service.json": service})
    user = folder(
        tmp_path,
        "user",
        {
            "Read.json": component(
                "svcco.api.Read", auth={"service": "svcco:api", "scopes": ["read"]}
            )
        },
    )
    registry = Registry.load(plugins=[from_folder(user), from_folder(owner)])
    assert registry.broken == ()
    assert registry.service("svcco:api") is not None
    assert "svcco.api.Read" in registry


def test_a_plugin_service_named_like_a_built_in_one_is_refused_naming_both(tmp_path):
    service = {"service": "acme:pinterest", "label": "Mine"}
    mine = folder(tmp_path, "mine", {"service.json": service})
    registry = Registry.load(plugins=[from_folder(mine)])
    assert problems(registry)[0][1] == [
        'service.json $.service: the service "acme:pinterest" is already defined by the'
        " built-in manifests; service names must be unique"
    ]
    assert registry.service("acme:pinterest").label == "Pinterest"


def test_a_handler_module_that_an_earlier_path_entry_shadows_is_refused_naming_both(tmp_path):
    shadow = folder(
        tmp_path,
        "shadow",
        {"Thing.json": component("shadowco.text.Thing", "json:Thing"), "json.py": ""},
    )
    registry = Registry.load(plugins=[from_folder(shadow)])
    [(_, [found])] = problems(registry)
    assert found.startswith(
        f'Thing.json $.handler: names the module "json" of this folder, but "json" imports'
        f" from {sys.modules['json'].__file__}"
    )
    assert found.endswith("rename the module")


def test_a_missing_components_path_folder_is_reported_and_the_rest_load(tmp_path):
    registry = Registry.load(plugins=discover({PATH_VARIABLE: str(tmp_path / "nowhere")}))
    assert problems(registry) == [
        (
            f"plug-in folder {tmp_path / 'nowhere'} (FLOWMIXER_COMPONENTS_PATH)",
            ["$: is not a folder"],
        )
    ]
    assert "flowmixer.core.Webhook" in registry


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "json:loads",
            'the entry point must name a package, not an object: use "json"',
        ),
        (
            "no_such_package_anywhere",
            'the package "no_such_package_anywhere" cannot be imported (ModuleNotFoundError:'
            " No module named 'no_such_package_anywhere')",
        ),
        (
            "runtime",
            'the package "runtime" has no manifests/ folder: put the component manifests there'
            " (and include it in the package's files)",
        ),
    ],
    ids=["an-object", "not-importable", "no-manifests-folder"],
)
def test_an_unusable_entry_point_is_reported_with_its_package(value, problem):
    source = from_entry_point(EntryPoint("bad", value, "flowmixer.components"))
    registry = Registry.load(plugins=[source])
    assert problems(registry) == [
        (f'plug-in package "?" (entry point bad = {value})', [f"$: {problem}"])
    ]


def test_an_entry_point_package_loads_the_manifests_folder_inside_it():
    # the built-in manifests' parent package stands in for an installed plug-in package
    source = from_entry_point(EntryPoint("tests", "tests.fixtures", "flowmixer.components"))
    registry = Registry.load(plugins=[source])
    assert registry.broken == ()
    assert (
        registry.plugin_of("test.core.Pass") == 'package "?" (entry point tests = tests.fixtures)'
    )
    assert registry.source_of("test.core.Pass").endswith("manifests/test/Pass.json")
