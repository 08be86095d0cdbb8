"""``GET /v5/user_account``: the token's user as an ``Account``."""

from __future__ import annotations

from aiohttp import web

from components.pinterest.emulator import render
from components.pinterest.emulator.context import caller, emulator
from components.pinterest.emulator.errors import json_response


async def account(request: web.Request) -> web.Response:
    state = emulator(request).state
    return json_response(render.account(state, state.users[caller(request).user_id]))
