"""The registry as the commands load it: built-in components and plug-ins, broken ones named."""

from __future__ import annotations

import sys

from runtime.registry import Registry


def load_registry() -> Registry:
    """Every component, built in or from a plug-in; each plug-in left out because it is broken
    is reported on standard error (which plug-in, each problem with its file and JSON path),
    and the commands go on with the others."""
    registry = Registry.load()
    for error in registry.broken:
        print(f"flowmixer: warning: {error}", file=sys.stderr)
    if registry.broken:
        print(
            f"flowmixer: warning: {len(registry.broken)} plug-in(s) left out (above);"
            " the other components are loaded",
            file=sys.stderr,
        )
    return registry
