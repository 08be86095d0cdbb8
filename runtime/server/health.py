"""``GET /healthz`` (is the server up, what runs) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from aiohttp import web

from runtime.server.bridge import on_front
from runtime.server.context import CONTEXT
from runtime.server.metrics import CONTENT_TYPE

# Both run on the front's loop, never waiting for the engine's: they read the engine's
# counters and flow ids with plain reads (copying a dict's keys is atomic in CPython), and the
# store on its own thread.


@on_front
async def healthz(request: web.Request) -> web.Response:
    engine = request.app[CONTEXT].engine
    return web.json_response({"status": "ok", "flowsRunning": engine.flows()})


@on_front
async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    ctx.metrics.set_dead_letters(await ctx.deployments.dead_letter_counts())
    response = web.Response(body=ctx.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
