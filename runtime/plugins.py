"""Where plug-in components come from: installed packages and folders under development.

Two kinds of plug-in add components to the built-in ones (:meth:`Registry.load
<runtime.registry.Registry.load>` reads them after those):

- **An installed package** declaring an entry point in the group ``flowmixer.components``,
  whose value is an importable package: every ``*.json`` under that package's ``manifests/``
  folder is loaded, and handlers are named ``"package.module:Class"``.
- **A folder** of ``FLOWMIXER_COMPONENTS_PATH`` (folders separated by ``os.pathsep``): its
  ``*.json`` files are loaded, and the folder is appended to ``sys.path`` so that the handler
  modules beside the manifests import by their plain names (``"echo:Echo"`` for ``echo.py``).
  Appended, not prepended: a folder never shadows the standard library or flowmixer; a handler
  module that an earlier ``sys.path`` entry shadows is refused naming both places.

A plug-in that cannot be read at all (its package does not import, it has no ``manifests/``
folder, the folder does not exist) is still a :class:`PluginSource`, with its ``problem``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Final

ENTRY_POINT_GROUP: Final = "flowmixer.components"
PATH_VARIABLE: Final = "FLOWMIXER_COMPONENTS_PATH"


@dataclass(frozen=True, slots=True)
class PluginSource:
    """One plug-in: what to call it in messages and where its manifests are.

    ``folder`` is set for a ``FLOWMIXER_COMPONENTS_PATH`` folder (its handler modules import
    from there); ``problem`` says why the plug-in cannot be read at all, if it cannot.
    """

    origin: str
    manifests: Traversable | None
    prefix: str = ""
    folder: Path | None = None
    problem: str | None = None


def discover(environ: Mapping[str, str] | None = None) -> list[PluginSource]:
    """Every plug-in: installed packages (sorted by entry point name), then the folders of
    ``FLOWMIXER_COMPONENTS_PATH`` in their order."""
    env = os.environ if environ is None else environ
    found = [from_entry_point(ep) for ep in _sorted(entry_points(group=ENTRY_POINT_GROUP))]
    found.extend(from_folder(folder) for folder in path_folders(env))
    return found


def path_folders(environ: Mapping[str, str]) -> list[Path]:
    """The folders of ``FLOWMIXER_COMPONENTS_PATH``, empty entries skipped, repeats once."""
    value = environ.get(PATH_VARIABLE, "")
    parts = [part.strip() for part in value.split(os.pathsep)]
    return [Path(part).resolve() for part in dict.fromkeys(p for p in parts if p)]


def _sorted(points: Iterable[EntryPoint]) -> list[EntryPoint]:
    # one entry point seen twice (a package on sys.path twice) is one plug-in
    unique = {(ep.name, ep.value): ep for ep in points}
    return [unique[key] for key in sorted(unique)]


def from_entry_point(ep: EntryPoint) -> PluginSource:
    """The plug-in an entry point of ``flowmixer.components`` names (its package imported)."""
    dist = ep.dist.name if ep.dist is not None else "?"
    origin = f'package "{dist}" (entry point {ep.name} = {ep.value})'
    if ep.attr:
        return PluginSource(
            origin,
            None,
            problem=f'the entry point must name a package, not an object: use "{ep.module}"',
        )
    try:
        package = files(ep.module)
    except Exception as exc:  # any failure importing a plug-in makes it unusable, not fatal
        return PluginSource(
            origin,
            None,
            problem=f'the package "{ep.module}" cannot be imported ({type(exc).__name__}: {exc})',
        )
    manifests = package / "manifests"
    if not manifests.is_dir():
        return PluginSource(
            origin,
            None,
            problem=f'the package "{ep.module}" has no manifests/ folder: put the component'
            " manifests there (and include it in the package's files)",
        )
    return PluginSource(origin, manifests, prefix="manifests/")


def from_folder(folder: Path) -> PluginSource:
    """The plug-in in ``folder``, which is appended to ``sys.path`` for its handler modules."""
    origin = f"folder {folder} ({PATH_VARIABLE})"
    if not folder.is_dir():
        return PluginSource(origin, None, folder=folder, problem="is not a folder")
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return PluginSource(origin, folder, folder=folder)


def shadowed(module_name: str, folder: Path) -> str | None:
    """Why handler module ``module_name`` of ``folder`` would import from elsewhere, or
    ``None`` when it imports from ``folder`` (or is not in it at all)."""
    top = module_name.partition(".")[0]
    if not ((folder / f"{top}.py").is_file() or (folder / top).is_dir()):
        return None
    loaded = sys.modules.get(top)
    spec = loaded.__spec__ if loaded is not None else importlib.util.find_spec(top)
    if spec is None:
        return None
    # a namespace package has no origin, only the folders it spans
    places = [spec.origin] if spec.origin else list(spec.submodule_search_locations or ())
    if any(Path(place).resolve().is_relative_to(folder) for place in places):
        return None
    where = places[0] if places else "a built-in module"
    return (
        f'names the module "{top}" of this folder, but "{top}" imports from {where}'
        " (found earlier on sys.path); rename the module"
    )
