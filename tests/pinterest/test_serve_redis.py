"""``flowmixer serve --redis URL --database postgresql://...`` as real processes against the
emulator: webhook -> CreatePin with the work on Redis Streams and the truth in PostgreSQL.

Every accepted (202) event ends as exactly one pin or one dead letter: with one process; when
one of two processes on the same Redis and database is killed with SIGKILL mid-stream (the
other takes its messages once they are idle past the visibility timeout, here 2 s); and when
the Redis server itself is killed and started again mid-run (webhooks answer 503 while it is
away, the server reconnects and goes on).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from components.pinterest.emulator import FaultPlan, RateLimits
from runtime.auth import generate_key
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.test_faults import (
    FLOW,
    LIMIT,
    QUOTA_ENV,
    WINDOW,
    assert_each_once,
    pins_by_title,
    push_all,
    settle,
    title,
)
from tests.redis_server import RedisServer, fresh_database, start_server
from tests.serve_process import Admin, ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

VISIBILITY = "2"  # seconds: a killed process's messages are taken by another after this
KEY = generate_key()  # the same in every process on the database
LIMITS = RateLimits(per_user={"org_write": LIMIT, "org_read": 1000}, window_seconds=WINDOW)


def serve_env(harness: EmulatorHarness, postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        "PINTEREST_ACCESS_TOKEN": harness.token(),
        "PINTEREST_API_BASE": harness.api,
        "FLOWMIXER_DATABASE_URL": postgres_url,
        "FLOWMIXER_REDIS_URL": redis_url,
        "FLOWMIXER_REDIS_VISIBILITY": VISIBILITY,
        "FLOWMIXER_SECRET_KEY": KEY,
    } | QUOTA_ENV


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    """A Redis server of this test alone: it is killed and started again."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


async def wait_for_pins(harness: EmulatorHarness, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # the emulator's pins are polled: it signals nothing
        if len(pins_by_title(harness)) >= count:
            return
        await asyncio.sleep(0.05)


async def health(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/healthz") as response:
        body: dict[str, Any] = await response.json()
        # 503 exactly while something is unreachable
        assert response.status == (200 if body["status"] == "ok" else 503), body
        return body


async def test_one_serve_process_on_redis_and_postgresql_pins_each_of_500_events_once(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    events = 500
    redis_url = await fresh_database(redis_server)
    async with make_emulator(clock=time.time, rate_limits=LIMITS) as harness:
        env = serve_env(harness, postgres_url, redis_url)
        server = ServeProcess(tmp_path / "home", env)
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await server.start())
            try:
                secret = await admin.deploy(FLOW)
                statuses = await push_all(admin, secret, range(events))
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
            finally:
                await server.stop()
        peak = harness.emu.stats.peak("org_write", user=harness.emu.signed_in_user)

    assert len(accepted) == events
    assert_each_once(accepted, pins, letters, set())
    assert not letters
    assert peak <= LIMIT


async def test_a_serve_process_killed_mid_stream_leaves_its_work_to_another_on_the_same_redis(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_server: RedisServer
) -> None:
    events = 500
    redis_url = await fresh_database(redis_server)
    # A little latency, so that the kill finds calls in flight and messages in hand.
    faults = FaultPlan(latency_ms=5, jitter_ms=20, seed=13)
    async with make_emulator(clock=time.time, rate_limits=LIMITS, faults=faults) as harness:
        env = serve_env(harness, postgres_url, redis_url)
        first = ServeProcess(tmp_path / "first", env)
        second = ServeProcess(tmp_path / "second", env)
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await first.start())
            try:
                secret = await admin.deploy(FLOW)
                # The second starts the deployed flow from the database: both read the streams.
                other = Admin(session, await second.start())
                pushing = asyncio.create_task(push_all(admin, secret, range(events), concurrency=8))
                await wait_for_pins(harness, 50)
                await first.kill()
                statuses = await pushing
                pinned_at_kill = len(pins_by_title(harness))
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                unanswered = {title(n) for n, s in statuses.items() if s == 0}
                # The sender tries again through the process still up.
                again = await push_all(other, secret, [n for n, s in statuses.items() if s == 0])
                accepted |= {title(n) for n, s in again.items() if s == 202}
                pins, letters = await settle(harness, other, accepted)
            finally:
                await first.kill()
                await second.stop()
        peak = harness.emu.stats.peak("org_write", user=harness.emu.signed_in_user)

    assert 50 <= pinned_at_kill < events  # the kill did land mid-stream
    assert set(statuses.values()) <= {0, 202}
    assert len(accepted) >= events - len(unanswered)
    assert_each_once(accepted, pins, letters, unanswered)
    assert peak <= LIMIT


async def test_redis_killed_and_started_again_mid_run_loses_nothing_accepted(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, own_redis: RedisServer
) -> None:
    events = 300
    redis_url = await fresh_database(own_redis)
    async with make_emulator(clock=time.time, rate_limits=LIMITS) as harness:
        env = serve_env(harness, postgres_url, redis_url)
        server = ServeProcess(tmp_path / "home", env)
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await server.start())
            try:
                secret = await admin.deploy(FLOW)
                first = await push_all(admin, secret, range(events // 2))
                await wait_for_pins(harness, 30)
                own_redis.kill()
                pinned_at_kill = len(pins_by_title(harness))
                # While Redis is away no event is accepted: each is answered 503.
                away = await push_all(admin, secret, range(events // 2, events // 2 + 20))
                health_away = await health(session, server.url)
                own_redis.start()
                rest = [n for n, s in away.items() if s != 202]
                rest += list(range(events // 2 + 20, events))
                later = await push_all(admin, secret, rest)
                statuses = first | away | later
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
                health_back = await health(session, server.url)
            finally:
                await server.stop()

    # A scale-out process answers 503 while Redis is away (a proxy sends traffic elsewhere).
    assert (health_away["status"], health_away["redis"]) == ("unavailable", "unreachable")
    assert health_away["reachable"]["redis"] is False
    assert (health_back["status"], health_back["redis"]) == ("ok", "reachable")
    assert pinned_at_kill < events // 2  # the kill did land mid-run
    assert set(first.values()) == {202}
    assert set(away.values()) == {503}
    assert len(accepted) == events
    assert_each_once(accepted, pins, letters, set())
    assert not letters
