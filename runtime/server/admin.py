"""The admin API under ``/api/`` (behind the bearer token, see :mod:`runtime.server.security`).

=======  ================================  ===================================================
GET      /api/flows                        deployed flows with their status
POST     /api/flows                        deploy a flow (JSON body; 201 new, 200 replaced)
GET      /api/flows/{id}                   status, counters and queue depths
POST     /api/flows/{id}/start             start (and start again at the server's next start)
POST     /api/flows/{id}/stop              stop gracefully
POST     /api/flows/{id}/resume            resume a paused flow: deliver its parked messages
DELETE   /api/flows/{id}                   stop and forget the flow
GET      /api/dead-letters                 ``?flow=&component=&limit=`` newest first
GET      /api/dead-letters/{id}            one, with its envelope
POST     /api/dead-letters/{id}/retry      deliver again (now, or at the flow's next start)
DELETE   /api/dead-letters/{id}            drop for good
=======  ================================  ===================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.errors import EngineError
from runtime.server import control
from runtime.server.bodies import read_json
from runtime.server.context import CONTEXT
from runtime.server.errors import fail

if TYPE_CHECKING:
    from runtime.server.context import ServerContext

MAX_LIMIT = 1000


def _flow_summary(ctx: ServerContext, flow_id: str, status: str) -> dict[str, Any]:
    summary = {"id": flow_id, "status": status, "state": ctx.engine.status(flow_id)}
    reason = ctx.engine.pause_reason(flow_id)
    if reason is not None:
        summary["reason"] = reason
    return summary


# -- flows -------------------------------------------------------------------------------


async def list_flows(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flows = [_flow_summary(ctx, d.id, d.status) for d in await ctx.deployments.all()]
    return web.json_response({"flows": flows})


async def deploy_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    plan, secrets, new = await control.deploy(ctx, await read_json(request))
    hooks = [
        {"component": cid, "url": ctx.hook_url(plan.id, cid), "secret": secrets.get(cid)}
        for cid, node in plan.nodes.items()
        if node.webhook
    ]
    deployment = await control.deployed(ctx, plan.id)
    body = {
        **_flow_summary(ctx, plan.id, deployment.status),
        "hooks": hooks,
        "note": "hook secrets are shown once, for hooks new in this deployment (else null)",
    }
    return web.json_response(body, status=201 if new else 200)


async def flow_status(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    deployment = await control.deployed(ctx, flow_id)
    body = _flow_summary(ctx, flow_id, deployment.status)
    if ctx.engine.is_running(flow_id):
        body["stats"] = {cid: s.as_dict() for cid, s in ctx.engine.stats(flow_id).items()}
        body["depths"] = ctx.engine.depths(flow_id)
    return web.json_response(body)


async def start_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    await control.start(ctx, flow_id)
    return web.json_response(_flow_summary(ctx, flow_id, "running"))


async def stop_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    await control.stop(ctx, flow_id)
    return web.json_response(_flow_summary(ctx, flow_id, "stopped"))


async def resume_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    deployment = await control.deployed(ctx, flow_id)
    try:
        redelivered = await ctx.engine.resume_flow(flow_id)
    except EngineError as exc:
        raise fail(409, str(exc)) from None
    body = {**_flow_summary(ctx, flow_id, deployment.status), "redelivered": redelivered}
    return web.json_response(body)


async def delete_flow(request: web.Request) -> web.Response:
    flow_id = request.match_info["flow_id"]
    await control.delete(request.app[CONTEXT], flow_id)
    return web.json_response({"deleted": flow_id})


# -- dead letters ------------------------------------------------------------------------


def _limit(request: web.Request) -> int:
    text = request.query.get("limit", "100")
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return limit


async def list_dead_letters(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    letters = await ctx.store.list_dead_letters(
        flow_id=request.query.get("flow"),
        component_id=request.query.get("component"),
        limit=_limit(request),
    )
    return web.json_response({"deadLetters": [letter.to_dict() for letter in letters]})


async def show_dead_letter(request: web.Request) -> web.Response:
    letter_id = request.match_info["letter_id"]
    letter = await request.app[CONTEXT].store.get_dead_letter(letter_id)
    if letter is None:
        raise fail(404, f"there is no dead letter {letter_id!r}")
    return web.json_response(letter.to_dict())


async def retry_dead_letter(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    letter_id = request.match_info["letter_id"]
    if await ctx.store.get_dead_letter(letter_id) is None:
        raise fail(404, f"there is no dead letter {letter_id!r}")
    try:
        result = await ctx.engine.retry_dead_letter(letter_id)
    except EngineError as exc:
        raise fail(409, str(exc)) from None
    return web.json_response({"id": letter_id, "result": result})


async def drop_dead_letter(request: web.Request) -> web.Response:
    letter_id = request.match_info["letter_id"]
    if not await request.app[CONTEXT].store.delete_dead_letter(letter_id):
        raise fail(404, f"there is no dead letter {letter_id!r}")
    return web.json_response({"dropped": letter_id})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/flows", list_flows)
    router.add_post("/api/flows", deploy_flow)
    router.add_get("/api/flows/{flow_id}", flow_status)
    router.add_post("/api/flows/{flow_id}/start", start_flow)
    router.add_post("/api/flows/{flow_id}/stop", stop_flow)
    router.add_post("/api/flows/{flow_id}/resume", resume_flow)
    router.add_delete("/api/flows/{flow_id}", delete_flow)
    router.add_get("/api/dead-letters", list_dead_letters)
    router.add_get("/api/dead-letters/{letter_id}", show_dead_letter)
    router.add_post("/api/dead-letters/{letter_id}/retry", retry_dead_letter)
    router.add_delete("/api/dead-letters/{letter_id}", drop_dead_letter)
