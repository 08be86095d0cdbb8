"""``POST /hooks/{flowId}/{componentId}``: a JSON event pushed into a running flow's webhook."""

from __future__ import annotations

from aiohttp import web

from runtime.errors import EngineError
from runtime.server.bodies import read_json
from runtime.server.bridge import on_front
from runtime.server.context import CONTEXT
from runtime.server.errors import fail
from runtime.server.intake import push_event
from runtime.server.security import HOOK_SECRET_HEADER, hook_secret

MAX_BODY = 1024 * 1024  # the server's client_max_size: larger bodies get 413 while read


@on_front
async def push(request: web.Request) -> web.Response:
    """Check the hook and its secret before reading the body, then queue the event (202).

    ``push_event`` returns once the event is queued, which with a durable broker means
    committed: an event answered 202 survives a crash of the server. It runs on the front's
    loop (the store and the flow's intake are safe from there), not waiting for the engine's.
    """
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    component_id = request.match_info["component_id"]
    if not await ctx.deployments.hook_exists(flow_id, component_id):
        raise fail(404, f"flow {flow_id!r} has no webhook trigger {component_id!r}")
    secret = hook_secret(request)
    if secret is None:
        raise fail(401, f"this hook needs its secret in the {HOOK_SECRET_HEADER} header")
    if not await ctx.deployments.check_hook_secret(flow_id, component_id, secret):
        raise fail(401, "the hook secret is wrong")
    payload = await read_json(request)
    if not ctx.engine.is_running(flow_id):
        raise fail(409, f"flow {flow_id!r} is not running; start it to accept events")
    try:
        event_id = await push_event(request.app, flow_id, component_id, payload)
    except EngineError as exc:
        raise fail(409, str(exc)) from None
    return web.json_response({"eventId": event_id}, status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/hooks/{flow_id}/{component_id}", push)
