"""Request bodies: JSON read within the size limit, the body deadline and the JSON limits
(:mod:`runtime.json_limits`), with a 400 (or 408) that says what is wrong."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Final

from aiohttp import web

from runtime import json_limits
from runtime.server.errors import fail

BODY_TIMEOUT: Final = 30.0
BODY_DEADLINE: web.AppKey[float] = web.AppKey("flowmixer_body_timeout", float)
"""Seconds a client has to send a whole body once its headers are in (the app's setting)."""


async def read_body(request: web.Request) -> bytes:
    """The whole body; 408 when it takes longer than the deadline, and the connection is then
    closed (after aiohttp's lingering read of at most 10 s): a client sending half a body does
    not hold the connection."""
    timeout = request.app.get(BODY_DEADLINE, BODY_TIMEOUT)
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        refused = fail(408, f"the body did not arrive within {timeout:g} seconds")
        refused.force_close()  # the rest of the body cannot be told from a next request
        raise refused from None


async def read_json(request: web.Request) -> Any:
    """The body as JSON (UTF-8 only); aiohttp answers 413 past ``client_max_size``."""
    body = await read_body(request)
    try:
        return json_limits.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise fail(400, "the body is not JSON: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise fail(400, f"the body is not JSON: {exc.msg} at {where}") from None
    except json_limits.JSONLimitError as exc:
        raise fail(400, f"the body is refused: {exc}") from None
