"""``GET /healthz`` (is the server up, what runs) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from aiohttp import web

from runtime.server.context import CONTEXT
from runtime.server.metrics import CONTENT_TYPE


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[CONTEXT].engine
    return web.json_response({"status": "ok", "flowsRunning": engine.flows()})


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    ctx.metrics.set_dead_letters(await ctx.deployments.dead_letter_counts())
    response = web.Response(body=ctx.metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
