"""Sub-commands a connector adds through its service manifest's ``commands`` module: found by
reading the ``service.json`` files alone, and a broken one named without hiding the others."""

from __future__ import annotations

import argparse
import io
import json
import sys
import uuid
from pathlib import Path

import pytest

from runtime.cli.connector_commands import (
    CommandsModule,
    add_connector_commands,
    connector_commands,
)
from runtime.plugins import from_folder

WHISPER = Path(__file__).resolve().parent / "fixtures" / "plugin_folder"


def parser_with(plugins: list, stderr: io.StringIO) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowmixer")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run")  # one of the runtime's own, as build_parser adds them first
    add_connector_commands(commands, plugins, stderr=stderr)
    return parser


def plugin_folder(root: Path, commands_source: str) -> tuple[Path, str]:
    module = f"cmds_{uuid.uuid4().hex[:8]}"  # modules stay imported: one name per test
    folder = root / module
    folder.mkdir()
    service = {"service": f"{module}:api", "label": "Cmds", "commands": module}
    (folder / "service.json").write_text(json.dumps(service))
    (folder / f"{module}.py").write_text(commands_source)
    return folder, module


def test_the_built_in_pinterest_commands_are_named_by_its_service_manifest():
    assert connector_commands([]) == [
        CommandsModule(
            "components.pinterest.cli", "the built-in manifests", "pinterest/service.json"
        )
    ]


def test_a_plugin_folders_service_manifest_adds_its_sub_command(capsys):
    stderr = io.StringIO()
    parser = parser_with([from_folder(WHISPER)], stderr)
    args = parser.parse_args(["whisper", "HeLLo"])
    assert args.handler(args, None) == 0
    assert capsys.readouterr().out == "hello\n"
    assert stderr.getvalue() == ""
    assert parser.parse_args(["emulate", "pinterest"]).command == "emulate"


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("raise RuntimeError('boom')\n", "(RuntimeError: boom)"),
        ("X = 1\n", "(AttributeError: module '{module}' has no attribute 'register')"),
        (
            "def register(commands):\n    commands.add_parser('run')\n",
            "(ArgumentError: argument command: conflicting subparser: run)",
        ),
    ],
    ids=["import-fails", "no-register", "name-taken"],
)
def test_a_commands_module_that_fails_is_named_on_stderr_and_hides_no_other_command(
    tmp_path, source, why
):
    folder, module = plugin_folder(tmp_path, source)
    stderr = io.StringIO()
    parser = parser_with([from_folder(folder), from_folder(WHISPER)], stderr)
    assert stderr.getvalue() == (
        f"flowmixer: warning: plug-in folder {folder} (FLOWMIXER_COMPONENTS_PATH): service.json"
        f' $.commands: the module "{module}" could not add its commands'
        f" {why.format(module=module)}; the other commands are available\n"
    )
    assert parser.parse_args(["whisper", "x"]).text == "x"
    assert parser.parse_args(["demo"]).command == "demo"


def test_finding_the_commands_reads_service_manifests_only_and_imports_no_handler(tmp_path):
    folder, module = plugin_folder(tmp_path, "def register(commands):\n    pass\n")
    handler = f"handler_{module}"
    (folder / f"{handler}.py").write_text("raise RuntimeError('imported')\n")
    component = {
        "name": "cmdsco.api.Thing",
        "label": "Thing",
        "description": "Never imported here.",
        "handler": f"{handler}:Thing",
        "inPorts": [{"name": "in"}],
    }
    (folder / "Thing.json").write_text(json.dumps(component))
    found = connector_commands([from_folder(folder)])
    assert [c.module for c in found] == ["components.pinterest.cli", module]
    assert module not in sys.modules
    assert handler not in sys.modules


def test_a_service_manifest_that_cannot_be_read_is_left_to_the_registry_to_report(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "service.json").write_text("{not json")
    stderr = io.StringIO()
    parser_with([from_folder(folder)], stderr)
    assert stderr.getvalue() == ""
