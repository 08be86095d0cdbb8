"""``GET /healthz`` (is the server up, how many flows in each state) and ``GET /metrics``
(Prometheus text; per-flow series on request, see :mod:`runtime.server.metrics_engine`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Final

from aiohttp import web

from runtime.server.bridge import BRIDGE, on_front
from runtime.server.context import CONTEXT
from runtime.server.errors import fail
from runtime.server.metrics import CONTENT_TYPE
from runtime.server.metrics_engine import STATES, FlowSelection
from runtime.server.metrics_render import ScrapeCache
from runtime.server.probes import reachable

SCRAPES: Final = web.AppKey("scrapes", ScrapeCache)
_METRICS_PARAMS: Final = ("flow", "flows")

# Both run on the front's loop, never waiting for the engine's: they read the engine's
# counters and flow ids with plain reads (copying a dict's keys is atomic in CPython), and the
# store on its own thread.


@on_front
async def healthz(request: web.Request) -> web.Response:
    """A document of constant size however many flows run: counts, not ids.

    With a broker on a server of its own (Redis), whether it was reachable a second ago:
    ``"degraded"`` while it is not. A process of a scale-out (``--redis``) also says its role and
    id and whether Redis and the database answer now, and answers 503 when one does not (a proxy
    or an orchestrator then sends its traffic elsewhere; the process waits and reconnects)."""
    ctx = request.app[CONTEXT]
    engine = ctx.engine
    states = Counter[str](engine.status(flow_id) for flow_id in engine.flows())
    flows = {state: states[state] for state in STATES}
    body: dict[str, object] = {"status": "ok", "flows": flows}
    for name, reachable_now in engine.broker.servers().items():
        body[name] = "reachable" if reachable_now else "unreachable"
        if not reachable_now:
            body["status"] = "degraded"
    if ctx.notices is None:
        return web.json_response(body)
    checks = await request.app[BRIDGE].call(reachable(ctx))
    up = all(checks.values())
    body.update(role=ctx.role, process=engine.owner, reachable=checks)
    if not up:
        body["status"] = "unavailable"
    return web.json_response(body, status=200 if up else 503)


def flow_selection(request: web.Request) -> FlowSelection:
    """Which flows get series of their own: ``?flows=1`` every one, ``?flow=ID`` (repeatable)
    those; 400 naming a parameter that is unknown or a ``flows`` that is not 0 or 1."""
    query = request.query
    unknown = sorted(set(query) - set(_METRICS_PARAMS))
    if unknown:
        raise fail(
            400,
            f"unknown query parameter(s): {', '.join(unknown)};"
            f" known: {', '.join(_METRICS_PARAMS)}",
        )
    every = query.getall("flows", [])
    if any(value not in ("0", "1") for value in every) or len(every) > 1:
        raise fail(400, f"flows must be given once, as 0 or 1, got {every!r}")
    return FlowSelection(every=every == ["1"], named=frozenset(query.getall("flow", [])))


@on_front
async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    selection = flow_selection(request)

    async def build() -> bytes:
        ctx.metrics.set_dead_letters(await ctx.deployments.dead_letter_counts())
        return await asyncio.to_thread(ctx.metrics.render, selection)

    body = await request.app[SCRAPES].get(selection, build)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def add_routes(app: web.Application) -> None:
    app[SCRAPES] = ScrapeCache()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
