"""Errors as JSON: ``{"error": "..."}`` with the right status, for every route."""

from __future__ import annotations

import json
import traceback
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp.typedefs import Handler


CLIENT_CLOSED = 499
"""The status logged for a request whose client disconnected before the answer."""


def fail(
    status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> web.HTTPException:
    """An HTTP error to raise, whose body is ``{"error": message, **extra}``."""
    error = web.HTTPException(
        text=json.dumps({"error": message, **extra}),
        content_type="application/json",
        headers=headers,
    )
    error.set_status(status)
    return error


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's own plain-text errors (404 route, 405, 413...) into JSON ones, and
    whatever a route did not expect into a JSON 500 (logged without its text, which may
    quote a payload); input nested too deeply for Python is the client's fault: 400."""
    try:
        return await handler(request)
    except RecursionError:
        raise fail(400, "the request is nested too deeply to be read") from None
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        if exc.status == 413:
            message = "the body is larger than the limit of 1 MiB"
        elif exc.status == 404:
            message = f"no such route: {request.method} {request.path}"
        else:
            message = exc.reason
        raise fail(exc.status, message) from None
    except ConnectionError as exc:
        # The client went away mid-request (say, while sending its body): nobody to answer
        # and nothing wrong with the server. Raised on, aiohttp would log it as an error with
        # a traceback; an HTTP error instead is written to the closed socket silently (the
        # access log shows 499, nginx's "client closed request").
        structlog.get_logger("flowmixer.server").debug(
            "client disconnected",
            method=request.method,
            path=request.path,
            error=type(exc).__name__,
        )
        raise fail(CLIENT_CLOSED, "the client closed the connection") from None
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        structlog.get_logger("flowmixer.server").error(
            "request failed",
            method=request.method,
            path=request.path,
            error=type(exc).__name__,
            where=f"{frame.filename}:{frame.lineno}",
        )
        raise fail(500, "the server failed to handle the request") from None
