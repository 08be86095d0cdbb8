"""The event loop ``flowmixer serve`` and ``run`` work on: uvloop when installed, else asyncio's.

uvloop takes 3-12% less CPU per webhook event through ``flowmixer serve`` (docs/benchmarks.md,
the webhook section). ``FLOWMIXER_EVENT_LOOP=asyncio`` turns it off (to compare, or to rule it out
when chasing a bug); ``uvloop`` insists on it, refusing to start without it.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, TypeVar

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

EVENT_LOOP_VARIABLE = "FLOWMIXER_EVENT_LOOP"
CHOICES = ("auto", "uvloop", "asyncio")

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes a new event loop, as ``FLOWMIXER_EVENT_LOOP`` (default ``auto``) says."""
    choice = os.environ.get(EVENT_LOOP_VARIABLE, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigurationError(
            f"{EVENT_LOOP_VARIABLE}={choice!r}: expected one of {', '.join(CHOICES)}"
        )
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigurationError(
                f"{EVENT_LOOP_VARIABLE}=uvloop: uvloop is not installed (pip install uvloop)"
            ) from None
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` makes."""
    factory = loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
