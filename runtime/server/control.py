"""Deploy, start, stop and delete flows: the engine and the deployed definitions kept in step."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from runtime.errors import EngineError, FlowValidationError
from runtime.flow import validate_flow
from runtime.server.deployments import RUNNING, STOPPED
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
        return await asyncio.to_thread(
            validate_flow,
            definition,
            ctx.registry,
            source=source,
            max_components=ctx.max_components,
        )
    except FlowValidationError as exc:
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
        raise fail(
            422, f"{source}: invalid flow ({len(problems)} problem(s))", problems=problems
        ) from None


async def deployed(ctx: ServerContext, flow_id: str) -> Deployment:
    found = await ctx.deployments.get(flow_id)
    if found is None:
        raise fail(404, f"no flow {flow_id!r} is deployed")
    return found


async def deploy(ctx: ServerContext, definition: Any) -> tuple[FlowPlan, dict[str, str], bool]:
    """Check and keep a flow; returns its plan, the new hook secrets and whether it is new."""
    plan = await compile_flow(ctx, definition, "the flow")
    if ctx.engine.is_running(plan.id):
        raise fail(409, f"flow {plan.id!r} is running; stop it before deploying it again")
    new = await ctx.deployments.get(plan.id) is None
    hooks = [cid for cid, node in plan.nodes.items() if node.webhook]
    secrets = await ctx.deployments.save(plan.id, definition, hooks)
    ctx.logger.info("flow deployed", flow_id=plan.id, new=new)
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
    await ctx.deployments.set_status(flow_id, RUNNING)


async def stop(ctx: ServerContext, flow_id: str) -> None:
    """Stop a deployed flow gracefully and remember it stays stopped."""
    await deployed(ctx, flow_id)
    if ctx.engine.is_running(flow_id):
        await ctx.engine.stop_flow(flow_id)
    await ctx.deployments.set_status(flow_id, STOPPED)


async def delete(ctx: ServerContext, flow_id: str) -> None:
    """Stop the flow, forget it, its hook secrets, its components' state and the messages a
    durable broker kept for it (not its dead letters: they stay listed until retried or
    dropped)."""
    await deployed(ctx, flow_id)
    if ctx.engine.is_running(flow_id):
        await ctx.engine.stop_flow(flow_id)
    await ctx.deployments.delete(flow_id)
    await ctx.store.delete_flow_state(flow_id)
    await ctx.engine.broker.delete_flow(flow_id)
    ctx.logger.info("flow deleted", flow_id=flow_id)


async def resume_all(ctx: ServerContext) -> list[str]:
    """Start every deployed flow whose status is running; one that fails is logged and left."""
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
