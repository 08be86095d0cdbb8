"""Request bodies: JSON read within the size limit, with a 400 that says what is wrong."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from runtime.server.errors import fail

if TYPE_CHECKING:
    from aiohttp import web


async def read_json(request: web.Request) -> Any:
    """The body as JSON (UTF-8 only); aiohttp answers 413 past ``client_max_size``."""
    body = await request.read()
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise fail(400, "the body is not JSON: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise fail(400, f"the body is not JSON: {exc.msg} at {where}") from None
