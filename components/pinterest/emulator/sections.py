"""Board sections: list, create, update, delete, and the Pins of one section."""

from __future__ import annotations

from aiohttp import web

from components.pinterest.emulator import render, validation
from components.pinterest.emulator.context import caller, emulator, root_url
from components.pinterest.emulator.errors import json_response
from components.pinterest.emulator.lookup import own_board, own_section
from components.pinterest.emulator.pagination import listing_key, page_size, paginate
from components.pinterest.emulator.state import Section

NAME_LIMIT = 180


async def list_sections(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"))
    size = page_size(request)
    sections = emulator(request).state.sections_of(board.id)
    listing = listing_key("board_sections/list", board.id)
    return json_response(paginate(request, sections, render.section, listing, size))


async def create(request: web.Request) -> web.Response:
    emu = emulator(request)
    board = own_board(request, validation.path_id(request, "board_id"), write=True)
    name = await _name(request)
    section = Section(emu.state.new_id(), board.id, name)
    emu.state.sections[section.id] = section
    return json_response(render.section(section), 201)


async def update(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"), write=True)
    section = own_section(request, board, validation.path_id(request, "section_id"))
    section.name = await _name(request)
    return json_response(render.section(section))


async def delete(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"), write=True)
    section = own_section(request, board, validation.path_id(request, "section_id"))
    emulator(request).state.delete_section(section.id)
    return web.Response(status=204)


async def list_pins(request: web.Request) -> web.Response:
    emu = emulator(request)
    board = own_board(request, validation.path_id(request, "board_id"))
    section = own_section(request, board, validation.path_id(request, "section_id"))
    size = page_size(request)
    pins = emu.state.pins_on_board(board.id, section.id)
    viewer, root = caller(request).user_id, root_url(request)
    return json_response(
        paginate(
            request,
            pins,
            lambda p: render.pin(emu.state, p, viewer_id=viewer, root=root),
            listing_key("board_sections/list_pins", section.id),
            size,
        )
    )


async def _name(request: web.Request) -> str:
    body = await validation.json_object(request)
    name = validation.text(
        body, "name", required=True, nullable=False, min_length=1, max_length=NAME_LIMIT
    )
    return str(name)
