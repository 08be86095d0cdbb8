"""Keeping this process's flows as the database wants them (the processes of a scale-out).

The database holds the truth: each deployed flow's wanted state (``running``, ``stopped``,
``paused``, ``awaiting-account``). A process reconciles a flow when a notice names it
(:mod:`runtime.server.notices`), every :data:`RECONCILE_EVERY` seconds for all of them (a lost
notice is repaired then) and at its start:

=================  ==========================  ===============================================
wanted             worker (runs components)    API process (publishes only)
=================  ==========================  ===============================================
running            runs; parked messages are   takes webhook events and retried dead letters
                   delivered again at start
paused, awaiting-  stopped here (the broker    takes webhook events (they wait in Redis)
account            keeps every message)
stopped, deleted   stopped here                stopped here
=================  ==========================  ===============================================

A worker whose flow meets a refused account records ``awaiting-account`` and tells the others,
so the flow pauses on every worker; reconnecting the account through any API process records
``running`` (:func:`resume_awaiting`) and every worker starts the flow again, delivering what
was parked.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Final

from aiohttp import web

from runtime.errors import EngineError
from runtime.server.deployments import AWAITING_ACCOUNT, PAUSED_STATES, RUNNING

if TYPE_CHECKING:
    from runtime.server.context import ServerContext
    from runtime.server.notices import ControlNotices

RECONCILE_EVERY: Final = 10.0
"""Seconds between two reconciles of every flow, whatever the notices said."""


class Reconciler:
    """Reconciles the flows of ``ctx.engine`` with the database; announces on ``notices``."""

    def __init__(
        self, ctx: ServerContext, notices: ControlNotices, *, every: float = RECONCILE_EVERY
    ) -> None:
        self._ctx = ctx
        self._notices = notices
        self._every = every
        self._locks: dict[str, asyncio.Lock] = {}
        self._definitions: dict[str, str] = {}  # the definition each running flow started with
        self._versions: dict[str, float] = {}  # the wanted state's time each one started under
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Listen to the notices and reconcile every flow now and then (until :meth:`close`)."""
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(
                self._notices.listen(self._heard, on_subscribed=self.reconcile_all),
                name="flowmixer:control:listen",
            ),
            loop.create_task(self._every_while(), name="flowmixer:control:reconcile"),
        ]

    async def _every_while(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.reconcile_all()
            except Exception as exc:  # the database away: the next round tries again
                self._ctx.logger.warning("reconcile failed", error=type(exc).__name__)

    async def _heard(self, flow_id: str, action: str) -> None:
        try:
            await self.reconcile(flow_id)
        except Exception as exc:
            self._ctx.logger.warning(
                "reconcile failed", flow_id=flow_id, action=action, error=type(exc).__name__
            )

    async def reconcile_all(self) -> list[str]:
        """Reconcile every deployed flow and every flow running here; those running after."""
        deployed = [deployment.id for deployment in await self._ctx.deployments.all()]
        for flow_id in sorted(set(deployed) | set(self._ctx.engine.flows())):
            try:
                await self.reconcile(flow_id)
            except web.HTTPException as exc:  # a deployed flow that no longer checks
                self._ctx.logger.error(
                    "deployed flow did not start", flow_id=flow_id, error=exc.text
                )
        return self._ctx.engine.flows()

    async def reconcile(self, flow_id: str) -> None:
        """Start, stop or restart ``flow_id`` here as its wanted state says."""
        lock = self._locks.setdefault(flow_id, asyncio.Lock())
        async with lock:
            await self._reconcile(flow_id)

    async def _reconcile(self, flow_id: str) -> None:
        from runtime.server.control import compile_flow  # control announces through this module

        ctx = self._ctx
        engine = ctx.engine
        deployment = await ctx.deployments.get(flow_id)
        wanted = None if deployment is None else deployment.status
        active = wanted == RUNNING or (not engine.workers and wanted in PAUSED_STATES)
        text = "" if deployment is None else json.dumps(deployment.definition, sort_keys=True)
        changed = self._definitions.get(flow_id) != text
        # Paused here under an older wanted state (a refusal met before the account was
        # connected again): started afresh, it takes its parked messages up again.
        stale = (
            engine.status(flow_id) == "paused"
            and deployment is not None
            and self._versions.get(flow_id) != deployment.updated_at
        )
        if engine.is_running(flow_id) and (not active or changed or stale):
            await engine.stop_flow(flow_id)
            self._definitions.pop(flow_id, None)
        if not active or engine.is_running(flow_id):
            return
        assert deployment is not None
        plan = await compile_flow(ctx, deployment.definition, f"deployed flow {flow_id!r}")
        # Accounts connected (or reconnected) through an API process since the last start.
        await ctx.credentials_changed()
        try:
            await engine.start_flow(plan)
        except EngineError as exc:
            ctx.logger.error("deployed flow did not start", flow_id=flow_id, error=str(exc))
            return
        self._definitions[flow_id] = text
        self._versions[flow_id] = deployment.updated_at
        if engine.status(flow_id) == "paused":  # restored parked messages: wanted running
            await engine.resume_flow(flow_id)

    def started(self, flow_id: str, definition: dict[str, object]) -> None:
        """``flow_id`` was started here with ``definition`` (by a request, not a reconcile)."""
        self._definitions[flow_id] = json.dumps(definition, sort_keys=True)

    def paused(self, flow_id: str, reason: str) -> None:
        """A flow here met a refused account (``Engine.on_pause``): record it, tell the others."""
        task = asyncio.get_running_loop().create_task(self._pause_everywhere(flow_id, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pause_everywhere(self, flow_id: str, reason: str) -> None:
        deployment = await self._ctx.deployments.get(flow_id)
        # Only under the wanted state the flow started with: a refusal met with the old grant
        # after the account was connected again must not pause the flow anew.
        if (
            deployment is not None
            and deployment.status == RUNNING
            and deployment.updated_at == self._versions.get(flow_id)
        ):
            await self._ctx.deployments.set_status(flow_id, AWAITING_ACCOUNT)
            self._ctx.logger.warning("flow paused on every process", flow_id=flow_id, reason=reason)
        await self._notices.publish(flow_id, "pause")
        await self.reconcile(flow_id)

    async def close(self) -> None:
        """Stop listening and reconciling (the flows stay as they are; the engine stops them)."""
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)
        self._loops = []


async def resume_awaiting(ctx: ServerContext, service: str) -> list[str]:
    """Record ``running`` for every flow awaiting an account of ``service`` and tell every
    process (an account of it was just connected here); their ids."""
    from runtime.server.control import announce, compile_flow

    resumed: list[str] = []
    for deployment in await ctx.deployments.all():
        if deployment.status != AWAITING_ACCOUNT:
            continue
        try:
            plan = await compile_flow(ctx, deployment.definition, f"flow {deployment.id!r}")
        except web.HTTPException:
            continue
        if any(
            node.manifest.auth is not None and node.manifest.auth.service == service
            for node in plan.nodes.values()
        ):
            await ctx.deployments.set_status(deployment.id, RUNNING)
            await announce(ctx, deployment.id, "resume")
            resumed.append(deployment.id)
    return resumed
