"""The quota contract: what a gate promises, kept alike in memory and on a Redis server.

Every test runs against both states (:mod:`runtime.quota_memory`, :mod:`runtime.quota_redis` on
the throwaway ``redis_url`` server) with the same figures. Waits are real but short (windows of
a fraction of a second); what is asserted is who waits, in which order and at least how long,
never how fast anything ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runtime.errors import RetryError
from runtime.manifest import QuotaRule
from runtime.quota import Quotas, QuotaWaitError, quota_state
from tests.redis_server import fresh_database

SERVICE = "test:svc"

MakeQuotas = Callable[..., Quotas]


def rule(resource: str = "writes", limit: int = 1, window: float = 60, **more: Any) -> QuotaRule:
    return QuotaRule(resource=resource, limit=limit, window=window, **more)


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[MakeQuotas]:
    """``make(*rules)``: the Quotas of a process with ``rules`` for ``test:svc``; each process
    made by one test shares the state of the others (one Redis database), or has its own."""
    url = None
    if request.param == "redis":
        url = await fresh_database(request.getfixturevalue("redis_server"))
    made: list[Quotas] = []

    def new(*rules: QuotaRule) -> Quotas:
        made.append(Quotas({SERVICE: rules}, state=quota_state(url)))
        return made[-1]

    yield new
    for quotas in made:
        await quotas.aclose()


# -- bursts and the steady rate ----------------------------------------------------------------


async def test_a_fresh_bucket_lets_its_whole_limit_through_at_once_then_one_per_interval(
    make: MakeQuotas,
) -> None:
    gate = make(rule(limit=5, window=60, max_wait=0)).gate(SERVICE, "writes", account="x")

    burst = [await gate.acquire() for _ in range(5)]
    with pytest.raises(QuotaWaitError) as raised:
        await gate.acquire()

    assert burst == [0.0] * 5
    assert raised.value.delay is not None
    assert 11.9 < raised.value.delay <= 12, "the next call goes when one call has drained"


async def test_a_steady_stream_gets_the_limit_per_window_and_no_more(make: MakeQuotas) -> None:
    limit, window, calls = 4, 0.2, 12
    gate = make(rule(limit=limit, window=window, max_wait=5)).gate(SERVICE, "writes", account="x")
    loop = asyncio.get_running_loop()

    start = loop.time()
    waits = [await gate.acquire() for _ in range(calls)]
    elapsed = loop.time() - start

    assert waits[:limit] == [0.0] * limit
    assert all(w > 0 for w in waits[limit:])
    assert elapsed >= (calls - limit) * window / limit * 0.95, "never faster than limit/window"


# -- keys ------------------------------------------------------------------------------------


async def test_accounts_and_apps_each_have_their_own_limiters(make: MakeQuotas) -> None:
    q = make(rule(max_wait=0), rule("*", limit=2, scope="app", max_wait=0))

    await q.gate(SERVICE, "writes", app="a", account="x").acquire()
    with pytest.raises(QuotaWaitError):
        await q.gate(SERVICE, "writes", app="a", account="x").acquire()
    await q.gate(SERVICE, "writes", app="a", account="y").acquire()  # another account
    with pytest.raises(QuotaWaitError):  # the app's 2 calls are spent, whoever makes the third
        await q.gate(SERVICE, "writes", app="a", account="z").acquire()
    await q.gate(SERVICE, "writes", app="b", account="x").acquire()  # another app


async def test_a_rule_applies_to_its_resource_and_star_to_every_resource(make: MakeQuotas) -> None:
    q = make(rule(max_wait=0), rule("*", limit=2, max_wait=0))

    await q.gate(SERVICE, "writes", account="x").acquire()
    await q.gate(SERVICE, "reads", account="x").acquire()  # "writes" does not limit reads
    with pytest.raises(QuotaWaitError):
        await q.gate(SERVICE, "reads", account="x").acquire()  # but "*" counts both
    assert q.gate(SERVICE, "reads", account="x").rules == (rule("*", limit=2, max_wait=0),)


async def test_a_service_without_rules_is_not_held_back(make: MakeQuotas) -> None:
    gate = make().gate("other:svc", "writes", account="x")

    waits = [await gate.acquire() for _ in range(50)]

    assert waits == [0.0] * 50
    assert gate.max_wait == 60


# -- order and the longest wait -----------------------------------------------------------------


async def test_waiters_are_served_in_the_order_they_arrived(make: MakeQuotas) -> None:
    gate = make(rule(limit=1, window=0.05, max_wait=10)).gate(SERVICE, "writes", account="x")
    served: list[int] = []

    async def call(n: int) -> None:
        await gate.acquire()
        served.append(n)
        gate.release()

    first = [asyncio.create_task(call(n)) for n in range(5)]
    await asyncio.sleep(0.07)  # newcomers arrive while the first ones wait
    later = [asyncio.create_task(call(n)) for n in range(5, 8)]
    await asyncio.gather(*first, *later)

    assert served == list(range(8))


async def test_a_wait_longer_than_max_wait_is_not_waited_but_raised_with_its_delay(
    make: MakeQuotas,
) -> None:
    gate = make(rule(limit=1, window=60, max_wait=5)).gate(SERVICE, "writes", account="cook")
    await gate.acquire()

    with pytest.raises(QuotaWaitError) as raised:
        await gate.acquire()

    assert isinstance(raised.value, RetryError)
    assert 59 < raised.value.delay <= 60  # type: ignore[operator]
    assert "writes quota of test:svc of account 'cook'" in str(raised.value)
    assert "maxWait 5 s" in str(raised.value)


# -- what the service said ----------------------------------------------------------------------


async def test_a_remaining_quota_of_zero_closes_the_gate_until_the_reset(make: MakeQuotas) -> None:
    gate = make().gate(SERVICE, "writes", account="x")
    await gate.acquire()
    gate.observe(limit=3, remaining=0, reset=0.3)
    gate.release()

    waited = await gate.acquire()
    gate.release()
    after_the_reset = [await gate.acquire() for _ in range(3)]

    assert waited >= 0.25
    assert after_the_reset == [0.0, 0.0, 0.0], "a new window has the whole limit"


async def test_calls_still_unanswered_are_counted_against_what_remains(make: MakeQuotas) -> None:
    gate = make(rule(limit=100, max_wait=0)).gate(SERVICE, "writes", account="x")
    for _ in range(3):
        await gate.acquire()
    gate.observe(limit=10, remaining=2, reset=30)  # the two others may take those two
    gate.release()

    with pytest.raises(QuotaWaitError):
        await gate.acquire()


async def test_a_hold_makes_every_caller_wait(make: MakeQuotas) -> None:
    gate = make().gate(SERVICE, "writes", account="x")
    gate.hold(0.3)

    waits = await asyncio.gather(gate.acquire(), gate.acquire())

    assert min(waits) >= 0.25


async def test_an_answer_already_in_flight_does_not_reopen_a_held_gate(make: MakeQuotas) -> None:
    gate = make(rule(limit=100, max_wait=0)).gate(SERVICE, "writes", account="x")
    await gate.acquire()
    gate.hold(30)  # a 429 told everyone to wait
    gate.observe(limit=100, remaining=50, reset=40)  # an answer sent before the 429
    gate.release()

    with pytest.raises(QuotaWaitError) as held:
        await gate.acquire()

    assert 29 < held.value.delay <= 30  # type: ignore[operator]


async def test_a_wait_that_grew_past_max_wait_asks_only_for_what_is_left(make: MakeQuotas) -> None:
    gate = make(rule(limit=100, max_wait=0.5)).gate(SERVICE, "writes", account="x")
    gate.hold(0.4)
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0.3)
    gate.hold(0.3)  # another 429 meanwhile: 0.6 s in all, over maxWait

    with pytest.raises(QuotaWaitError) as raised:
        await waiting

    assert raised.value.delay is not None
    assert raised.value.delay <= 0.31  # when the gate opens, not the whole wait since the start


async def test_a_hold_longer_than_max_wait_is_raised_at_once(make: MakeQuotas) -> None:
    gate = make(rule(limit=100, max_wait=1)).gate(SERVICE, "writes", account="x")
    gate.hold(30)

    with pytest.raises(QuotaWaitError) as raised:
        await gate.acquire()

    assert 29 < raised.value.delay <= 30  # type: ignore[operator]


async def test_a_caller_cancelled_while_it_waits_holds_no_one_up(make: MakeQuotas) -> None:
    gate = make(rule(limit=1, window=0.3, max_wait=5)).gate(SERVICE, "writes", account="x")
    await gate.acquire()
    gate.release()
    cancelled = asyncio.ensure_future(gate.acquire())
    after = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0.05)

    cancelled.cancel()
    await asyncio.wait_for(after, 5)

    assert cancelled.cancelled()
    assert after.done(), "the caller behind the cancelled one got its turn"
