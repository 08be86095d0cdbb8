"""Quotas shared on a Redis server: what one process spends or hears, every process sees.

Each "process" here is a :class:`Quotas` of its own on the same Redis database, as each engine
of a scale-out has (real child processes are in ``tests/pinterest/test_quota_processes.py``).
The bucket arithmetic of the Lua script is checked against its model with a clock the test
gives; everywhere else the scripts read the server's clock.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.auth.resolution import local_quotas
from runtime.manifest import QuotaRule
from runtime.quota import Quotas, QuotaWaitError, quota_state
from runtime.quota_memory import MemoryQuotaState
from runtime.quota_redis import STALE, RedisQuotaState
from runtime.quota_scripts import ACQUIRE, script
from runtime.registry import Registry
from runtime.settings import Settings
from runtime.stores.sqlite import SQLiteStore
from tests.redis_server import RedisServer, start_server

SERVICE = "test:svc"

Process = Callable[..., Quotas]


def rule(resource: str = "writes", limit: int = 1, window: float = 60, **more: Any) -> QuotaRule:
    return QuotaRule(resource=resource, limit=limit, window=window, **more)


@pytest.fixture
async def process(redis_url: str) -> AsyncIterator[Process]:
    """``process(*rules)``: the Quotas of one more process on the test's Redis database."""
    made: list[Quotas] = []

    def new(*rules: QuotaRule, url: str = redis_url) -> Quotas:
        made.append(Quotas({SERVICE: rules}, state=quota_state(url)))
        return made[-1]

    yield new
    for quotas in made:
        await quotas.aclose()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://:s3cret@127.0.0.1:{port}/0"


# -- one quota for every process ----------------------------------------------------------------


async def test_processes_on_one_server_spend_one_bucket_together(process: Process) -> None:
    limits = rule(limit=3, max_wait=0)
    first = process(limits).gate(SERVICE, "writes", account="cook")
    second = process(limits).gate(SERVICE, "writes", account="cook")

    await first.acquire()
    await first.acquire()
    await second.acquire()

    for gate in (first, second):
        with pytest.raises(QuotaWaitError):
            await gate.acquire()


async def test_an_app_wide_rule_counts_every_account_of_every_process(process: Process) -> None:
    limits = (rule(limit=10, max_wait=0), rule("*", limit=2, scope="app", max_wait=0))

    await process(*limits).gate(SERVICE, "writes", app="a", account="x").acquire()
    await process(*limits).gate(SERVICE, "writes", app="a", account="y").acquire()

    with pytest.raises(QuotaWaitError):
        await process(*limits).gate(SERVICE, "writes", app="a", account="z").acquire()
    await process(*limits).gate(SERVICE, "writes", app="b", account="x").acquire()  # another app


async def test_a_hold_after_a_429_in_one_process_holds_every_process(process: Process) -> None:
    limits = rule(limit=100, max_wait=1)
    refused = process(limits).gate(SERVICE, "writes", account="cook")
    other = process(limits).gate(SERVICE, "writes", account="cook")
    await refused.acquire()

    refused.hold(30)
    refused.release()
    with pytest.raises(QuotaWaitError):
        await refused.acquire()  # its own hold applies to it at once
    with pytest.raises(QuotaWaitError) as held:
        await other.acquire()

    assert held.value.delay is not None
    assert 29 < held.value.delay <= 30


async def test_a_remaining_quota_of_zero_heard_by_one_process_closes_every_process(
    process: Process,
) -> None:
    limits = rule(limit=100, max_wait=1)
    heard = process(limits).gate(SERVICE, "writes", account="cook")
    other = process(limits).gate(SERVICE, "writes", account="cook")
    await heard.acquire()

    heard.observe(limit=5, remaining=0, reset=30)
    heard.release()
    with pytest.raises(QuotaWaitError):
        await heard.acquire()
    with pytest.raises(QuotaWaitError) as closed:
        await other.acquire()

    assert closed.value.delay is not None
    assert 28 < closed.value.delay <= 30


async def test_calls_in_flight_in_other_processes_count_against_what_remains(
    process: Process,
) -> None:
    limits = rule(limit=100, max_wait=0)
    busy = process(limits).gate(SERVICE, "writes", account="cook")
    answered = process(limits).gate(SERVICE, "writes", account="cook")
    await busy.acquire()
    await busy.acquire()  # two calls still unanswered over there

    await answered.acquire()
    answered.observe(limit=10, remaining=2, reset=30)  # the two others may take those two
    answered.release()

    with pytest.raises(QuotaWaitError):
        await answered.acquire()


