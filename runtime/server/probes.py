"""Whether the services a scale-out process depends on answer: Redis and the database."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from runtime.server.context import ServerContext

PROBE_TIMEOUT: Final = 2.0
"""Seconds a service has to answer before it counts as unreachable."""


async def reachable(ctx: ServerContext) -> dict[str, bool]:
    """``{"redis": ..., "database": ...}``; Redis only with a control channel."""
    checks = {"database": await _answers(ctx.deployments.statuses(None, 1))}
    if ctx.notices is not None:
        checks["redis"] = await _answers(ctx.notices.ping(), want=True)
    return checks


async def _answers(call: Awaitable[object], *, want: object = None) -> bool:
    try:
        result = await asyncio.wait_for(call, PROBE_TIMEOUT)
    except Exception:
        return False
    return want is None or result == want
