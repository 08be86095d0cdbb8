"""Room another thread reserves in a channel (``reserve_from_thread``): it counts against the
bound, and the bound holds while the channel's loop publishes at the same time."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.memory import MemoryChannel
from runtime.brokers.sqlite import SQLiteChannel
from runtime.envelope import Envelope
from runtime.stores.sqlite import SQLiteStore

T = TypeVar("T")
Channel = MemoryChannel | SQLiteChannel
KINDS = pytest.mark.parametrize("kind", ["memory", "sqlite"])


@contextlib.asynccontextmanager
async def channel_of(kind: str, size: int) -> AsyncIterator[Channel]:
    if kind == "memory":
        yield MemoryChannel(size)
        return
    async with await SQLiteStore.open(":memory:") as store:
        logger = structlog.get_logger("test")
        yield SQLiteChannel(GroupCommit(store, logger=logger), "f", "c", size, logger)


def run_with(kind: str, size: int, scenario: Callable[[Channel], Awaitable[T]]) -> T:
    async def main() -> T:
        async with channel_of(kind, size) as channel:
            return await scenario(channel)

    return asyncio.run(main())


def envelope(n: int) -> Envelope:
    return Envelope("f", "c", "in", n, f"e-{n}")


def arrive(channel: Channel, n: int) -> None:
    channel.arrive_from_thread(envelope(n), n)


def take(channel: Channel) -> int | None:
    got = channel.get_nowait()
    return None if got is None else int(got.payload)


def publish(channel: Channel, n: int) -> None:
    """What the channel's own loop does to publish without waiting."""
    if isinstance(channel, MemoryChannel):
        channel.offer(envelope(n))
    elif channel._has_room():  # a put: room reserved, committed, then ready
        channel._reserved += 1
        channel._arrived(envelope(n), n)


OPS = st.lists(st.sampled_from(["reserve", "arrive", "cancel", "take", "publish"]), max_size=60)


@KINDS
@settings(deadline=None, max_examples=100)
@given(size=st.integers(1, 6), ops=OPS)
def test_reserved_room_counts_against_the_bound_and_what_arrives_is_taken_in_order(
    kind: str, size: int, ops: list[str]
) -> None:
    async def scenario(channel: Channel) -> tuple[list[int], list[int]]:
        reserved, arrived, taken, published = 0, [], [], 0
        for op in ops:
            if op == "reserve":
                reserved += channel.reserve_from_thread()
            elif op == "arrive" and reserved:
                reserved -= 1
                arrived.append(len(arrived))
                arrive(channel, arrived[-1])
            elif op == "cancel" and reserved:
                reserved -= 1
                channel.cancel_from_thread()
            elif op == "publish":
                before = channel._held()
                publish(channel, 1000 + published)
                published += channel._held() - before
            elif op == "take" and (n := take(channel)) is not None:
                taken.append(n)
            assert channel._held() <= size
            assert channel.depth() == len(arrived) + published - len(taken) + reserved
        while (n := take(channel)) is not None:
            taken.append(n)
        return arrived, [n for n in taken if n < 1000]

    arrived, taken = run_with(kind, size, scenario)
    assert taken == arrived


@KINDS
def test_reservations_from_a_thread_racing_publishes_on_the_loop_keep_the_bound(kind: str) -> None:
    async def scenario(channel: Channel) -> tuple[int, list[int]]:
        loop = asyncio.get_running_loop()
        done = threading.Event()
        over: list[int] = []
        reservations = 0

        def front() -> None:
            nonlocal reservations
            while not done.is_set():
                if channel.reserve_from_thread():
                    reservations += 1
                    loop.call_soon_threadsafe(arrive, channel, -1)

        thread = threading.Thread(target=front)
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # the threads take turns as often as they can
        thread.start()
        try:
            n = 0
            # At least 20,000 publishes, and on until the thread has raced some in: on a busy
            # machine it may not get a turn within the first 20,000 (bounded all the same).
            while n < 20_000 or (reservations == 0 and n < 2_000_000):
                n += 1
                publish(channel, n)
                if channel._held() > 8:
                    over.append(channel._held())
                if n % 3 == 0:
                    take(channel)
                if n % 100 == 0:
                    await asyncio.sleep(0)  # lets the hand-overs in
        finally:
            done.set()
            thread.join()
            sys.setswitchinterval(interval)
        await asyncio.sleep(0)
        return reservations, over

    reservations, over = run_with(kind, 8, scenario)
    assert reservations > 0
    assert over == []
