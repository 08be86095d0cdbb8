"""Small components and a plan builder for engine tests that do not need flow files."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from runtime.component import Component, Context
from runtime.errors import CancelError, DeferError, ReauthorizeError, RetryError
from runtime.manifest import ComponentManifest
from runtime.plan import FlowPlan, NodePlan, PayloadValidator, Renderer, Route
from runtime.retry import RetryPolicy


class Hook(Component):
    """Webhook trigger: forwards pushed events."""

    async def receive(self, context: Context) -> None:
        await context.send(context.message)


class Echo(Component):
    """Forwards its input."""

    async def receive(self, context: Context) -> None:
        await context.send(context.message)


class Tag(Component):
    """Adds ``{"by": <component id>, "correlation": <id>}`` to a copy of its input."""

    async def receive(self, context: Context) -> None:
        await context.send(
            {**context.message, "by": context.component_id, "correlation": context.correlation_id}
        )


class Flaky(Component):
    """Fails the first ``properties["failures"]`` deliveries of each message, then forwards."""

    def __init__(self) -> None:
        self.calls: dict[Any, int] = {}

    async def receive(self, context: Context) -> None:
        key = repr(context.message)
        self.calls[key] = self.calls.get(key, 0) + 1
        if self.calls[key] <= context.properties.get("failures", 0):
            kind = context.properties.get("kind", "error")
            if kind == "retry":
                raise RetryError("not yet", delay=context.properties.get("delay"))
            if kind == "defer":
                raise DeferError("rate limited", delay=context.properties.get("delay", 0.001))
            if kind == "outage":  # what a client raises for a failure while a circuit is open
                outage = RetryError("no answer", delay=context.properties.get("delay", 0.001))
                outage.outage = True
                raise outage
            raise ConnectionError(f"attempt {self.calls[key]} failed")
        await context.send(context.message)


class Quoted(Component):
    """Waits for its turn at the quota gate of ``test:svc``'s ``writes`` (as a client would
    before sending a call), then forwards its input."""

    async def receive(self, context: Context) -> None:
        assert context.quotas is not None
        gate = context.quotas.gate("test:svc", "writes", account=None)
        await gate.acquire()
        gate.release()
        await context.send(context.message)


class Reject(Component):
    """Cancels every message."""

    async def receive(self, context: Context) -> None:
        raise CancelError(f"rejected {context.message!r}")


class Gate(Component):
    """Blocks each message until the test opens ``Gate.opened`` (class-level, per test)."""

    opened: asyncio.Event
    active = 0
    peak = 0

    async def receive(self, context: Context) -> None:
        Gate.active += 1
        Gate.peak = max(Gate.peak, Gate.active)
        try:
            await Gate.opened.wait()
        finally:
            Gate.active -= 1
        await context.send(context.message)


class Counter(Component):
    """Polling trigger: each tick sends the next number, persisted in state."""

    ticks_running = 0
    overlapped = False

    async def tick(self, context: Context) -> None:
        Counter.ticks_running += 1
        if Counter.ticks_running > 1:
            Counter.overlapped = True
        try:
            count = await context.state.get("count", 0) + 1
            await context.state.set("count", count)
            await asyncio.sleep(context.properties.get("work", 0))
            await context.send({"count": count})
        finally:
            Counter.ticks_running -= 1


class Locked(Component):
    """Needs an account re-authorized until the test sets ``Locked.authorized`` (per test)."""

    authorized = False
    delivered: list[Any]

    async def receive(self, context: Context) -> None:
        if not Locked.authorized:
            raise ReauthorizeError(
                "acme:pinterest account 'flowmixer_demo' needs to be connected again"
                " (the service refused to refresh its token)"
            )
        Locked.delivered.append(context.message)
        await context.send(context.message)


class Starter(Component):
    """Sends one message when the flow starts."""

    async def start(self, context: Context) -> None:
        await context.send({"started": True})


class BrokenStart(Component):
    async def start(self, context: Context) -> None:
        raise RuntimeError("cannot reach the database")

    async def receive(self, context: Context) -> None:  # pragma: no cover - never started
        await context.send(context.message)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (checked every millisecond), failing after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - polling state that has no event of its own
            await asyncio.sleep(0.001)


HANDLERS: dict[str, type[Component]] = {
    cls.__name__: cls
    for cls in (Hook, Echo, Tag, Flaky, Quoted, Reject, Gate, Counter, Locked, Starter, BrokenStart)
}
TRIGGERS = {"Hook": "webhook", "Counter": "tick", "Starter": "start"}


def manifest(kind: str, *, out_ports: tuple[str, ...] = ("out",)) -> ComponentManifest:
    trigger = TRIGGERS.get(kind)
    return ComponentManifest.model_validate(
        {
            "name": f"test.kit.{kind}",
            "label": kind,
            "description": f"test component {kind}",
            "handler": f"tests.kit:{kind}",
            "inPorts": [] if trigger else [{"name": "in"}],
            "outPorts": [{"name": p} for p in out_ports],
            "webhook": trigger == "webhook",
            "tick": {"interval": 60} if trigger == "tick" else None,
        }
    )


def plan(
    flow_id: str,
    nodes: dict[str, str],
    wires: list[tuple[str, str]],
    *,
    properties: dict[str, dict[str, Any]] | None = None,
    transforms: dict[str, Renderer] | None = None,
    validators: dict[str, PayloadValidator] | None = None,
    keep: tuple[str, ...] = (),
    concurrency: dict[str, int] | None = None,
    tick: dict[str, float] | None = None,
    retry: RetryPolicy | None = None,
) -> FlowPlan:
    """A plan of ``nodes`` (id -> kit class name) wired ``out`` -> ``in`` by ``wires``."""
    built: dict[str, NodePlan] = {}
    for cid, kind in nodes.items():
        routes = tuple(Route(dst, "in") for src, dst in wires if src == cid)
        built[cid] = NodePlan(
            id=cid,
            type=f"test.kit.{kind}",
            manifest=manifest(kind),
            handler=HANDLERS[kind],
            properties=(properties or {}).get(cid, {}),
            routes={"out": routes},
            transforms={"in": transforms[cid]} if transforms and cid in transforms else {},
            validators={"in": validators[cid]} if validators and cid in validators else {},
            concurrency=(concurrency or {}).get(cid, 1),
            tick_interval=(tick or {}).get(cid),
            webhook=TRIGGERS.get(kind) == "webhook",
            keep_output=cid in keep,
        )
    return FlowPlan(
        id=flow_id,
        name=flow_id,
        nodes=built,
        retry=retry or RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01),
    )
