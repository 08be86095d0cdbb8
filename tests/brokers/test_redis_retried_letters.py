"""A dead letter retried on the Redis broker is delivered again, once: the mark that makes a
put publish once (``...:sent:ID``) must not swallow the retry of a message it already saw."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from runtime.brokers.redelivery import redelivering
from runtime.brokers.redis import RedisBroker
from runtime.brokers.redis_channel import RedisChannel
from runtime.component import Component, Context
from runtime.engine import Engine, Output
from runtime.envelope import Envelope
from runtime.errors import CancelError
from runtime.stores.sqlite import SQLiteStore
from tests import kit


class RefusingHook(Component):
    """A webhook trigger that refuses its events while ``refusing`` (a dead letter at once)."""

    refusing = True
    calls = 0

    async def receive(self, context: Context) -> None:
        RefusingHook.calls += 1
        if RefusingHook.refusing:
            raise CancelError("refused")
        await context.send(context.message)


@pytest.fixture
async def engine(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Engine, list[Output]]]:
    RefusingHook.refusing, RefusingHook.calls = True, 0
    store = await SQLiteStore.open(tmp_path / "flowmixer.db")
    outputs: list[Output] = []
    broker = RedisBroker(redis_url, store, visibility_timeout=2.0)
    async with Engine(store, broker=broker, on_output=outputs.append) as running:
        flow = kit.plan("f", {"hook": "Hook", "out": "Echo"}, [("hook", "out")])
        hook = replace(flow.nodes["hook"], handler=RefusingHook)
        await running.start_flow(replace(flow, nodes={**flow.nodes, "hook": hook}))
        yield running, outputs
    await broker.close()
    await store.close()


async def test_a_retried_dead_letter_of_a_webhook_trigger_is_delivered_again_exactly_once(
    engine: tuple[Engine, list[Output]],
) -> None:
    running, outputs = engine
    await running.push("f", "hook", {"n": 1})
    await kit.eventually(lambda: RefusingHook.calls == 1, timeout=10)
    await running.wait_idle("f")
    [letter] = await running.store.list_dead_letters()

    RefusingHook.refusing = False
    assert await running.retry_dead_letter(letter.id) == "requeued"
    await kit.eventually(lambda: len(outputs) == 1, timeout=10)
    await running.wait_idle("f")

    assert [o.payload for o in outputs] == [{"n": 1}]
    assert RefusingHook.calls == 2
    assert await running.store.list_dead_letters() == []


async def test_a_dead_letter_retried_twice_is_delivered_each_time(
    engine: tuple[Engine, list[Output]],
) -> None:
    running, outputs = engine
    await running.push("f", "hook", {"n": 1})
    await kit.eventually(lambda: RefusingHook.calls == 1, timeout=10)
    await running.wait_idle("f")
    [letter] = await running.store.list_dead_letters()
    assert await running.retry_dead_letter(letter.id) == "requeued"
    await kit.eventually(lambda: RefusingHook.calls == 2, timeout=10)
    await running.wait_idle("f")
    [again] = await running.store.list_dead_letters()

    RefusingHook.refusing = False
    assert await running.retry_dead_letter(again.id) == "requeued"
    await kit.eventually(lambda: len(outputs) == 1, timeout=10)
    await running.wait_idle("f")
    await asyncio.sleep(0)

    assert [o.payload for o in outputs] == [{"n": 1}]
    assert RefusingHook.calls == 3


async def test_puts_of_one_letters_retry_publish_once_and_a_later_letters_retry_again(
    redis_url: str, tmp_path: Path
) -> None:
    store = await SQLiteStore.open(tmp_path / "flowmixer.db")
    broker = RedisBroker(redis_url, store, visibility_timeout=2.0)
    try:
        channel = cast(RedisChannel, broker.channel("f", "c", maxsize=100))
        await channel.restore()
        sent = Envelope("f", "c", "in", {"n": 1}, "corr-1")
        await channel.put(sent)  # the first delivery
        with redelivering("letter-1"):  # two processes requeue the same letter at once
            await asyncio.gather(channel.put(sent), channel.put(sent))
        with redelivering("letter-2"):  # the retry failed again: a new letter, retried
            await channel.put(sent)

        got = [await asyncio.wait_for(channel.get(), 10) for _ in range(3)]
        assert {envelope.id for envelope in got} == {sent.id}
        # Read, not yet acknowledged: every entry the stream holds is one of these three.
        assert await broker._link.client.xlen(channel.keys[0]) == 3
    finally:
        await broker.close()
        await store.close()