async def test_a_bucket_and_a_call_in_flight_expire_on_the_server(
    process: Process, redis_url: str
) -> None:
    gate = process(rule(limit=5, window=2)).gate(SERVICE, "writes", account="cook")
    await gate.acquire()

    client = redis.Redis.from_url(redis_url)
    try:
        ttls = {key.decode(): client.pttl(key) for key in client.keys("flowmixer:quota:*")}
    finally:
        client.close()

    [bucket] = [ttl for key, ttl in ttls.items() if '"bucket"' in key]
    [calls] = [ttl for key, ttl in ttls.items() if '"calls"' in key]
    assert 0 < bucket <= 3000, "a bucket is empty again a window after its last call"
    assert 0 < calls <= STALE * 1000


# -- the server away ----------------------------------------------------------------------------


async def test_an_unreachable_server_is_retried_until_max_wait_and_nothing_goes_through(
    process: Process,
) -> None:
    url = closed_port_url()
    gate = process(rule(limit=100, max_wait=0.5), url=url).gate(SERVICE, "writes", account="x")
    loop = asyncio.get_running_loop()

    start = loop.time()
    with pytest.raises(QuotaWaitError) as raised:
        await gate.acquire()

    assert loop.time() - start >= 0.3, "it waited and asked again before giving up"
    assert "Redis server is unreachable" in str(raised.value)
    assert "s3cret" not in str(raised.value), "the URL and its password are not told"
    assert "127.0.0.1" not in str(raised.value)
    assert raised.value.delay is not None
    assert raised.value.delay > 0


@pytest.fixture
def own_server() -> Any:
    server = start_server()
    yield server
    server.stop()


async def test_a_call_waiting_for_a_restarting_server_goes_once_it_answers(
    process: Process, own_server: RedisServer
) -> None:
    quotas = process(rule(limit=100, max_wait=30), url=own_server.url(0))
    gate = quotas.gate(SERVICE, "writes", account="x")
    await gate.acquire()
    gate.release()
    gate.hold(0.2)  # said while the server was there; kept while it is away

    own_server.kill()
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0.5)
    assert not waiting.done(), "no call goes while the quota cannot be checked"
    own_server.start()
    waited = await asyncio.wait_for(waiting, 20)

    assert waited >= 0.4


def test_a_redis_url_selects_the_shared_state_and_none_the_memory() -> None:
    assert isinstance(quota_state(None), MemoryQuotaState)
    assert isinstance(quota_state("redis://127.0.0.1:1/0"), RedisQuotaState)


# -- the bucket arithmetic ----------------------------------------------------------------------

TEST_CLOCK = "local function now() return tonumber(ARGV[#ARGV]) end\n"


class ModelBucket:
    """The bucket of runtime.quota_memory: ``limit`` calls draining at ``limit/window``/s."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.rate = limit, limit / window
        self.level, self.checked = 0.0, 0.0

    def wait(self, now: float) -> float:
        level = max(0.0, self.level - max(0.0, now - self.checked) * self.rate)
        excess = level + 1 - self.limit
        if excess > 1e-9:
            return excess / self.rate
        self.level, self.checked = level + 1, now
        return 0.0


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 20),
    window=st.floats(0.1, 100),
    steps=st.lists(st.floats(0, 5), min_size=1, max_size=40),
)
def test_the_scripts_bucket_matches_its_model_and_never_exceeds_its_rate(
    redis_server: RedisServer, limit: int, window: float, steps: list[float]
) -> None:
    client = redis.Redis.from_url(redis_server.url(15))
    acquire = client.register_script(script(ACQUIRE, clock=TEST_CLOCK))
    tag = uuid.uuid4().hex
    keys = [f"test:{{{tag}}}:window", f"test:{{{tag}}}:calls", f"test:{{{tag}}}:bucket"]
    model = ModelBucket(limit, window)
    now = 1_780_000_000.0  # an epoch time, as the server's clock gives
    admitted: list[float] = []
    try:
        for n, step in enumerate(steps):
            now += step * window / 10
            args = [0, 1, f"call-{n}", 10**9, 60, limit, repr(window), repr(now)]
            wait = float(acquire(keys=keys, args=args))
            assert wait == pytest.approx(model.wait(now), abs=1e-6)
            if wait == 0:
                admitted.append(now)
    finally:
        client.delete(*keys)
        client.close()

    rate = limit / window
    for i, first in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - first
            assert j - i + 1 <= limit + rate * span + 1e-6, "a burst of limit, then limit/window"


async def test_run_and_call_keep_their_quotas_on_the_redis_server_of_the_settings(
    redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, redis_url=redis_url)
    settings.ensure_home()
    async with (
        await SQLiteStore.open(settings.db_path) as store,
        local_quotas(settings, Registry.load(), store) as quotas,
    ):
        gate = quotas.gate("acme:pinterest", "org_write", account="cook")
        await gate.acquire()
        gate.release()

    client = redis.Redis.from_url(redis_url)
    try:
        keys = sorted(key.decode() for key in client.keys("flowmixer:quota:*"))
    finally:
        client.close()
    assert isinstance(quotas.state, RedisQuotaState)
    assert any('"bucket","org_write",100,60.0,"account","","cook"' in key for key in keys)
