"""Finding the caller's records, or answering 404 the way Pinterest does.

Boards and Pins belong to their owner; other users' Pins can be read and saved when their
board is public. Secret boards (and the Pins on them) are invisible without
``boards:read_secret`` and can be changed only with ``boards:write_secret``: the scope
descriptions say so, although the operations' security requirements do not list them.
"""

from __future__ import annotations

from aiohttp import web

from components.pinterest.emulator.context import Caller, caller, emulator
from components.pinterest.emulator.errors import (
    board_not_found,
    missing_scopes,
    pin_not_found,
    section_not_found,
)
from components.pinterest.emulator.state import Board, Pin, Section


def can_see(who: Caller, board: Board) -> bool:
    if board.owner_id != who.user_id:
        return board.privacy == "PUBLIC"
    return board.privacy != "SECRET" or "boards:read_secret" in who.scopes


def own_board(request: web.Request, board_id: str | None, *, write: bool = False) -> Board:
    """The caller's board ``board_id``; 404 (code 40) when missing or not visible."""
    who = caller(request)
    board = emulator(request).state.boards.get(board_id or "")
    if board is None or board.owner_id != who.user_id or not can_see(who, board):
        raise board_not_found()
    if write:
        need_secret_write(request, board.privacy)
    return board


def need_secret_write(request: web.Request, privacy: str | None) -> None:
    """Secret boards need ``boards:write_secret`` to be created or changed."""
    if privacy == "SECRET" and "boards:write_secret" not in caller(request).scopes:
        raise missing_scopes(
            "Your token lacks the scopes this operation needs on a secret board:"
            " boards:write_secret."
        )


def own_section(request: web.Request, board: Board, section_id: str | None) -> Section:
    """Section ``section_id`` of ``board``; 404 (code 2031) otherwise."""
    section = emulator(request).state.sections.get(section_id or "")
    if section is None or section.board_id != board.id:
        raise section_not_found()
    return section


def readable_pin(request: web.Request, pin_id: str) -> Pin:
    """A Pin the caller may read: their own, or one on someone's public board."""
    state = emulator(request).state
    pin = state.pins.get(pin_id)
    if pin is None or not can_see(caller(request), state.boards[pin.board_id]):
        raise pin_not_found()
    return pin


def own_pin(request: web.Request, pin_id: str, *, write: bool = False) -> Pin:
    """One of the caller's Pins; 404 (code 50) otherwise."""
    pin = readable_pin(request, pin_id)
    if pin.owner_id != caller(request).user_id:
        raise pin_not_found()
    if write:
        need_secret_write(request, emulator(request).state.boards[pin.board_id].privacy)
    return pin
