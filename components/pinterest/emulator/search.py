"""Search of the caller's own Pins and boards (``/v5/search/pins``, ``/v5/search/boards``).

A query matches when every word appears (case-insensitively) in the title, description or alt
text of a Pin, or the name or description of a board; a query of comma-separated digits matches
Pin ids. ``/search/pins`` takes no ``page_size``: its pages hold 25 Pins.
"""

from __future__ import annotations

from aiohttp import web

from components.pinterest.emulator import render
from components.pinterest.emulator.context import caller, emulator, root_url
from components.pinterest.emulator.errors import invalid, json_response
from components.pinterest.emulator.lookup import can_see
from components.pinterest.emulator.pagination import (
    DEFAULT_PAGE_SIZE,
    listing_key,
    page_size,
    paginate,
)
from components.pinterest.emulator.state import newest_first


def matches(query: str, *texts: str | None) -> bool:
    haystack = " ".join(t for t in texts if t).lower()
    return all(word in haystack for word in query.lower().split())


async def pins(request: web.Request) -> web.Response:
    state, who = emulator(request).state, caller(request)
    query = request.query.get("query", "").strip()
    if not query:
        raise invalid("Invalid parameter: query is required.")
    ids = {part.strip() for part in query.split(",")}
    by_id = all(part.isdigit() for part in ids)
    found = newest_first(
        p
        for p in state.pins.values()
        if p.owner_id == who.user_id
        and can_see(who, state.boards[p.board_id])
        and (p.id in ids if by_id else matches(query, p.title, p.description, p.alt_text))
    )
    root = root_url(request)
    return json_response(
        paginate(
            request,
            found,
            lambda p: render.pin(state, p, viewer_id=who.user_id, root=root),
            listing_key("search_user_pins/list", who.user_id, query),
            DEFAULT_PAGE_SIZE,
        )
    )


async def boards(request: web.Request) -> web.Response:
    state, who = emulator(request).state, caller(request)
    query = request.query.get("query", "").strip()
    size = page_size(request)
    found = [
        b
        for b in state.boards_of(who.user_id)
        if can_see(who, b) and matches(query, b.name, b.description)
    ]
    root = root_url(request)
    return json_response(
        paginate(
            request,
            found,
            lambda b: render.board(state, b, root),
            listing_key("search_user_boards/get", who.user_id, query),
            size,
        )
    )
