"""The engine: wiring, correlation, mapping hooks, retries, dead letters, stop, triggers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from runtime.engine import Engine, Output
from runtime.errors import CancelError, EngineError
from runtime.manifest import AuthRequirement
from runtime.plan import FlowPlan
from runtime.retry import RetryPolicy
from runtime.stores.memory import MemoryStore
from tests import kit


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def outputs() -> list[Output]:
    return []


@pytest.fixture
async def engine(store: MemoryStore, outputs: list[Output]) -> Any:
    async with Engine(store, on_output=outputs.append, queue_size=8) as running:
        yield running


async def test_a_pushed_event_flows_through_a_chain_and_leaves_at_the_sink(engine, outputs):
    await engine.start_flow(
        kit.plan("f", {"hook": "Hook", "a": "Echo", "b": "Tag"}, [("hook", "a"), ("a", "b")])
    )
    event_id = await engine.push("f", "hook", {"n": 1})
    await engine.wait_idle("f")

    assert outputs == [
        Output("f", "b", "out", event_id, {"n": 1, "by": "b", "correlation": event_id})
    ]
    stats = engine.stats("f")
    assert (stats["a"].received, stats["a"].sent, stats["b"].sent) == (1, 1, 1)


async def test_fan_out_delivers_one_copy_to_each_successor_with_the_same_correlation_id(
    engine, outputs
):
    await engine.start_flow(
        kit.plan("f", {"hook": "Hook", "x": "Tag", "y": "Tag"}, [("hook", "x"), ("hook", "y")])
    )
    event_id = await engine.push("f", "hook", {"n": 7})
    await engine.wait_idle("f")

    assert sorted(o.component_id for o in outputs) == ["x", "y"]
    assert {o.correlation_id for o in outputs} == {event_id}
    assert {o.payload["correlation"] for o in outputs} == {event_id}


async def test_each_event_keeps_its_own_correlation_id_through_the_chain(engine, outputs):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "t": "Tag"}, [("hook", "t")]))
    ids = [await engine.push("f", "hook", {"i": i}) for i in range(20)]
    await engine.wait_idle("f")

    assert len(set(ids)) == 20
    by_input = {o.payload["i"]: o.correlation_id for o in outputs}
    assert by_input == dict(enumerate(ids))


async def test_transforms_read_the_outputs_of_upstream_components_from_the_trail(engine, outputs):
    def render(trail: dict[str, Any]) -> Any:
        return {"from_hook": trail["hook"]["out"]["n"], "from_a": trail["a"]["out"]["by"]}

    await engine.start_flow(
        kit.plan(
            "f",
            {"hook": "Hook", "a": "Tag", "b": "Echo"},
            [("hook", "a"), ("a", "b")],
            transforms={"b": render},
            keep=("hook", "a"),
        )
    )
    await engine.push("f", "hook", {"n": 3})
    await engine.wait_idle("f")

    assert [o.payload for o in outputs] == [{"from_hook": 3, "from_a": "a"}]


async def test_input_that_fails_its_schema_is_dead_lettered_with_the_reason(engine, store, outputs):
    def must_have_title(payload: Any) -> str | None:
        return None if "title" in payload else "$: 'title' is a required property"

    await engine.start_flow(
        kit.plan(
            "f", {"hook": "Hook", "a": "Echo"}, [("hook", "a")], validators={"a": must_have_title}
        )
    )
    await engine.push("f", "hook", {"title": "ok"})
    bad_id = await engine.push("f", "hook", {"name": "no title"})
    await engine.wait_idle("f")

    assert [o.payload for o in outputs] == [{"title": "ok"}]
    [letter] = await store.list_dead_letters(flow_id="f")
    assert letter.component_id == "a"
    assert letter.error_type == "InvalidInputError"
    assert "'title' is a required property" in letter.error
    assert letter.envelope.correlation_id == bad_id
    assert letter.envelope.payload == {"name": "no title"}
    assert letter.attempts == 1


async def test_a_failing_handler_is_retried_until_it_succeeds(engine, store, outputs):
    await engine.start_flow(
        kit.plan(
            "f",
            {"hook": "Hook", "a": "Flaky"},
            [("hook", "a")],
            properties={"a": {"failures": 2}},
        )
    )
    await engine.push("f", "hook", {"n": 1})
    await engine.wait_idle("f")

    assert [o.payload for o in outputs] == [{"n": 1}]
    stats = engine.stats("f")["a"]
    assert (stats.received, stats.failed, stats.retried, stats.dead_lettered) == (3, 2, 2, 0)
    assert await store.list_dead_letters() == []


async def test_a_message_that_keeps_failing_is_dead_lettered_after_the_last_attempt(
    engine, store, outputs
):
    await engine.start_flow(
        kit.plan(
            "f",
            {"hook": "Hook", "a": "Flaky"},
            [("hook", "a")],
            properties={"a": {"failures": 99}},
            retry=RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002),
        )
    )
    with capture_logs() as logs:
        await engine.push("f", "hook", {"n": 1})
        await engine.wait_idle("f")

    assert outputs == []
    [letter] = await store.list_dead_letters(flow_id="f")
    assert letter.attempts == 4
    assert letter.error == "ConnectionError: attempt 4 failed"
    assert engine.stats("f")["a"].received == 4
    [warning] = [e for e in logs if e["event"] == "message dead-lettered"]
    assert warning["log_level"] == "warning"
    assert warning["attempts"] == 4


async def test_waiting_for_a_rate_limit_uses_no_attempt_and_only_the_time_limit_ends_it(
    engine, store, outputs
):
    retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002, max_elapsed=0.5)
    await engine.start_flow(
        kit.plan(
            "f",
            {"hook": "Hook", "a": "Flaky", "b": "Flaky"},
            [("hook", "a"), ("hook", "b")],
            properties={
                "a": {"failures": 5, "kind": "defer"},
                "b": {"failures": 999, "kind": "defer", "delay": 0.05},
            },
            retry=retry,
        )
    )
    await engine.push("f", "hook", {"n": 1})
    await engine.wait_idle("f")

    assert [(o.component_id, o.payload) for o in outputs] == [("a", {"n": 1})]
    assert engine.stats("f")["a"].received == 6  # five waits, then the delivery
    [letter] = await store.list_dead_letters(flow_id="f")
    assert letter.component_id == "b"
    assert letter.attempts == 1
    assert "maxElapsed" in letter.error


async def test_a_cancelled_message_is_dead_lettered_at_once_without_retry(engine, store):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "r": "Reject"}, [("hook", "r")]))
    await engine.push("f", "hook", "spam")
    await engine.wait_idle("f")

    [letter] = await store.list_dead_letters()
    assert (letter.error_type, letter.error, letter.attempts) == (
        "CancelError",
        "rejected 'spam'",
        1,
    )
    assert engine.stats("f")["r"].retried == 0


async def test_a_retry_error_waits_at_least_the_delay_it_asks_for(engine, outputs):
    await engine.start_flow(
        kit.plan(
            "f",
            {"hook": "Hook", "a": "Flaky"},
            [("hook", "a")],
            properties={"a": {"failures": 1, "kind": "retry", "delay": 0.2}},
        )
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    await engine.push("f", "hook", 1)
    await engine.wait_idle("f")

    assert loop.time() - began >= 0.2
    assert [o.payload for o in outputs] == [1]


def test_backoff_grows_exponentially_with_full_jitter_and_is_capped():
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=5.0)
    import random

    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range
    assert [policy.should_retry(a) for a in (1, 4, 5)] == [True, True, False]


async def test_concurrency_lets_a_component_handle_several_messages_at_once(store, outputs):
    kit.Gate.opened = asyncio.Event()
    kit.Gate.active = kit.Gate.peak = 0
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(
            kit.plan("f", {"hook": "Hook", "g": "Gate"}, [("hook", "g")], concurrency={"g": 3})
        )
        for i in range(6):
            await engine.push("f", "hook", i)
        await kit.eventually(lambda: kit.Gate.active >= 3)
        await asyncio.sleep(0.01)
        assert kit.Gate.active == 3  # the fourth waits for a free worker
        kit.Gate.opened.set()
        await engine.wait_idle("f")

    assert kit.Gate.peak == 3
    assert sorted(o.payload for o in outputs) == list(range(6))


async def test_a_full_queue_makes_the_sender_wait(store):
    kit.Gate.opened = asyncio.Event()
    kit.Gate.active = kit.Gate.peak = 0
    async with Engine(store, queue_size=2) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "g": "Gate"}, [("hook", "g")]))
        pushes = asyncio.ensure_future(
            asyncio.gather(*(engine.push("f", "hook", i) for i in range(10)))
        )
        await asyncio.sleep(0.05)
        assert not pushes.done()  # bounded queues hold the producer back
        assert engine.depths("f")["g"] <= 2
        kit.Gate.opened.set()
        assert len(await pushes) == 10
        await engine.wait_idle("f")


async def test_stop_lets_in_flight_work_finish(store, outputs):
    kit.Gate.opened = asyncio.Event()
    kit.Gate.active = kit.Gate.peak = 0
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "g": "Gate"}, [("hook", "g")]))
        await engine.push("f", "hook", "in flight")
        await kit.eventually(lambda: kit.Gate.active > 0)
        stopping = asyncio.ensure_future(engine.stop_flow("f", timeout=5))
        await asyncio.sleep(0.02)
        assert not stopping.done()
        kit.Gate.opened.set()
        await stopping

    assert [o.payload for o in outputs] == ["in flight"]
    assert await store.list_dead_letters() == []


async def test_work_left_when_the_stop_timeout_ends_goes_to_the_dead_letters(store):
    kit.Gate.opened = asyncio.Event()
    kit.Gate.active = kit.Gate.peak = 0
    async with Engine(store) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "g": "Gate"}, [("hook", "g")]))
        for i in range(3):
            await engine.push("f", "hook", i)
        await kit.eventually(lambda: kit.Gate.active > 0)
        await engine.stop_flow("f", timeout=0.05)

    letters = await store.list_dead_letters(flow_id="f")
    assert sorted(letter.envelope.payload for letter in letters) == [0, 1, 2]
    assert {letter.error_type for letter in letters} == {"Stopped"}
    assert "flow stopped" in letters[0].error


async def test_a_dead_letter_marked_for_retry_is_delivered_at_the_next_start(store, outputs):
    flow = kit.plan("f", {"hook": "Hook", "r": "Reject"}, [("hook", "r")])
    async with Engine(store) as engine:
        await engine.start_flow(flow)
        await engine.push("f", "hook", {"n": 1})
        await engine.wait_idle("f")
        [letter] = await store.list_dead_letters()
        await engine.stop_flow("f")
        assert await engine.retry_dead_letter(letter.id) == "scheduled"

    fixed = kit.plan("f", {"hook": "Hook", "r": "Echo"}, [("hook", "r")])
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(fixed)
        await engine.wait_idle("f")

    assert [o.payload for o in outputs] == [{"n": 1}]
    assert outputs[0].correlation_id == letter.envelope.correlation_id
    assert await store.list_dead_letters() == []


async def test_retrying_a_dead_letter_of_a_running_flow_requeues_it_at_once(engine, store):
    await engine.start_flow(
        kit.plan(
            "f", {"hook": "Hook", "a": "Flaky"}, [("hook", "a")], properties={"a": {"failures": 3}}
        )
    )
    await engine.push("f", "hook", "x")
    await engine.wait_idle("f")
    [letter] = await store.list_dead_letters()

    assert await engine.retry_dead_letter(letter.id) == "requeued"
    await engine.wait_idle("f")
    assert await store.list_dead_letters() == []
    assert engine.stats("f")["a"].sent == 1


async def test_retrying_an_unknown_dead_letter_is_an_error(engine):
    with pytest.raises(EngineError, match="no dead letter 'nope'"):
        await engine.retry_dead_letter("nope")


async def test_pushing_to_something_that_is_not_a_webhook_trigger_is_refused(engine):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "a": "Echo"}, [("hook", "a")]))
    with pytest.raises(EngineError, match="no component 'nope'"):
        await engine.push("f", "nope", {})
    with pytest.raises(EngineError, match="'a' of flow 'f' is not a webhook trigger"):
        await engine.push("f", "a", {})
    with pytest.raises(EngineError, match="flow 'other' is not running"):
        await engine.push("other", "hook", {})


async def test_a_flow_cannot_be_started_twice(engine):
    flow = kit.plan("f", {"hook": "Hook"}, [])
    await engine.start_flow(flow)
    with pytest.raises(EngineError, match="already running"):
        await engine.start_flow(flow)


async def test_a_component_that_fails_to_start_stops_the_whole_flow_cleanly(engine):
    flow = kit.plan("f", {"hook": "Hook", "bad": "BrokenStart"}, [("hook", "bad")])
    with pytest.raises(EngineError, match="component 'bad' failed to start: cannot reach"):
        await engine.start_flow(flow)
    assert engine.flows() == []
    await engine.start_flow(kit.plan("f", {"hook": "Hook"}, []))  # the id is free again


async def test_many_flows_run_and_stop_independently(engine, outputs):
    for name in ("one", "two"):
        await engine.start_flow(kit.plan(name, {"hook": "Hook", "t": "Tag"}, [("hook", "t")]))
    await engine.push("one", "hook", {"f": 1})
    await engine.stop_flow("one")
    await engine.push("two", "hook", {"f": 2})
    await engine.wait_idle()

    assert engine.flows() == ["two"]
    assert sorted((o.flow_id, o.payload["f"]) for o in outputs) == [("one", 1), ("two", 2)]


async def test_a_trigger_can_send_when_the_flow_starts(engine, outputs):
    await engine.start_flow(kit.plan("f", {"s": "Starter", "t": "Tag"}, [("s", "t")]))
    await engine.wait_idle("f")
    [output] = outputs
    assert output.payload["started"] is True
    assert output.correlation_id == output.payload["correlation"]


async def test_ticks_of_a_polling_trigger_never_overlap_and_state_survives_restart(store, outputs):
    kit.Counter.ticks_running = 0
    kit.Counter.overlapped = False
    flow = kit.plan(
        "f",
        {"poll": "Counter", "t": "Echo"},
        [("poll", "t")],
        tick={"poll": 0.01},
        properties={"poll": {"work": 0.03}},  # each tick takes longer than the interval
    )
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(flow)
        await kit.eventually(lambda: len(outputs) >= 3)
        await engine.stop_flow("f")
    seen = len(outputs)
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(flow)
        await kit.eventually(lambda: len(outputs) > seen)

    assert not kit.Counter.overlapped
    counts = [o.payload["count"] for o in outputs]
    assert counts == list(range(1, len(counts) + 1))  # no repeat, no gap across the restart
    assert len({o.correlation_id for o in outputs}) == len(outputs)


async def test_sending_on_an_unknown_port_fails_the_message_with_a_clear_reason(engine, store):
    class WrongPort(kit.Echo):
        async def receive(self, context):
            await context.send(context.message, port="oops")

    flow = kit.plan("f", {"hook": "Hook", "a": "Echo"}, [("hook", "a")])
    node = flow.nodes["a"]
    object.__setattr__(node, "handler", WrongPort)
    await engine.start_flow(flow)
    await engine.push("f", "hook", 1)
    await engine.wait_idle("f")

    [letter] = await store.list_dead_letters()
    assert "component 'a' has no out-port 'oops'; its out-ports: out" in letter.error


async def test_a_dead_letter_never_keeps_a_credential_quoted_in_the_error(engine, store):
    class Leaky(kit.Echo):
        async def receive(self, context):
            raise CancelError(
                "GET https://api.example/v5?code=abc123 failed; header Authorization:"
                " Bearer pina.SECRETVALUE"
            )

    flow = kit.plan("f", {"hook": "Hook", "a": "Echo"}, [("hook", "a")])
    object.__setattr__(flow.nodes["a"], "handler", Leaky)
    with capture_logs() as logs:
        await engine.start_flow(flow)
        await engine.push("f", "hook", 1)
        await engine.wait_idle("f")

    [letter] = await store.list_dead_letters()
    assert "SECRETVALUE" not in letter.error
    assert "abc123" not in letter.error
    assert letter.error.startswith("GET https://api.example/v5?code=*** failed")
    assert "SECRETVALUE" not in repr(logs)


async def test_a_component_sending_into_a_full_successor_waits_and_loses_nothing(store, outputs):
    kit.Gate.opened = asyncio.Event()
    kit.Gate.active = kit.Gate.peak = 0
    async with Engine(store, on_output=outputs.append, queue_size=1) as engine:
        await engine.start_flow(
            kit.plan("f", {"hook": "Hook", "e": "Echo", "g": "Gate"}, [("hook", "e"), ("e", "g")])
        )
        for i in range(4):
            await engine.push("f", "hook", i)
        await kit.eventually(lambda: engine.depths("f")["g"] == 1 and kit.Gate.active == 1)
        await asyncio.sleep(0.02)
        stats = engine.stats("f")
        assert stats["e"].sent < 4  # Echo is held back by the saturated Gate
        kit.Gate.opened.set()
        await engine.wait_idle("f")

    assert [o.payload for o in outputs] == [0, 1, 2, 3]


@pytest.fixture
def locked() -> type[kit.Locked]:
    kit.Locked.authorized = False
    kit.Locked.delivered = []
    return kit.Locked


async def test_a_message_needing_reauthorization_is_parked_and_the_flow_paused(
    engine, store, locked
):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "l": "Locked"}, [("hook", "l")]))
    with capture_logs() as logs:
        first = await engine.push("f", "hook", {"n": 1})
        second = await engine.push("f", "hook", {"n": 2})
        await engine.wait_idle("f")  # parked messages wait for a person, not for wait_idle

    assert await store.list_dead_letters() == []
    assert [e.correlation_id for e in engine.parked("f")] == [first, second]
    assert engine.status("f") == "paused"
    reason = engine.pause_reason("f")
    assert reason is not None
    assert "'l'" in reason
    assert "acme:pinterest account 'flowmixer_demo' needs to be connected again" in reason
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["flow paused"]


async def test_a_paused_flow_still_queues_webhook_events(engine, locked):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "l": "Locked"}, [("hook", "l")]))
    await engine.push("f", "hook", 1)
    await engine.wait_idle("f")
    await engine.push("f", "hook", 2)
    await engine.wait_idle("f")

    assert engine.status("f") == "paused"
    assert [e.payload for e in engine.parked("f")] == [1, 2]


async def test_resuming_delivers_the_parked_messages_exactly_once(engine, outputs, locked):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "l": "Locked"}, [("hook", "l")]))
    for n in range(3):
        await engine.push("f", "hook", n)
    await engine.wait_idle("f")
    locked.authorized = True

    assert await engine.resume_flow("f") == 3
    await engine.wait_idle("f")

    assert locked.delivered == [0, 1, 2]
    assert [o.payload for o in outputs] == [0, 1, 2]
    assert (engine.status("f"), engine.pause_reason("f"), engine.parked("f")) == (
        "running",
        None,
        [],
    )
    with pytest.raises(EngineError, match="is running, not paused"):
        await engine.resume_flow("f")


async def test_a_paused_flow_stops_polling_until_it_is_resumed(store, outputs, locked):
    kit.Counter.ticks_running = 0
    flow = kit.plan("f", {"poll": "Counter", "l": "Locked"}, [("poll", "l")], tick={"poll": 0.005})
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(flow)
        await kit.eventually(lambda: engine.status("f") == "paused")
        await asyncio.sleep(0.01)  # a tick already running may finish
        ticks = engine.stats("f")["poll"].ticks
        await asyncio.sleep(0.05)
        assert engine.stats("f")["poll"].ticks == ticks

        locked.authorized = True
        await engine.resume_flow("f")
        await kit.eventually(lambda: engine.stats("f")["poll"].ticks > ticks + 2)

    delivered = [m["count"] for m in locked.delivered]
    assert sorted(delivered) == list(range(1, len(delivered) + 1))  # each once, none lost


async def test_stopping_a_paused_flow_dead_letters_its_parked_messages_with_the_reason(
    engine, store, locked
):
    await engine.start_flow(kit.plan("f", {"hook": "Hook", "l": "Locked"}, [("hook", "l")]))
    event_id = await engine.push("f", "hook", "kept")
    await engine.wait_idle("f")
    await engine.stop_flow("f")

    [letter] = await store.list_dead_letters()
    assert (letter.envelope.correlation_id, letter.error_type) == (event_id, "ReauthorizeError")
    assert "waited for its account to be re-authorized" in letter.error
    assert letter.error.endswith(
        "needs to be connected again (the service refused to refresh its token)"
    )


def _calling(flow_id: str, service: str) -> FlowPlan:
    """A webhook into a Locked component whose manifest calls ``service``."""
    flow = kit.plan(flow_id, {"hook": "Hook", "l": "Locked"}, [("hook", "l")])
    node = flow.nodes["l"]
    manifest = node.manifest.model_copy(update={"auth": AuthRequirement(service=service)})
    return replace(flow, nodes={**flow.nodes, "l": replace(node, manifest=manifest)})


async def test_resuming_a_service_resumes_only_the_paused_flows_that_call_it(
    store, outputs, locked
):
    async with Engine(store, on_output=outputs.append, credentials=lambda m: "token") as engine:
        for flow_id, service in (("a", "acme:pinterest"), ("b", "acme:other")):
            await engine.start_flow(_calling(flow_id, service))
            await engine.push(flow_id, "hook", flow_id)
        await engine.wait_idle()
        locked.authorized = True

        assert await engine.resume_paused("acme:pinterest") == ["a"]
        await engine.wait_idle()
        assert (engine.status("a"), engine.status("b")) == ("running", "paused")
        assert locked.delivered == ["a"]


class SlowStart(kit.Hook):
    """Webhook trigger whose start waits for ``SlowStart.gate``; ``fail`` makes it raise then."""

    gate: asyncio.Event
    calls: list[str]

    async def start(self, context: Any) -> None:
        await SlowStart.gate.wait()
        if context.properties.get("fail"):
            raise RuntimeError("cannot reach the database")
        SlowStart.calls.append("start")

    async def stop(self, context: Any) -> None:
        SlowStart.calls.append("stop")


@pytest.mark.parametrize(
    ("fail", "calls"),
    [(False, ["start", "stop"]), (True, [])],
    ids=["the start succeeds", "the start fails"],
)
async def test_stopping_a_flow_while_it_starts_waits_for_the_start_and_leaves_no_task(
    engine, fail, calls
):
    SlowStart.gate, SlowStart.calls = asyncio.Event(), []
    flow = kit.plan("f", {"hook": "Hook", "e": "Echo"}, [("hook", "e")])
    hook = replace(flow.nodes["hook"], handler=SlowStart, properties={"fail": fail})
    flow = replace(flow, nodes={**flow.nodes, "hook": hook})
    starting = asyncio.ensure_future(engine.start_flow(flow))
    await kit.eventually(lambda: engine.status("f") == "starting")
    stopping = asyncio.ensure_future(engine.stop_flow("f", timeout=0.1))
    await asyncio.sleep(0.02)
    assert not stopping.done()  # it waits for the start to finish
    SlowStart.gate.set()
    results = await asyncio.gather(starting, stopping, return_exceptions=True)

    started = "EngineError" if fail else "NoneType"
    assert [type(r).__name__ for r in results] == [started, "NoneType"]
    assert SlowStart.calls == calls
    assert engine.flows() == []
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("flowmixer:f:")] == []
