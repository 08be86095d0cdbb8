"""``/_emulator/faults``: read, replace and clear the fault plan of a running emulator.

``GET`` answers ``{"plan": {...}, "injected": {"error": n, ...}}``; ``POST`` with a JSON object
of plan fields (see :mod:`~components.pinterest.emulator.fault_spec`; fields left out take
their defaults) puts that plan in force and answers the same; ``DELETE`` clears it (no
faults). A bad body answers 400 naming the field. Only loopback callers are served (403
otherwise), though the emulator listens on loopback alone anyway.
"""

from __future__ import annotations

import json
from typing import Final

from aiohttp import web

from components.pinterest.emulator.context import emulator
from components.pinterest.emulator.fault_spec import plan_from_mapping, plan_to_json
from components.pinterest.emulator.faults import Faults
from runtime.errors import ConfigurationError

PATH: Final = "/_emulator/faults"
_LOOPBACK: Final = frozenset({"127.0.0.1", "::1"})


def _state(faults: Faults) -> web.Response:
    return web.json_response({"plan": plan_to_json(faults.plan), "injected": dict(faults.injected)})


def _loopback_only(request: web.Request) -> None:
    if request.remote not in _LOOPBACK:
        raise web.HTTPForbidden(text="the fault controls answer loopback callers only")


async def show(request: web.Request) -> web.Response:
    _loopback_only(request)
    return _state(emulator(request).faults)


async def replace(request: web.Request) -> web.Response:
    _loopback_only(request)
    try:
        data = json.loads(await request.text() or "{}")
    except json.JSONDecodeError as exc:
        return web.json_response({"message": f"the body is not JSON: {exc.msg}"}, status=400)
    try:
        plan = plan_from_mapping(data, "body")
    except ConfigurationError as exc:
        return web.json_response({"message": str(exc)}, status=400)
    faults = emulator(request).faults
    faults.set(plan)
    return _state(faults)


async def clear(request: web.Request) -> web.Response:
    _loopback_only(request)
    faults = emulator(request).faults
    faults.clear()
    return _state(faults)


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, show)
    app.router.add_post(PATH, replace)
    app.router.add_delete(PATH, clear)
