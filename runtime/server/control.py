"""Deploy, start, stop and delete flows: the engine and the deployed definitions kept in step."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.errors import EngineError, FlowValidationError
from runtime.flow import validate_flow
from runtime.server.deployments import PAUSED, PAUSED_STATES, RUNNING, STOPPED
from runtime.server.errors import fail

if TYPE_CHECKING:
    from runtime.plan import FlowPlan
    from runtime.server.context import ServerContext
    from runtime.server.deployments import Deployment


async def compile_flow(ctx: ServerContext, definition: Any, source: str) -> FlowPlan:
    """The plan of ``definition``; a 422 listing every problem (by JSON path) if it is broken.

    Checked on a worker thread: a big flow takes a while (linear in its size), and hooks,
    health checks and other flows go on meanwhile.
    """
    try:
        return await asyncio.to_thread(_validate, ctx, definition, source)
    except FlowValidationError as exc:
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
        raise fail(
            422, f"{source}: invalid flow ({len(problems)} problem(s))", problems=problems
        ) from None


def _validate(ctx: ServerContext, definition: Any, source: str) -> FlowPlan:
    with _COLLECTOR_PAUSE:
        return validate_flow(
            definition, ctx.registry, source=source, max_components=ctx.max_components
        )


class _CollectorPause:
    """Holds off Python's cyclic garbage collector while flows are checked.

    Checking a flow of thousands of components allocates enough for the collector to make
    full passes over the whole heap, 50-100 ms each, during which it holds the GIL: the
    event loop could not answer anything, although the check runs on another thread. The
    check makes no cyclic garbage worth collecting, so the collector waits until it is done.
    The collector is one per process, hence one pause shared by every check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._paused = False  # whether this pause disabled it (it may have been off already)

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0 and gc.isenabled():
                gc.disable()
                self._paused = True
            self._holders += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._paused:
                self._paused = False
                gc.enable()


_COLLECTOR_PAUSE = _CollectorPause()


async def deployed(ctx: ServerContext, flow_id: str) -> Deployment:
    found = await ctx.deployments.get(flow_id)
    if found is None:
        raise fail(404, f"no flow {flow_id!r} is deployed")
    return found


async def announce(ctx: ServerContext, flow_id: str, action: str) -> None:
    """Tell every process of a scale-out to reconcile ``flow_id`` (after the database says
    what it should be); nothing without a control channel."""
    if ctx.notices is not None:
        await ctx.notices.publish(flow_id, action)


async def deploy(ctx: ServerContext, definition: Any) -> tuple[FlowPlan, dict[str, str], bool]:
    """Check and keep a flow; returns its plan, the new hook secrets and whether it is new."""
    plan = await compile_flow(ctx, definition, "the flow")
    if ctx.engine.is_running(plan.id):
        raise fail(409, f"flow {plan.id!r} is running; stop it before deploying it again")
    found = await ctx.deployments.get(plan.id)
    if ctx.notices is not None and found is not None and found.status != STOPPED:
        # Other processes may run it: the database, not this engine, says whether it runs.
        raise fail(409, f"flow {plan.id!r} is {found.status}; stop it before deploying it again")
    new = found is None
    hooks = [cid for cid, node in plan.nodes.items() if node.webhook]
    secrets = await ctx.deployments.save(plan.id, definition, hooks)
    ctx.hook_secrets.forget(plan.id)
    ctx.logger.info("flow deployed", flow_id=plan.id, new=new)
    await announce(ctx, plan.id, "deploy")
    return plan, secrets, new


async def start(ctx: ServerContext, flow_id: str) -> None:
    """Start a deployed flow (nothing to do if it runs) and remember to start it next time."""
    deployment = await deployed(ctx, flow_id)
    if not ctx.engine.is_running(flow_id):
        plan = await compile_flow(ctx, deployment.definition, f"deployed flow {flow_id!r}")
        try:
            await ctx.engine.start_flow(plan)
        except EngineError as exc:
            raise fail(409, str(exc)) from None
        if ctx.reconciler is not None:  # so that its next look does not start it again
            ctx.reconciler.started(flow_id, deployment.definition)
    await ctx.deployments.set_status(flow_id, RUNNING)
    await announce(ctx, flow_id, "start")


async def stop(ctx: ServerContext, flow_id: str) -> None:
    """Stop a deployed flow gracefully and remember it stays stopped."""
    await deployed(ctx, flow_id)
    if ctx.engine.is_running(flow_id):
        await ctx.engine.stop_flow(flow_id)
    await ctx.deployments.set_status(flow_id, STOPPED)
    await announce(ctx, flow_id, "stop")


async def pause(ctx: ServerContext, flow_id: str) -> None:
    """Record that the flow is paused and tell every process: workers stop handling its
    messages (kept by the broker); an API process goes on taking its webhook events. A process
    that runs components itself (no control channel, or ``all``) stops the flow."""
    await deployed(ctx, flow_id)
    await ctx.deployments.set_status(flow_id, PAUSED)
    if ctx.reconciler is not None:
        await ctx.reconciler.reconcile(flow_id)
    elif ctx.engine.is_running(flow_id):
        await ctx.engine.stop_flow(flow_id)
    await announce(ctx, flow_id, "pause")


async def resume(ctx: ServerContext, flow_id: str) -> int | None:
    """Resume a flow paused by a person or awaiting an account: record ``running`` and tell
    every process; a flow paused here is resumed here. How many parked messages this process
    delivered again (``None``: the workers do, on their own)."""
    deployment = await deployed(ctx, flow_id)
    if deployment.status in PAUSED_STATES:
        await ctx.deployments.set_status(flow_id, RUNNING)
        if ctx.reconciler is not None:
            await ctx.reconciler.reconcile(flow_id)
        elif not ctx.engine.is_running(flow_id):
            await start(ctx, flow_id)
        await announce(ctx, flow_id, "resume")
    if ctx.engine.status(flow_id) == "paused":
        try:
            return await ctx.engine.resume_flow(flow_id)
        except EngineError as exc:
            raise fail(409, str(exc)) from None
    if deployment.status not in PAUSED_STATES:
        raise fail(409, f"flow {flow_id!r} is {deployment.status}, not paused")
    return None if ctx.reconciler is not None else 0


async def delete(ctx: ServerContext, flow_id: str) -> None:
    """Stop the flow, forget it, its hook secrets and idempotency keys, its components' state
    and the messages a durable broker kept for it (not its dead letters: they stay listed
    until retried or dropped)."""
    await deployed(ctx, flow_id)
    if ctx.engine.is_running(flow_id):
        await ctx.engine.stop_flow(flow_id)
    await ctx.deployments.delete(flow_id)
    ctx.hook_secrets.forget(flow_id)
    await ctx.store.delete_flow_state(flow_id)
    await ctx.store.delete_hook_keys(flow_id)
    await ctx.engine.broker.delete_flow(flow_id)
    ctx.logger.info("flow deleted", flow_id=flow_id)
    await announce(ctx, flow_id, "delete")


async def resume_all(ctx: ServerContext) -> list[str]:
    """Start every deployed flow whose status is running; one that fails is logged and left.
    With a reconciler, every flow as it says (paused ones take events in an API process)."""
    if ctx.reconciler is not None:
        return await ctx.reconciler.reconcile_all()
    started: list[str] = []
    for deployment in await ctx.deployments.all():
        if deployment.status != RUNNING:
            continue
        try:
            await start(ctx, deployment.id)
        except web.HTTPException as exc:
            ctx.logger.error("deployed flow did not start", flow_id=deployment.id, error=exc.text)
            continue
        started.append(deployment.id)
    return started
