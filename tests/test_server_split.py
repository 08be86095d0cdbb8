"""The server with its engine on a loop of its own thread, as ``flowmixer serve`` runs it.

The engine's loop is held by a callback (as a handler calling ``time.sleep`` would hold it)
and released by the test: what answers while it is held answered without it, with no clock
involved.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.envelope import Envelope
from runtime.registry import Registry
from runtime.stores import DeadLetter
from tests.split_kit import serving_split

BROKERS = pytest.mark.parametrize("broker", ["sqlite", "memory"])


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@BROKERS
async def test_hooks_health_and_metrics_answer_while_the_engine_loop_is_held(
    tmp_path: Path, registry: Registry, broker: str
) -> None:
    async with serving_split(tmp_path / "db", registry, broker=broker) as served:
        secret = await served.deploy()
        blocked = served.block_engine_loop()
        try:
            pushed = [
                await served.hook("/hooks/orders/hook", json.dumps({"total": n}), secret)
                for n in (50, 150, 250)
            ]
            async with served.session.get(served.url + "/healthz") as response:
                health = (response.status, await response.json())
            async with served.session.get(served.url + "/metrics?flows=1") as response:
                metrics = (response.status, await response.text())
            held = not blocked.returned.is_set()
        finally:
            blocked.release()
        await served.on_engine(served.ctx.engine.wait_idle("orders"))

    assert held
    assert [status for status, _ in pushed] == [202, 202, 202]
    assert health == (
        200,
        {"status": "ok", "flows": {"starting": 0, "running": 1, "paused": 0, "stopping": 0}},
    )
    assert metrics[0] == 200
    depths = {
        sample.labels["component"]: sample.value
        for family in text_string_to_metric_families(metrics[1])
        if family.name == "flowmixer_queue_depth"
        for sample in family.samples
    }
    assert depths["hook"] == 3  # the events taken while the loop was held count as queued
    routed = {(o.correlation_id, o.port) for o in served.outputs}
    events = [body["eventId"] for _, body in pushed]
    assert routed == {(events[0], "rejected"), (events[1], "out"), (events[2], "out")}


@BROKERS
async def test_events_taken_on_the_front_are_pending_for_wait_idle(
    tmp_path: Path, registry: Registry, broker: str
) -> None:
    async with serving_split(tmp_path / "db", registry, broker=broker) as served:
        secret = await served.deploy()
        blocked = served.block_engine_loop()
        try:
            status, _ = await served.hook("/hooks/orders/hook", '{"total": 500}', secret)
            idle = asyncio.ensure_future(served.on_engine(served.ctx.engine.wait_idle("orders")))
        finally:
            blocked.release()
        await idle

    assert status == 202
    assert [o.port for o in served.outputs] == ["out"]  # wait_idle returned after it was handled


async def test_a_stopped_flow_answers_409_from_the_front_while_the_engine_loop_is_held(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(tmp_path / "db", registry) as served:
        secret = await served.deploy(start=False)
        blocked = served.block_engine_loop()
        try:
            stopped = await served.hook("/hooks/orders/hook", '{"total": 1}', secret)
            unknown = await served.hook("/hooks/orders/big", '{"total": 1}', secret)
            held = not blocked.returned.is_set()
        finally:
            blocked.release()

    assert held
    assert stopped == (409, {"error": "flow 'orders' is not running; start it to accept events"})
    assert unknown[0] == 404


async def test_admin_calls_run_on_the_engine_loop_deploy_start_stop_and_dead_letters(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        status, _ = await served.hook("/hooks/orders/hook", '{"total": 500}', secret)
        await served.on_engine(served.ctx.engine.wait_idle("orders"))
        flow = await served.api("GET", "/api/flows/orders")
        stopped = await served.api("POST", "/api/flows/orders/stop")
        letter = DeadLetter(
            "x", Envelope("orders", "big", "in", {"total": 300}, "e-x"), "?", "E", 1, 1
        )
        await served.ctx.store.add_dead_letter(letter)
        listed = await served.api("GET", "/api/dead-letters?flow=orders")
        retried = await served.api("POST", "/api/dead-letters/x/retry")
        started = await served.api("POST", "/api/flows/orders/start")
        await served.on_engine(served.ctx.engine.wait_idle("orders"))
        dropped = await served.api("DELETE", "/api/dead-letters?flow=orders")
        deleted = await served.api("DELETE", "/api/flows/orders")
        invalid = await served.api("POST", "/api/flows", {"id": "bad", "components": {"x": {}}})

    assert status == 202
    assert flow[0] == 200
    assert flow[1]["stats"]["big"]["received"] == 1
    assert stopped == (200, {"id": "orders", "status": "stopped", "state": "stopped"})
    assert [letter["id"] for letter in listed[1]["deadLetters"]] == ["x"]
    assert retried == (200, {"id": "x", "result": "scheduled"})
    assert started[1]["state"] == "running"
    assert [o.correlation_id for o in served.outputs] == [served.outputs[0].correlation_id, "e-x"]
    assert dropped == (200, {"dropped": 0})
    assert deleted == (200, {"deleted": "orders"})
    assert invalid[0] == 422


async def test_a_body_over_the_limit_gets_413_on_the_front_while_the_engine_loop_is_held(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(tmp_path / "db", registry) as served:
        blocked = served.block_engine_loop()
        try:
            async with served.session.post(
                served.url + "/api/flows",
                data=io.BytesIO(json.dumps({"id": "x", "pad": "x" * (1024 * 1024)}).encode()),
                headers={**served.admin(), "Content-Type": "application/json"},
            ) as response:
                answer = (response.status, await response.json())
            held = not blocked.returned.is_set()
        finally:
            blocked.release()

    assert held  # the body is read on the front, before the handler crosses to the engine
    assert answer == (413, {"error": "the body is larger than the limit of 1 MiB"})
