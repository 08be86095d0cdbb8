"""``GET /api/flows?limit=&cursor=``: the deployed flows a page at a time, by id.

A page is ``{"flows": [...], "next": CURSOR or null}``; passing ``next`` as ``cursor`` gives
the following page. The cursor holds the last id of the page, so the order stays stable while
flows are deployed or deleted between pages (a flow deployed behind the cursor is simply not
seen by this walk).
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from aiohttp import web

from runtime.server.context import CONTEXT
from runtime.server.errors import fail
from runtime.server.flow_summary import flow_summary

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
_PARAMS: Final = ("limit", "cursor")
_PREFIX: Final = "f1:"  # so that a cursor of another route (or version) is told apart


def encode_cursor(flow_id: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + flow_id).encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str) -> str:
    """The flow id a cursor carries; ``ValueError`` for one this route did not give."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("not a cursor this route gave: pass the next of a page") from None
    if not text.startswith(_PREFIX):
        raise ValueError("not a cursor this route gave: pass the next of a page")
    return text[len(_PREFIX) :]


def page_limit(request: web.Request) -> int:
    text = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return limit


async def list_flows(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    unknown = sorted(set(request.query) - set(_PARAMS))
    if unknown:
        raise fail(
            400, f"unknown query parameter(s): {', '.join(unknown)}; known: {', '.join(_PARAMS)}"
        )
    limit = page_limit(request)
    cursor = request.query.get("cursor")
    try:
        after = None if cursor is None else decode_cursor(cursor)
    except ValueError as exc:
        raise fail(400, f"cursor: {exc}") from None
    # One row more than the page tells whether another page follows.
    rows = await ctx.deployments.statuses(after, limit + 1)
    page = rows[:limit]
    flows = [flow_summary(ctx, flow_id, status) for flow_id, status in page]
    more = len(rows) > limit
    return web.json_response({"flows": flows, "next": encode_cursor(page[-1][0]) if more else None})
