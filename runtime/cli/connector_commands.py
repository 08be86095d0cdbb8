"""The sub-commands connectors add: each service manifest may name a ``commands`` module.

``"commands": "package.module"`` in a ``service.json`` (built in, or of a plug-in of
:mod:`runtime.plugins`) names a module whose ``register(commands)`` adds sub-commands to the
``flowmixer`` parser, as the runtime's own command modules do. Finding them reads the
``service.json`` files alone: no handler is imported and no registry is loaded while the parser
is built. A manifest that cannot be read is skipped here (loading the registry reports it); a
commands module that cannot be imported, or whose ``register`` fails (a sub-command name that is
taken, say), is reported on standard error and the other commands are added all the same.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, TextIO

from runtime.manifest import MODULE_PATTERN
from runtime.plugins import PluginSource, discover

if TYPE_CHECKING:
    import argparse

SERVICE_FILE = "service.json"


@dataclass(frozen=True, slots=True)
class CommandsModule:
    """A ``commands`` module and where it is named: ``origin`` (the built-in manifests or a
    plug-in) and ``file`` (the ``service.json`` below it)."""

    module: str
    origin: str
    file: str


def connector_commands(plugins: Sequence[PluginSource] | None = None) -> list[CommandsModule]:
    """The ``commands`` modules of the built-in service manifests, then of the plug-ins'
    (default: those :func:`~runtime.plugins.discover` finds), in that order."""
    roots: list[tuple[str, Traversable]] = [("the built-in manifests", files("manifests"))]
    for plugin in discover() if plugins is None else plugins:
        if plugin.manifests is not None:
            roots.append((f"plug-in {plugin.origin}", plugin.manifests))
    found: list[CommandsModule] = []
    for origin, root in roots:
        for rel, file in _service_files(root, ""):
            module = _commands_of(file)
            if module is not None:
                found.append(CommandsModule(module, origin, rel))
    return found


def add_connector_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    plugins: Sequence[PluginSource] | None = None,
    *,
    stderr: TextIO | None = None,
) -> None:
    """Let each connector's ``commands`` module register its sub-commands; one that fails is
    reported on ``stderr`` (default: standard error) and left out."""
    out = sys.stderr if stderr is None else stderr
    for found in connector_commands(plugins):
        try:
            importlib.import_module(found.module).register(commands)
        except Exception as exc:  # a broken connector must not take the other commands down
            print(
                f"flowmixer: warning: {found.origin}: {found.file} $.commands: the module"
                f' "{found.module}" could not add its commands ({type(exc).__name__}: {exc});'
                " the other commands are available",
                file=out,
            )


def _service_files(root: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
    if not root.is_dir():
        return
    for child in sorted(root.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            if not child.name.startswith((".", "__")):
                yield from _service_files(child, f"{rel}/")
        elif child.name == SERVICE_FILE:
            yield rel, child


def _commands_of(file: Traversable) -> str | None:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None  # the registry reports the file when it loads
    module = data.get("commands") if isinstance(data, dict) else None
    return module if isinstance(module, str) and MODULE_PATTERN.match(module) else None
