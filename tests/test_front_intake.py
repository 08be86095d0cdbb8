"""Bounded intake and idempotency keys on the server's front, its engine on a loop of its own.

The engine's loop is held by a callback (as a blocking handler would hold it) and released by
the test, so what answers while it is held answered without it. The bound is 4: from the
front's thread three places can be reserved (one is left for a publish the engine's loop may
be making); the last is reserved on the engine's loop for an event waiting on the front.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from runtime.registry import Registry
from runtime.server.intake import HookIntake
from tests.split_kit import SplitServed, serving_split

BROKERS = pytest.mark.parametrize("broker", ["sqlite", "memory"])
HOOK = "/hooks/orders/hook"
BOUND = 4


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


async def send(
    served: SplitServed, secret: str, total: int, key: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"X-Flowmixer-Hook-Secret": secret}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with served.session.post(
        served.url + HOOK, json={"total": total}, headers=headers
    ) as response:
        return response.status, await response.json(), dict(response.headers)


async def kept_rows(served: SplitServed) -> tuple[int, list[str]]:
    """The messages the durable broker keeps, and the events hook keys name."""

    def read(conn: Any) -> tuple[int, list[str]]:
        messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        keys = [row[0] for row in conn.execute("SELECT event_id FROM hook_keys")]
        return int(messages), keys

    result: tuple[int, list[str]] = await served.ctx.store.with_connection(read)
    return result


@BROKERS
async def test_a_full_flow_answers_503_after_the_hook_wait_on_the_front_committing_nothing(
    tmp_path: Path, registry: Registry, broker: str
) -> None:
    intake = HookIntake(wait=0.2)
    async with serving_split(
        tmp_path / "db", registry, broker=broker, queue_size=BOUND, intake=intake
    ) as served:
        secret = await served.deploy()
        blocked = served.block_engine_loop()
        try:
            taken = [await send(served, secret, 500 + n) for n in range(BOUND - 1)]
            refused = await send(served, secret, 999, key="order-9")
            held = not blocked.returned.is_set()
            rows_while_held = await kept_rows(served)
        finally:
            blocked.release()
        await served.on_engine(served.ctx.engine.wait_idle("orders"))
        rows_after = await kept_rows(served)

    assert held  # refused on the front, the engine's loop still held
    assert [status for status, _, _ in taken] == [202] * (BOUND - 1)
    status, body, headers = refused
    assert (status, headers["Retry-After"]) == (503, "1")
    assert "no room" in body["error"]
    # Nothing of the refused event was committed: no row, no key, no output.
    if broker == "sqlite":
        assert rows_while_held == (BOUND - 1, [])
    assert rows_after == (0, [])
    assert sorted(o.payload["total"] for o in served.outputs) == [500, 501, 502]


@BROKERS
async def test_an_event_waiting_on_the_front_takes_the_room_the_engine_loop_frees(
    tmp_path: Path, registry: Registry, broker: str
) -> None:
    async with serving_split(
        tmp_path / "db", registry, broker=broker, queue_size=BOUND, intake=HookIntake(wait=30)
    ) as served:
        secret = await served.deploy()
        blocked = served.block_engine_loop()
        try:
            taken = [await send(served, secret, 500 + n) for n in range(BOUND - 1)]
            waiting = [asyncio.ensure_future(send(served, secret, 600 + n)) for n in range(3)]
            async with served.session.get(served.url + "/healthz") as response:
                health = response.status  # the front answers meanwhile
            answered_while_held = any(w.done() for w in waiting)
        finally:
            blocked.release()
        later = await asyncio.gather(*waiting)
        await served.on_engine(served.ctx.engine.wait_idle("orders"))

    assert health == 200
    assert not answered_while_held  # the room frees on the engine's loop only
    assert [s for s, _, _ in taken + later] == [202] * (BOUND + 2)
    totals = sorted(o.payload["total"] for o in served.outputs)
    assert totals == [500, 501, 502, 600, 601, 602]


async def test_the_last_place_of_the_bound_is_given_to_a_waiting_event_and_no_more(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(
        tmp_path / "db", registry, queue_size=BOUND, intake=HookIntake(wait=30)
    ) as served:
        secret = await served.deploy()
        runner = served.ctx.engine.runner_of("orders")
        assert runner is not None
        hook = runner.nodes["hook"]
        await served.on_engine(hook.stop_workers())  # nothing takes from the channel now
        taken = [await send(served, secret, 500 + n) for n in range(BOUND)]
        extra = asyncio.ensure_future(send(served, secret, 999))
        await asyncio.sleep(0.3)  # time enough for a place to be given, were one free
        depth = hook.channel.depth()
        extra_answered = extra.done()
        stopped, _ = await served.api("POST", "/api/flows/orders/stop")
        refused = await extra

    assert [s for s, _, _ in taken] == [202] * BOUND  # the fourth through the engine's loop
    assert depth == BOUND  # exactly the bound
    assert not extra_answered
    # A stop refuses the event still waiting, rather than leaving it to its wait.
    assert stopped == 200
    assert refused[:2] == (409, {"error": "flow 'orders' is stopping; it accepts no events"})


@BROKERS
async def test_idempotency_keys_are_checked_and_committed_on_the_front_while_the_engine_is_held(
    tmp_path: Path, registry: Registry, broker: str
) -> None:
    async with serving_split(tmp_path / "db", registry, broker=broker) as served:
        secret = await served.deploy()
        blocked = served.block_engine_loop()
        try:
            first = await send(served, secret, 500, key="order-1")
            repeat = await send(served, secret, 500, key="order-1")
            together = await asyncio.gather(
                *(send(served, secret, 700, key="order-2") for _ in range(5))
            )
            rows = await kept_rows(served)
            held = not blocked.returned.is_set()
        finally:
            blocked.release()
        await served.on_engine(served.ctx.engine.wait_idle("orders"))

    assert held
    assert first[0] == 202
    assert "Idempotent-Replayed" not in first[2]
    assert (repeat[0], repeat[1], repeat[2].get("Idempotent-Replayed")) == (202, first[1], "true")
    together_ids = {body["eventId"] for _, body, _ in together}
    assert len(together_ids) == 1
    assert sorted(h.get("Idempotent-Replayed", "") for _, _, h in together) == [""] + ["true"] * 4
    assert sorted(rows[1]) == sorted([first[1]["eventId"], *together_ids])
    if broker == "sqlite":  # each key was committed with its event's row
        assert rows[0] == 2
    assert sorted(o.payload["total"] for o in served.outputs) == [500, 700]


async def test_a_key_refused_for_a_full_flow_is_accepted_once_there_is_room(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(
        tmp_path / "db", registry, queue_size=BOUND, intake=HookIntake(wait=0.1)
    ) as served:
        secret = await served.deploy()
        blocked = served.block_engine_loop()
        try:
            for n in range(BOUND - 1):
                await send(served, secret, 500 + n)
            refused = await send(served, secret, 900, key="order-3")
        finally:
            blocked.release()
        await served.on_engine(served.ctx.engine.wait_idle("orders"))
        again = await send(served, secret, 900, key="order-3")
        await served.on_engine(served.ctx.engine.wait_idle("orders"))

    assert refused[0] == 503
    assert again[0] == 202
    assert "Idempotent-Replayed" not in again[2]
    assert sorted(o.payload["total"] for o in served.outputs) == [500, 501, 502, 900]
