"""Pins: create, get, update, delete and save (``/v5/pins``).

Text limits follow ``PinCreate``: title 100, description 800, link 2048, alt_text 500
characters. ``board_id`` and ``media_source`` are required in practice (the schema marks
nothing required, but a Pin is always created on a board from some media).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from components.pinterest.emulator import render, validation
from components.pinterest.emulator.context import caller, emulator, root_url
from components.pinterest.emulator.errors import invalid, json_response
from components.pinterest.emulator.lookup import (
    own_board,
    own_pin,
    own_section,
    readable_pin,
)
from components.pinterest.emulator.pin_media import media_from_source
from components.pinterest.emulator.state import Pin, Slide

LIMITS: Final = {"title": 100, "description": 800, "link": 2048, "alt_text": 500}


def pin_json(request: web.Request, pin: Pin, *, metrics: bool = False) -> dict[str, Any]:
    state, viewer = emulator(request).state, caller(request).user_id
    return render.pin(state, pin, viewer_id=viewer, root=root_url(request), metrics=metrics)


def _texts(body: dict[str, Any]) -> dict[str, str | None]:
    return {name: validation.text(body, name, max_length=limit) for name, limit in LIMITS.items()}


async def create(request: web.Request) -> web.Response:
    emu = emulator(request)
    body = await validation.json_object(request)
    texts = _texts(body)
    board_id = validation.digits(body, "board_id", required=True)
    section_id = validation.digits(body, "board_section_id")
    parent_pin_id = validation.digits(body, "parent_pin_id")
    validation.digits(body, "sponsor_id")
    dominant_color = validation.text(body, "dominant_color")
    board = own_board(request, board_id, write=True)
    if section_id is not None:
        own_section(request, board, section_id)
    media, standard = media_from_source(request, body)
    pin = Pin(
        id=emu.state.new_id(),
        owner_id=caller(request).user_id,
        board_id=board.id,
        created_at=emu.clock(),
        media=media,
        section_id=section_id,
        dominant_color=dominant_color,
        parent_pin_id=parent_pin_id,
        is_standard=standard,
        **texts,
    )
    emu.state.pins[pin.id] = pin
    emu.state.touch(board.id)
    return json_response(pin_json(request, pin), 201)


async def get(request: web.Request) -> web.Response:
    pin = readable_pin(request, validation.path_id(request, "pin_id"))
    metrics = validation.query_flag(request, "pin_metrics")
    return json_response(pin_json(request, pin, metrics=metrics))


async def update(request: web.Request) -> web.Response:
    emu = emulator(request)
    pin = own_pin(request, validation.path_id(request, "pin_id"), write=True)
    body = await validation.json_object(request)
    texts = {name: value for name, value in _texts(body).items() if name in body}
    board_id = validation.digits(body, "board_id")
    section_id = validation.digits(body, "board_section_id")
    slides = _carousel_slots(body, pin)
    board = own_board(request, board_id or pin.board_id, write=True)
    if section_id is not None:
        own_section(request, board, section_id)
    old_board = pin.board_id
    if "board_section_id" in body or board.id != old_board:
        pin.section_id = section_id
    pin.board_id = board.id
    for name, value in texts.items():
        setattr(pin, name, value)
    if slides is not None:
        pin.media.slides = slides
    emu.state.touch(old_board, board.id)
    return json_response(pin_json(request, pin))


def _carousel_slots(body: dict[str, Any], pin: Pin) -> list[Slide] | None:
    if body.get("carousel_slots") is None:
        return None
    if pin.media.kind != "multiple_images":
        raise invalid("Invalid parameter: carousel_slots can only be set on a carousel Pin.")
    count = len(pin.media.slides)
    slots = validation.objects(body, "carousel_slots", min_items=1, max_items=count)
    slides = list(pin.media.slides)
    for n, slot in enumerate(slots):
        where = f"carousel_slots[{n}]."
        old = slides[n]
        slides[n] = Slide(
            old.image_url,
            validation.text(slot, "title", where=where) if "title" in slot else old.title,
            validation.text(slot, "description", where=where)
            if "description" in slot
            else old.description,
            validation.text(slot, "link", where=where) if "link" in slot else old.link,
        )
    return slides


async def delete(request: web.Request) -> web.Response:
    pin = own_pin(request, validation.path_id(request, "pin_id"), write=True)
    emulator(request).state.delete_pin(pin.id)
    return web.Response(status=204)


async def save(request: web.Request) -> web.Response:
    """``POST /pins/{pin_id}/save``: a copy on the caller's board, pointing at the original."""
    emu = emulator(request)
    original = readable_pin(request, request.match_info["pin_id"])
    body = await validation.json_object(request)
    board_id = validation.digits(body, "board_id")
    section_id = validation.digits(body, "board_section_id")
    if board_id is None and section_id is not None:
        section = emu.state.sections.get(section_id)
        board_id = section.board_id if section is not None else None
        if board_id is None:
            raise invalid("Invalid parameter: board_section_id is not a section of yours.")
    if board_id is None:
        raise invalid("Invalid parameter: board_id (or board_section_id) is required.")
    board = own_board(request, board_id, write=True)
    if section_id is not None:
        own_section(request, board, section_id)
    copy = Pin(
        id=emu.state.new_id(),
        owner_id=caller(request).user_id,
        board_id=board.id,
        created_at=emu.clock(),
        media=original.media,
        section_id=section_id,
        title=original.title,
        description=original.description,
        link=original.link,
        alt_text=original.alt_text,
        dominant_color=original.dominant_color,
        parent_pin_id=original.id,
        is_standard=original.is_standard,
    )
    emu.state.pins[copy.id] = copy
    emu.state.touch(board.id)
    return json_response(pin_json(request, copy), 201)
