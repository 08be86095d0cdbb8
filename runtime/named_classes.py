"""Classes a manifest names as ``"package.module:Class"``: component handlers, OAuth2 hooks.

One set of rules and messages for both, so a plug-in author meets the same sentence whichever
name is wrong: the module cannot be imported, lacks the name (with "did you mean"), or the name
is not a subclass of what the field needs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TypeVar

from runtime.plugins import shadowed
from runtime.problems import did_you_mean

T = TypeVar("T")


def import_named(
    spec: str, base: type[T], *, noun: str, role: str, folder: Path | None = None
) -> type[T]:
    """The class ``spec`` (``module:Class``) names, a subclass of ``base``; ``ValueError`` with a
    sentence when it is unusable. ``noun`` and ``role`` word the last refusal ("not ``noun``;
    ``role`` must be a subclass of ``base``"); ``folder`` is the plug-in folder the module must
    import from, if any."""
    module_name, _, attribute = spec.partition(":")
    clash = None if folder is None else shadowed(module_name, folder)
    if clash is not None:
        raise ValueError(clash)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure while importing makes the manifest unusable
        raise ValueError(
            f'names the module "{module_name}", which cannot be imported'
            f" ({type(exc).__name__}: {exc})"
        ) from None
    found = getattr(module, attribute, None)
    if found is None:
        hint = did_you_mean(attribute, [n for n in vars(module) if not n.startswith("_")])
        raise ValueError(f'names "{attribute}", which module "{module_name}" lacks{hint}')
    if not (isinstance(found, type) and issubclass(found, base)):
        what = f"{base.__module__}.{base.__qualname__}"
        raise ValueError(
            f'names "{spec}", which is not {noun}; {role} must be a subclass of {what}'
        )
    return found
