"""Boards: list, create, get, update, delete (``/v5/boards``)."""

from __future__ import annotations

from aiohttp import web

from components.pinterest.emulator import render, validation
from components.pinterest.emulator.context import caller, emulator, root_url
from components.pinterest.emulator.errors import invalid, json_response
from components.pinterest.emulator.lookup import can_see, need_secret_write, own_board
from components.pinterest.emulator.pagination import listing_key, page_size, paginate
from components.pinterest.emulator.state import Board

PRIVACY = ("PUBLIC", "PROTECTED", "SECRET")
UPDATE_PRIVACY = ("PUBLIC", "SECRET")
PRIVACY_FILTER = ("ALL", "PUBLIC", "PROTECTED", "SECRET", "PUBLIC_AND_SECRET")
ADS_ONLY_NAME = "Ad-only Pins"


def privacy_matches(board: Board, wanted: str | None) -> bool:
    if wanted in (None, "ALL"):
        return True
    if wanted == "PUBLIC_AND_SECRET":
        return board.privacy in ("PUBLIC", "SECRET")
    return board.privacy == wanted


async def list_boards(request: web.Request) -> web.Response:
    emu, who = emulator(request), caller(request)
    wanted = validation.query_choice(request, "privacy", PRIVACY_FILTER)
    size = page_size(request)
    boards = [
        b
        for b in emu.state.boards_of(who.user_id)
        if can_see(who, b) and privacy_matches(b, wanted)
    ]
    listing = listing_key("boards/list", who.user_id, wanted)
    root = root_url(request)
    return json_response(
        paginate(request, boards, lambda b: render.board(emu.state, b, root), listing, size)
    )


async def create(request: web.Request) -> web.Response:
    emu, who = emulator(request), caller(request)
    body = await validation.json_object(request)
    name = validation.text(body, "name", required=True, nullable=False, min_length=1)
    description = validation.text(body, "description")
    privacy = validation.choice(body, "privacy", PRIVACY) or "PUBLIC"
    ads_only = validation.flag(body, "is_ads_only", False)
    if ads_only:
        # The API renames ad-only boards and makes them protected.
        name, privacy = ADS_ONLY_NAME, "PROTECTED"
    need_secret_write(request, privacy)
    now = emu.clock()
    board = Board(
        id=emu.state.new_id(),
        owner_id=who.user_id,
        name=str(name),
        created_at=now,
        pins_modified_at=now,
        description=description,
        privacy=privacy,
        is_ads_only=ads_only,
    )
    emu.state.boards[board.id] = board
    return json_response(render.board(emu.state, board, root_url(request)), 201)


async def get(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"))
    return json_response(render.board(emulator(request).state, board, root_url(request)))


async def update(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"), write=True)
    body = await validation.json_object(request)
    name = validation.text(body, "name", nullable=False, min_length=1)
    privacy = body.get("privacy")
    if privacy == "PROTECTED":
        raise invalid("Invalid parameter: privacy can only be changed to PUBLIC or SECRET.")
    privacy = validation.choice(body, "privacy", UPDATE_PRIVACY)
    need_secret_write(request, privacy)
    if name is not None:
        board.name = name
    if "description" in body:
        board.description = validation.text(body, "description")
    if privacy is not None:
        board.privacy = privacy
    return json_response(render.board(emulator(request).state, board, root_url(request)))


async def delete(request: web.Request) -> web.Response:
    board = own_board(request, validation.path_id(request, "board_id"), write=True)
    emulator(request).state.delete_board(board.id)
    return web.Response(status=204)
