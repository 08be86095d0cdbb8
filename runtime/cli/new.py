"""``flowmixer new component``: start a component of one's own, with a test that passes.

The files are laid out as a ``FLOWMIXER_COMPONENTS_PATH`` folder (see :mod:`runtime.plugins`):
the manifest under ``manifests/``, the handler module and its test beside that folder, so the
folder is used as it is, and packaged later by moving the files into a package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from runtime.cli import new_templates as t
from runtime.cli.usage import UsageError
from runtime.errors import ConfigurationError
from runtime.manifest import NAME_PATTERN
from runtime.plugins import PATH_VARIABLE

if TYPE_CHECKING:
    import argparse

    from runtime.settings import Settings

DEFAULT_SERVICE: Final = "custom.components"
"""The ``vendor.service`` of a component given by its short name alone."""
SHORT_NAME: Final = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True, slots=True)
class Scaffold:
    """What is written for component ``name``: file paths relative to the folder, and texts."""

    name: str
    module: str
    files: dict[str, str]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    new = commands.add_parser(
        "new",
        help="start something of your own from a template",
        description="Write the files of something new, ready to run and to change.",
    )
    kinds = new.add_subparsers(dest="kind", metavar="KIND", required=True)
    component = kinds.add_parser(
        "component",
        help="write a component's manifest, handler and a passing test",
        description="Write a component's manifest (manifests/NAME.json), its handler module and"
        " a test of it in a flow, into a folder to name in FLOWMIXER_COMPONENTS_PATH. The"
        " component is an action (one in-port) unless --trigger makes it a polling trigger.",
    )
    component.add_argument(
        "name",
        metavar="NAME",
        help="vendor.service.Name (e.g. acme.crm.FindContact), or Name alone for"
        f" {DEFAULT_SERVICE}.Name",
    )
    component.add_argument(
        "--trigger",
        action="store_true",
        help="a polling trigger (tick every 60 s, with saved state) instead of an action",
    )
    component.add_argument(
        "--dir",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="the folder to write into (default: the current one; made if missing)",
    )
    component.add_argument("--force", action="store_true", help="overwrite files that exist")
    component.set_defaults(handler=cmd_new_component)


def cmd_new_component(args: argparse.Namespace, settings: Settings) -> int:
    scaffold = scaffold_component(args.name, trigger=args.trigger)
    folder: Path = args.dir.resolve()
    written = write_files(folder, scaffold.files, force=args.force)
    kind = "polling trigger" if args.trigger else "action"
    print(f"Wrote the {kind} {scaffold.name} into {folder}:")
    for path in written:
        print(f"  {path}")
    print(
        "\nNext steps:\n"
        f"  export {PATH_VARIABLE}={folder}\n"
        f"  python -m pytest {folder}\n"
        f"  flowmixer components {scaffold.name}\n"
        "Then change the manifest and the handler to do your work; the guide is"
        " docs/components.md."
    )
    return 0


def full_name(name: str) -> str:
    """``name`` as ``vendor.service.Name``; :class:`UsageError` saying what is wrong if it
    is neither that nor a short ``Name``."""
    if SHORT_NAME.match(name):
        return f"{DEFAULT_SERVICE}.{name}"
    if NAME_PATTERN.match(name):
        return name
    raise UsageError(
        f"{name!r} is not a component name: give vendor.service.Name (vendor and service in"
        " lowercase letters, digits, - and _; Name starting with a capital letter, then letters"
        f" and digits, e.g. acme.crm.FindContact), or Name alone for {DEFAULT_SERVICE}.Name"
    )


def module_name(name: str) -> str:
    """The handler module of component ``name``: the whole name in snake case, so that it is
    unlikely to be shadowed by another module on ``sys.path`` (``acme_crm_find_contact``)."""
    vendor, service, short = name.split(".")
    return "_".join(part.replace("-", "_") for part in (vendor, service, snake_case(short)))


def snake_case(short: str) -> str:
    """``FindContact`` as ``find_contact`` (``HTTPGet`` as ``http_get``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", short).lower()


def scaffold_component(name: str, *, trigger: bool) -> Scaffold:
    """The files of a new component called ``name`` (full or short)."""
    name = full_name(name)
    short = name.rsplit(".", 1)[1]
    module = module_name(name)
    label = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", short)
    build = t.trigger_manifest if trigger else t.action_manifest
    manifest = build(name, label, f"{module}:{short}")
    handler = t.TRIGGER_HANDLER if trigger else t.ACTION_HANDLER
    test = t.TRIGGER_TEST if trigger else t.ACTION_TEST
    fill = {
        "name": name,
        "label": label,
        "description": manifest["description"][:1].lower() + manifest["description"][1:],
        "cls": short,
        "func": snake_case(short),
        "slug": snake_case(short).replace("_", "-")[:50],
    }
    return Scaffold(
        name,
        module,
        {
            f"manifests/{short}.json": t.manifest_text(manifest),
            f"{module}.py": handler.format(**fill),
            f"test_{module}.py": test.format(**fill),
        },
    )


def write_files(folder: Path, files: dict[str, str], *, force: bool) -> list[Path]:
    """Write ``files`` under ``folder``; nothing at all when one exists and ``force`` is off."""
    targets = {folder / rel: text for rel, text in files.items()}
    for path in targets:
        if path.is_dir():
            raise ConfigurationError(f"not written: {path} is a folder")
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        listed = ", ".join(str(p) for p in existing)
        raise ConfigurationError(
            f"not written: {listed} already exist(s); give --force to overwrite, or another --dir"
        )
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
