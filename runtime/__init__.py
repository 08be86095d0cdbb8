"""flowmixer: a small runtime for integration flows."""

from __future__ import annotations

__version__ = "0.1.0"
