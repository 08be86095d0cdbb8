"""Per-call timeouts: a hung ``receive`` or ``tick`` is cancelled, and its message retried."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from runtime.brokers.sqlite import SQLiteBroker
from runtime.component import Component, Context
from runtime.engine import Engine, Output
from runtime.errors import FlowValidationError
from runtime.flow import validate_flow
from runtime.manifest import DEFAULT_TIMEOUT
from runtime.plan import FlowPlan
from runtime.registry import Registry
from runtime.retry import RetryPolicy
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from tests import kit
from tests.test_registry import manifest, write

TIMEOUT = 0.2


class Hang(Component):
    """Awaits forever on ``{"hang": true}``; forwards anything else."""

    async def receive(self, context: Context) -> None:
        if context.message.get("hang"):
            await asyncio.Event().wait()
        await context.send(context.message)


class Stubborn(Component):
    """Swallows the cancellation of a hung call: returns (``"then": "return"``) or hangs on."""

    async def receive(self, context: Context) -> None:
        if context.message.get("hang"):
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if context.message["then"] == "return":
                    return
                await asyncio.sleep(3 * TIMEOUT)  # long past the second deadline
                return
        await context.send(context.message)


class Lingering(Component):
    """Swallows its cancellation at its timeout and lingers; tells the test when it began to."""

    cancelled: asyncio.Event

    async def receive(self, context: Context) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            Lingering.cancelled.set()
            await asyncio.sleep(30)


class HangingTick(Component):
    """Its first tick writes state, then hangs; later ticks send the state they find."""

    ticks = 0

    async def tick(self, context: Context) -> None:
        HangingTick.ticks += 1
        if HangingTick.ticks == 1:
            await context.state.set("seen", "first")
            await asyncio.Event().wait()
        await context.send({"tick": HangingTick.ticks})


def timed(handler: type[Component], *, timeout: float = TIMEOUT) -> FlowPlan:
    flow = kit.plan(
        "f",
        {"hook": "Hook", "a": "Echo"},
        [("hook", "a")],
        retry=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002),
    )
    node = replace(flow.nodes["a"], handler=handler, timeout=timeout)
    return replace(flow, nodes={**flow.nodes, "a": node})


async def test_a_hung_handler_is_cancelled_retried_then_dead_lettered_and_the_rest_flows():
    store, outputs = MemoryStore(), []
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(timed(Hang))
        await engine.push("f", "hook", {"hang": True})
        for n in range(3):
            await engine.push("f", "hook", {"n": n})
        await asyncio.wait_for(engine.wait_idle("f"), 10)
        stats = engine.stats("f")["a"]

    assert [o.payload for o in outputs] == [{"n": 0}, {"n": 1}, {"n": 2}]
    [letter] = await store.list_dead_letters(flow_id="f")
    assert letter.envelope.payload == {"hang": True}
    assert letter.error_type == "CallTimeoutError"
    assert letter.error.startswith("the handler did not finish within 0.2 s")
    assert letter.attempts == 2
    assert (stats.failed, stats.retried, stats.dead_lettered) == (2, 1, 1)


async def test_with_the_durable_broker_a_hung_call_ends_as_a_dead_letter_and_nothing_stays_queued(
    tmp_path: Path,
):
    outputs: list[Output] = []
    async with (
        await SQLiteStore.open(tmp_path / "db.sqlite") as store,
        SQLiteBroker(store) as broker,
    ):
        async with Engine(store, broker=broker, on_output=outputs.append) as engine:
            await engine.start_flow(timed(Hang))
            await engine.push("f", "hook", {"hang": True})
            await engine.push("f", "hook", {"n": 1})
            await asyncio.wait_for(engine.wait_idle("f"), 10)
            assert engine.depths("f") == {"hook": 0, "a": 0}
        [letter] = await store.list_dead_letters(flow_id="f")

    assert [o.payload for o in outputs] == [{"n": 1}]
    assert (letter.error_type, letter.attempts) == ("CallTimeoutError", 2)


@pytest.mark.parametrize("then", ["return", "hang on"], ids=["returns", "hangs on"])
async def test_a_handler_that_swallows_its_cancellation_is_logged_and_its_message_retried(then):
    store, outputs = MemoryStore(), []
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(timed(Stubborn))
        with capture_logs() as logs:
            await engine.push("f", "hook", {"hang": True, "then": then})
            await engine.push("f", "hook", {"n": 1})
            await asyncio.wait_for(engine.wait_idle("f"), 10)

    assert [o.payload for o in outputs] == [{"n": 1}]
    [letter] = await store.list_dead_letters(flow_id="f")
    assert (letter.error_type, letter.attempts) == ("CallTimeoutError", 2)
    events = {e["event"] for e in logs if e["log_level"] in ("warning", "error")}
    expected = (
        "handler swallowed its cancellation at its timeout; the message is retried"
        if then == "return"
        else "handler ignores cancellation long after its timeout; its worker is replaced"
    )
    assert expected in events


async def test_stopping_a_flow_during_a_hung_call_interrupts_it_rather_than_failing_it():
    store = MemoryStore()
    async with Engine(store) as engine:
        await engine.start_flow(timed(Hang, timeout=60))
        await engine.push("f", "hook", {"hang": True})
        await kit.eventually(lambda: engine.stats("f")["a"].received == 1)
        await engine.stop_flow("f", timeout=0.05)

    [letter] = await store.list_dead_letters(flow_id="f")
    assert (letter.error_type, letter.attempts) == ("Stopped", 1)


async def test_a_flow_stopped_while_a_timed_out_call_lingers_interrupts_its_message_once():
    Lingering.cancelled = asyncio.Event()
    store = MemoryStore()
    async with Engine(store) as engine:
        await engine.start_flow(timed(Lingering, timeout=1.0))
        await engine.push("f", "hook", {"n": 1})
        await asyncio.wait_for(Lingering.cancelled.wait(), 10)
        await engine.stop_flow("f", timeout=0.01)

    [letter] = await store.list_dead_letters(flow_id="f")
    assert (letter.error_type, letter.attempts) == ("Stopped", 1)


async def test_a_hung_tick_is_cancelled_its_work_abandoned_and_polling_goes_on():
    HangingTick.ticks = 0
    flow = kit.plan("f", {"poll": "Counter", "t": "Echo"}, [("poll", "t")], tick={"poll": 0.01})
    node = replace(flow.nodes["poll"], handler=HangingTick, timeout=TIMEOUT)
    flow = replace(flow, nodes={**flow.nodes, "poll": node})
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        with capture_logs() as logs:
            await engine.start_flow(flow)
            await kit.eventually(lambda: len(outputs) >= 2, timeout=10)
        assert engine.stats("f")["poll"].failed == 1

    assert outputs[0].payload == {"tick": 2}
    [cancelled] = [e for e in logs if e["event"].startswith("tick cancelled")]
    assert (cancelled["log_level"], cancelled["component_id"]) == ("warning", "poll")
    assert cancelled["timeout"] == TIMEOUT


def _flow(**post: Any) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "id": "timed",
            "components": {
                "hook": {"type": "test.core.Hook"},
                "post": {
                    "type": "test.core.Pass",
                    "source": {"in": {"hook": ["out"]}},
                    **post,
                },
            },
        }
    )


def test_a_manifests_timeout_applies_unless_the_flow_sets_its_own(tmp_path: Path):
    write(tmp_path, "test/Thing.json", manifest(timeout=12))
    write(tmp_path, "test/Hook.json", manifest(name="test.core.Hook", inPorts=[], webhook=True))
    registry = Registry.load(tmp_path)
    flow = {
        "id": "timed",
        "components": {
            "hook": {"type": "test.core.Hook"},
            "thing": {"type": "test.core.Thing", "source": {"in": {"hook": ["out"]}}},
        },
    }

    assert validate_flow(flow, registry).nodes["thing"].timeout == 12
    flow["components"]["thing"]["timeout"] = 3
    assert validate_flow(flow, registry).nodes["thing"].timeout == 3


def test_a_flow_may_set_a_components_timeout_and_the_default_applies_otherwise(
    sample_registry: Registry,
):
    assert validate_flow(_flow(timeout=2.5), sample_registry).nodes["post"].timeout == 2.5
    assert validate_flow(_flow(), sample_registry).nodes["post"].timeout == DEFAULT_TIMEOUT


@pytest.mark.parametrize("value", [0, -1, "10", 10**6], ids=["zero", "negative", "text", "huge"])
def test_a_bad_timeout_is_refused_at_its_path(sample_registry: Registry, value: Any):
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(_flow(timeout=value), sample_registry)
    [problem] = caught.value.problems
    assert problem.path == "$.components.post.timeout"
