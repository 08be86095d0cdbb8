"""LazyEvent: asyncio.Event's behaviour, with no waiter storage until someone waits."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from runtime.lazy_event import LazyEvent


def test_a_new_event_is_unset_and_holds_no_waiter_list():
    event = LazyEvent()
    assert not event.is_set()
    assert event._waiters is None


async def test_set_wakes_every_waiter_and_a_set_event_returns_at_once():
    event = LazyEvent()
    waiting = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiting)
    event.set()
    assert await asyncio.gather(*waiting) == [True, True, True]
    assert await asyncio.wait_for(event.wait(), 1) is True
    assert event._waiters is None  # the list goes once nobody waits


async def test_a_cancelled_waiter_leaves_the_others_waiting_and_no_list_behind():
    event = LazyEvent()
    first = asyncio.ensure_future(event.wait())
    second = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    assert first.cancelled()
    assert not second.done()
    event.set()
    assert await second is True
    assert event._waiters is None


async def test_clear_makes_the_next_wait_block_until_the_next_set():
    event = LazyEvent()
    event.set()
    event.clear()
    waiting = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    event.set()
    assert await waiting is True


@given(st.lists(st.sampled_from(["set", "clear"]), max_size=20))
def test_is_set_follows_the_last_set_or_clear_like_asyncio_event(steps):
    lazy, plain = LazyEvent(), asyncio.Event()
    for step in steps:
        getattr(lazy, step)()
        getattr(plain, step)()
        assert lazy.is_set() == plain.is_set()
