"""A local, spec-faithful Pinterest API v5 and OAuth server for tests, demos and offline work.

Start one in-process with :class:`Emulator` (``async with emu.running() as base``) or from the
command line with ``flowmixer emulate pinterest``. It keeps its data in memory, checks tokens
and scopes per operation, paginates with bookmarks, enforces rate limits per category and can
inject latency, errors and dropped connections.
"""

from __future__ import annotations

from components.pinterest.emulator.clock import Clock, ManualClock
from components.pinterest.emulator.config import EmulatorConfig, RateLimits
from components.pinterest.emulator.emulator import Emulator
from components.pinterest.emulator.faults import FaultPlan, Faults
from components.pinterest.emulator.observe import Exchange, Observer
from components.pinterest.emulator.operations import (
    ALL_SCOPES,
    OPERATIONS,
    ORGANIC_SCOPES,
    Operation,
)
from components.pinterest.emulator.seed import DEFAULT_SEED
from components.pinterest.emulator.tokens import IssuedToken

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_SEED",
    "OPERATIONS",
    "ORGANIC_SCOPES",
    "Clock",
    "Emulator",
    "EmulatorConfig",
    "Exchange",
    "FaultPlan",
    "Faults",
    "IssuedToken",
    "ManualClock",
    "Observer",
    "Operation",
    "RateLimits",
]
