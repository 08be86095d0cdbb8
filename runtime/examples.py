"""Where the example flows are: beside the sources in a checkout, inside the package when
installed (the wheel carries ``examples/`` as ``runtime/examples``)."""

from __future__ import annotations

from pathlib import Path

from runtime.errors import ConfigurationError

_PACKAGE = Path(__file__).resolve().parent


def example_path(*parts: str) -> Path:
    """The path of an example file, e.g. ``example_path("flows", "repin-new-pins.json")``."""
    for root in (_PACKAGE / "examples", _PACKAGE.parent / "examples"):
        candidate = root.joinpath(*parts)
        if candidate.is_file():
            return candidate
    raise ConfigurationError(f"the example {'/'.join(parts)} is not installed")
