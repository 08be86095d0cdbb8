"""``POST /hooks/{flowId}/{componentId}``: a JSON event pushed into a running flow's webhook.

The steps, each a small function: check the hook and its secret, read the ``Idempotency-Key``
and the body, refuse an event its trigger's schema refuses (422 listing every problem,
:func:`refuse_if_unfit`), answer a repeated key with its first event (:func:`first_event`),
then queue the event (:func:`admit`): it waits for room in the trigger's channel at most the
server's hook wait, then answers 503 with ``Retry-After``, having queued nothing. All of it
runs on the front's loop, never waiting for the engine's (:mod:`runtime.server.front_intake`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.errors import (
    BrokerUnavailableError,
    DuplicateEventError,
    EngineError,
    IntakeFullError,
)
from runtime.server.bodies import read_json
from runtime.server.bridge import on_front
from runtime.server.context import CONTEXT
from runtime.server.errors import fail
from runtime.server.front_intake import push_event
from runtime.server.intake import MAX_KEY_LENGTH
from runtime.server.security import HOOK_SECRET_HEADER, hook_secret

if TYPE_CHECKING:
    from runtime.server.context import ServerContext

MAX_BODY = 1024 * 1024  # the server's client_max_size: larger bodies get 413 while read
MAX_PROBLEMS = 100  # listed in a 422 at most: an event may break a schema in many places
KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


@on_front
async def push(request: web.Request) -> web.Response:
    """Check the hook and its secret before reading the body, then queue the event (202).

    ``push_event`` returns once the event is queued, which with a durable broker means
    committed: an event answered 202 survives a crash of the server. It runs on the front's
    loop (the store, the flow's intake and the key claims are safe from there).
    """
    ctx = request.app[CONTEXT]
    flow_id = request.match_info["flow_id"]
    component_id = request.match_info["component_id"]
    stored = await ctx.hook_secrets.stored_hash(ctx.deployments, flow_id, component_id)
    if stored is None:
        raise fail(404, f"flow {flow_id!r} has no webhook trigger {component_id!r}")
    secret = hook_secret(request)
    if secret is None:
        raise fail(401, f"this hook needs its secret in the {HOOK_SECRET_HEADER} header")
    if not ctx.hook_secrets.matches(stored, secret):
        raise fail(401, "the hook secret is wrong")
    key = idempotency_key(request)
    payload = await read_json(request)
    refuse_if_unfit(ctx, flow_id, component_id, payload)
    if key is None:
        return accepted(await admit(request, flow_id, component_id, payload, None))
    async with ctx.intake.claim(flow_id, component_id, key):
        first = await first_event(ctx, flow_id, component_id, key)
        if first is not None:
            return accepted(first, repeat=True)
        try:
            event_id = await admit(request, flow_id, component_id, payload, key)
        except DuplicateEventError as exc:  # recorded by another process meanwhile
            return accepted(exc.event_id, repeat=True)
    return accepted(event_id)


def refuse_if_unfit(ctx: ServerContext, flow_id: str, component_id: str, payload: Any) -> None:
    """422 listing every way ``payload`` breaks the trigger's schema, before anything is
    committed (the trigger would only send such an event to the dead letters)."""
    problems = ctx.hook_schemas.problems(ctx.engine, flow_id, component_id, payload)
    if problems:
        raise fail(
            422,
            f"the event does not match the schema of webhook {component_id!r}"
            f" ({len(problems)} problem(s)); nothing was accepted",
            problems=[{"path": p.path, "message": p.message} for p in problems[:MAX_PROBLEMS]],
        )


def idempotency_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, checked: one header of 1 to 255 visible ASCII
    characters (spaces allowed inside); ``None`` without one; 400 for a bad one."""
    values = request.headers.getall(KEY_HEADER, [])
    if not values:
        return None
    if len(values) > 1:
        raise fail(400, f"the {KEY_HEADER} header is sent {len(values)} times; send it once")
    value = values[0]
    if not 1 <= len(value) <= MAX_KEY_LENGTH:
        raise fail(
            400,
            f"the {KEY_HEADER} header is {len(value)} characters long; it must be 1 to"
            f" {MAX_KEY_LENGTH}",
        )
    if not all(" " <= c <= "~" for c in value):
        raise fail(400, f"the {KEY_HEADER} header may hold visible ASCII characters only")
    return value


async def first_event(ctx: ServerContext, flow_id: str, component_id: str, key: str) -> str | None:
    """The id of the event already accepted with ``key`` within the window, if any."""
    await ctx.intake.prune(ctx.store)
    return await ctx.store.find_hook_key(flow_id, component_id, ctx.intake.key(key))


async def admit(
    request: web.Request, flow_id: str, component_id: str, payload: Any, key: str | None
) -> str:
    """Queue the event (with its key), waiting for room at most the server's hook wait."""
    ctx = request.app[CONTEXT]
    if not ctx.engine.is_running(flow_id):
        raise fail(409, f"flow {flow_id!r} is not running; start it to accept events")
    intake = ctx.intake
    try:
        return await push_event(
            request.app,
            flow_id,
            component_id,
            payload,
            wait=intake.wait,
            key=None if key is None else intake.key(key),
        )
    except IntakeFullError:
        raise fail(
            503,
            f"flow {flow_id!r} holds as many messages as its bound allows and had no room for"
            f" {intake.wait:g} s; nothing was accepted: send the event again later",
            headers={"Retry-After": str(intake.retry_after)},
        ) from None
    except BrokerUnavailableError:
        raise fail(
            503,
            f"flow {flow_id!r} cannot queue events now: its broker's server stayed out of reach"
            f" for {intake.wait:g} s; send the event again later",
            headers={"Retry-After": str(intake.retry_after)},
        ) from None
    except DuplicateEventError:
        raise
    except EngineError as exc:
        raise fail(409, str(exc)) from None


def accepted(event_id: str, *, repeat: bool = False) -> web.Response:
    """202 with the event's id; a repeated key says so in :data:`REPLAYED_HEADER`."""
    headers = {REPLAYED_HEADER: "true"} if repeat else None
    return web.json_response({"eventId": event_id}, status=202, headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/hooks/{flow_id}/{component_id}", push)
