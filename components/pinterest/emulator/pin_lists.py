"""Pin listings: the caller's Pins (``/pins``) and a board's Pins, newest first.

A board's listing includes the Pins in its sections. Filters follow the spec: ``creative_types``
(repeatable), and on ``/pins`` also ``pin_filter``, ``include_protected_pins`` and
``pin_type=PRIVATE`` (only Pins on secret boards).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from components.pinterest.emulator import render, validation
from components.pinterest.emulator.context import caller, emulator, root_url
from components.pinterest.emulator.errors import json_response
from components.pinterest.emulator.lookup import can_see, own_board
from components.pinterest.emulator.pagination import listing_key, page_size, paginate
from components.pinterest.emulator.state import Pin, newest_first
from components.pinterest.limits import CREATIVE_TYPES, PIN_FILTERS


def _page(request: web.Request, pins: list[Pin], listing: str, size: int) -> web.Response:
    state, viewer, root = emulator(request).state, caller(request).user_id, root_url(request)
    metrics = validation.query_flag(request, "pin_metrics")
    return json_response(
        paginate(
            request,
            pins,
            lambda p: render.pin(state, p, viewer_id=viewer, root=root, metrics=metrics),
            listing,
            size,
        )
    )


def _of_types(pins: Iterable[Pin], types: frozenset[str]) -> list[Pin]:
    return [p for p in pins if not types or p.creative_type in types]


async def on_board(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"))
    types = validation.query_choices(request, "creative_types", CREATIVE_TYPES)
    size = page_size(request)
    pins = _of_types(emulator(request).state.pins_on_board(board.id), types)
    return _page(request, pins, listing_key("boards/list_pins", board.id, sorted(types)), size)


async def mine(request: web.Request) -> web.Response:
    state, who = emulator(request).state, caller(request)
    types = validation.query_choices(request, "creative_types", CREATIVE_TYPES)
    pin_filter = validation.query_choice(request, "pin_filter", PIN_FILTERS)
    protected = validation.query_flag(request, "include_protected_pins")
    pin_type = validation.query_choice(request, "pin_type", ("PRIVATE",))
    size = page_size(request)
    pins = []
    for pin in state.pins.values():
        board = state.boards[pin.board_id]
        if pin.owner_id != who.user_id or not can_see(who, board):
            continue
        if board.privacy == "PROTECTED" and not protected:
            continue
        if pin_type == "PRIVATE" and board.privacy != "SECRET":
            continue
        if pin_filter == "exclude_native" and pin.parent_pin_id is None:
            continue
        if pin_filter == "exclude_repins" and pin.parent_pin_id is not None:
            continue
        if pin_filter == "has_been_promoted":
            continue
        pins.append(pin)
    listing = listing_key("pins/list", who.user_id, sorted(types), pin_filter, protected, pin_type)
    return _page(request, _of_types(newest_first(pins), types), listing, size)
