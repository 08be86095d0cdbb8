"""The aiohttp application: routes for every operation and the middleware chain.

Middlewares, outermost first: observe (request id, error bodies, observers) → operation
(which API operation matched) → faults → authentication → rate limits → handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from components.pinterest.emulator import (
    authorize,
    boards,
    fault_routes,
    faults,
    images,
    media,
    oauth,
    observe,
    pin_lists,
    pins,
    ratelimit,
    search,
    sections,
    user,
)
from components.pinterest.emulator.auth import authenticate
from components.pinterest.emulator.context import EMULATOR, OPERATION
from components.pinterest.emulator.operations import OPERATIONS, Operation

if TYPE_CHECKING:
    from components.pinterest.emulator.emulator import Emulator

API_PREFIX: Final = "/v5"
MAX_UPLOAD_BYTES: Final = 64 * 1024 * 1024

HANDLERS: Final[dict[str, Handler]] = {
    "oauth/token": oauth.token,
    "token/revoke": oauth.revoke,
    "user_account/get": user.account,
    "boards/list": boards.list_boards,
    "boards/create": boards.create,
    "boards/get": boards.get,
    "boards/update": boards.update,
    "boards/delete": boards.delete,
    "boards/list_pins": pin_lists.on_board,
    "board_sections/list": sections.list_sections,
    "board_sections/create": sections.create,
    "board_sections/update": sections.update,
    "board_sections/delete": sections.delete,
    "board_sections/list_pins": sections.list_pins,
    "pins/list": pin_lists.mine,
    "pins/create": pins.create,
    "pins/get": pins.get,
    "pins/update": pins.update,
    "pins/delete": pins.delete,
    "pins/save": pins.save,
    "media/list": media.list_media,
    "media/create": media.create,
    "media/get": media.get,
    "search_user_pins/list": search.pins,
    "search_user_boards/get": search.boards,
}


def make_app(emu: Emulator) -> web.Application:
    """A new application serving ``emu`` (one per server start)."""
    routes: dict[int, Operation] = {}

    @web.middleware
    async def operation(request: web.Request, handler: Handler) -> web.StreamResponse:
        matched = routes.get(id(request.match_info.route))
        if matched is not None:
            request[OPERATION] = matched
            emu.stats.operations[matched.operation_id] += 1
        return await handler(request)

    app = web.Application(
        middlewares=[
            observe.middleware(emu.observers),
            operation,
            faults.middleware(emu.faults),
            authenticate,
            ratelimit.middleware(emu.limiter),
        ],
        client_max_size=MAX_UPLOAD_BYTES,
    )
    app[EMULATOR] = emu
    for op in OPERATIONS:
        route = app.router.add_route(op.method, API_PREFIX + op.path, HANDLERS[op.operation_id])
        routes[id(route)] = op
    app.router.add_get("/oauth/", authorize.page)
    app.router.add_post("/oauth/", authorize.decide)
    app.router.add_post("/media-upload/{media_id}", media.upload)
    app.router.add_get("/images/{key}", images.serve)
    fault_routes.add_routes(app)
    return app
