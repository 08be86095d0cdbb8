"""The admin API under ``/api/`` (behind the bearer token, see :mod:`runtime.server.security`).

=======  ================================  ===================================================
GET      /api/flows?limit=&cursor=         deployed flows with their status, a page at a time
POST     /api/flows                        deploy a flow (JSON body; 201 new, 200 replaced)
GET      /api/flows/{id}                   status, counters and queue depths
POST     /api/flows/{id}/start             start (and start again at the server's next start)
POST     /api/flows/{id}/stop              stop gracefully
POST     /api/flows/{id}/pause             pause: events are taken, none is handled
POST     /api/flows/{id}/resume            resume a paused flow: deliver its parked messages
DELETE   /api/flows/{id}                   stop and forget the flow
=======  ================================  ===================================================

The dead-letter routes, ``/api/dead-letters...``, are in :mod:`runtime.server.admin_dead_letters`.
"""

from __future__ import annotations

from aiohttp import web

from runtime.server import admin_dead_letters, control
from runtime.server.bodies import read_json
from runtime.server.context import CONTEXT
from runtime.server.deployments import PAUSED
from runtime.server.flow_listing import list_flows
from runtime.server.flow_summary import flow_summary

# -- flows -------------------------------------------------------------------------------


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
        **flow_summary(ctx, plan.id, deployment.status),
        "hooks": hooks,
        "note": "hook secrets are shown once, for hooks new in this deployment (else null)",
    }
    return web.json_response(body, status=201 if new else 200)


async def flow_status(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    deployment = await control.deployed(ctx, flow_id)
    body = flow_summary(ctx, flow_id, deployment.status)
    if ctx.engine.is_running(flow_id):
        body["stats"] = {cid: s.as_dict() for cid, s in ctx.engine.stats(flow_id).items()}
        body["depths"] = ctx.engine.depths(flow_id)
    return web.json_response(body)


async def start_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    await control.start(ctx, flow_id)
    return web.json_response(flow_summary(ctx, flow_id, "running"))


async def stop_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    await control.stop(ctx, flow_id)
    return web.json_response(flow_summary(ctx, flow_id, "stopped"))


async def pause_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    await control.pause(ctx, flow_id)
    return web.json_response(flow_summary(ctx, flow_id, PAUSED))


async def resume_flow(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    redelivered = await control.resume(ctx, flow_id)
    deployment = await control.deployed(ctx, flow_id)
    body = {**flow_summary(ctx, flow_id, deployment.status), "redelivered": redelivered}
    return web.json_response(body)


async def delete_flow(request: web.Request) -> web.Response:
    flow_id = request.match_info["flow_id"]
    await control.delete(request.app[CONTEXT], flow_id)
    return web.json_response({"deleted": flow_id})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/flows", list_flows)
    router.add_post("/api/flows", deploy_flow)
    router.add_get("/api/flows/{flow_id}", flow_status)
    router.add_post("/api/flows/{flow_id}/start", start_flow)
    router.add_post("/api/flows/{flow_id}/stop", stop_flow)
    router.add_post("/api/flows/{flow_id}/pause", pause_flow)
    router.add_post("/api/flows/{flow_id}/resume", resume_flow)
    router.add_delete("/api/flows/{flow_id}", delete_flow)
    admin_dead_letters.add_routes(app)
