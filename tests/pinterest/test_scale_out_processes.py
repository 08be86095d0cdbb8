"""A scale-out as real processes: one ``flowmixer serve --no-workers`` and two
``flowmixer worker`` on one Redis server and one PostgreSQL database, running webhook ->
CreatePin against the emulator. What is changed through the API reaches both workers; a worker
killed with ``kill -9`` leaves its messages to the other; every accepted event is one pin."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from components.pinterest.emulator import FaultPlan, RateLimits
from runtime.auth import generate_key
from tests.pinterest.auth_kit import LOOPBACK_REDIRECT, SERVICE, app_config
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.test_faults import (
    FLOW,
    FLOW_ID,
    LIMIT,
    QUOTA_ENV,
    WINDOW,
    assert_each_once,
    pins_by_title,
    push_all,
    settle,
    title,
)
from tests.pinterest.test_serve_postgres import ACCOUNT, account_flow
from tests.scale_out_kit import WorkerProcess, health, running_flows, seconds_until
from tests.serve_process import ADMIN_TOKEN, Admin, ServeProcess

pytestmark = pytest.mark.timeout(240)

REACH = 5.0
"""Seconds a change made through the API may take to reach every worker (promised: one)."""


@dataclass
class Cluster:
    admin: Admin
    api: ServeProcess
    workers: list[WorkerProcess]
    session: aiohttp.ClientSession

    async def running_on_workers(self) -> list[int]:
        return [await running_flows(self.session, w.url) for w in self.workers if w.running]

    async def reach(self, wanted: list[int]) -> float:
        """Seconds until the running workers run ``wanted`` flows each."""

        async def reached() -> bool:
            return await self.running_on_workers() == wanted

        return await seconds_until(reached)


@asynccontextmanager
async def cluster(
    harness: EmulatorHarness, home: Path, postgres_url: str, redis_url: str, workers: int = 2
) -> AsyncIterator[Cluster]:
    env = {
        "FLOWMIXER_DATABASE_URL": postgres_url,
        "FLOWMIXER_REDIS_URL": redis_url,
        "FLOWMIXER_REDIS_VISIBILITY": "2",
        "FLOWMIXER_SECRET_KEY": generate_key(),
        "PINTEREST_ACCESS_TOKEN": harness.token(),
        "PINTEREST_API_BASE": harness.api,
    } | QUOTA_ENV
    api = ServeProcess(home / "api", env, "--no-workers")
    started: list[ServeProcess] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        try:
            admin = Admin(session, await api.start())
            started.append(api)
            members = [WorkerProcess(home / f"worker-{n}", env) for n in range(workers)]
            for member in members:
                await member.start()
                started.append(member)
            yield Cluster(admin, api, members, session)
        except BaseException:
            for process in started:  # shown by pytest with the failure
                print(f"--- {process.home.name}:", "".join(process.lines[-300:]))
            raise
        finally:
            for process in started:
                await process.stop()


def limits() -> RateLimits:
    return RateLimits(per_user={"org_write": LIMIT, "org_read": 1000}, window_seconds=WINDOW)


async def test_deploy_stop_start_and_pause_through_the_api_reach_both_workers_within_seconds(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    async with (
        make_emulator(clock=time.time, rate_limits=limits()) as harness,
        cluster(harness, tmp_path, postgres_url, redis_url) as c,
    ):
        secret = await c.admin.deploy(FLOW)  # deploy, then start
        started = await c.reach([1, 1])
        status, _ = await c.admin.api("POST", f"/api/flows/{FLOW_ID}/stop")
        assert status == 200
        stopped = await c.reach([0, 0])
        status, _ = await c.admin.api("POST", f"/api/flows/{FLOW_ID}/start")
        assert status == 200
        restarted = await c.reach([1, 1])

        status, paused = await c.admin.api("POST", f"/api/flows/{FLOW_ID}/pause")
        assert status == 200, paused
        pause = await c.reach([0, 0])
        during = await push_all(c.admin, secret, range(5))
        await asyncio.sleep(1.0)
        pinned_while_paused = sum(pins_by_title(harness).values())
        status, resumed = await c.admin.api("POST", f"/api/flows/{FLOW_ID}/resume")
        assert status == 200, resumed
        resume = await c.reach([1, 1])
        accepted = {title(n) for n, s in during.items() if s == 202}
        pins, letters = await settle(harness, c.admin, accepted)

    assert max(started, stopped, restarted, pause, resume) < REACH
    assert paused["status"] == "paused"
    assert sorted(during.values()) == [202] * 5, "a paused flow takes events"
    assert pinned_while_paused == 0, "no worker handled them while paused"
    assert_each_once(accepted, pins, letters, set())


async def test_the_api_process_runs_no_component_and_each_accepted_event_is_one_pin(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    async with (
        make_emulator(clock=time.time, rate_limits=limits()) as harness,
        cluster(harness, tmp_path, postgres_url, redis_url) as c,
    ):
        secret = await c.admin.deploy(FLOW)
        await c.reach([1, 1])
        statuses = await push_all(c.admin, secret, range(120))
        first = {title(n) for n, s in statuses.items() if s == 202}
        await settle(harness, c.admin, first)
        _, api_health = await health(c.session, c.api.url)
        _, worker_health = await health(c.session, c.workers[1].url)
        async with c.session.get(c.workers[1].url + "/metrics") as response:
            metrics = await response.text()
        for worker in c.workers:
            await worker.stop()
        # No worker left: the API process still takes events, and handles none of them.
        alone = await push_all(c.admin, secret, range(120, 130))
        await asyncio.sleep(1.0)
        pinned_alone = sum(pins_by_title(harness).values())
        late = WorkerProcess(tmp_path / "late", c.workers[0].env)
        try:
            await late.start()
            accepted = first | {title(n) for n, s in alone.items() if s == 202}
            pins, letters = await settle(harness, c.admin, accepted)
        finally:
            await late.stop()

    assert len(accepted) == 130
    assert_each_once(accepted, pins, letters, set())
    assert not letters
    assert len(first) == 120
    assert pinned_alone == 120, "the events taken with no worker running waited for one"
    assert api_health["role"] == "api"
    assert api_health["reachable"] == {"database": True, "redis": True}
    assert worker_health["role"] == "worker"
    assert f'process="{worker_health["process"]}"' in metrics
    assert 'role="worker"' in metrics


async def test_a_worker_killed_mid_stream_leaves_its_messages_to_the_other(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    events = 200
    async with (
        make_emulator(clock=time.time, rate_limits=limits()) as harness,
        cluster(harness, tmp_path, postgres_url, redis_url) as c,
    ):
        secret = await c.admin.deploy(FLOW)
        await c.reach([1, 1])
        pushing = asyncio.create_task(push_all(c.admin, secret, range(events)))

        async def some_pinned() -> bool:
            return sum(pins_by_title(harness).values()) >= 30

        await seconds_until(some_pinned, timeout=60)
        await c.workers[0].kill()
        statuses = await pushing
        accepted = {title(n) for n, s in statuses.items() if s == 202}
        pins, letters = await settle(harness, c.admin, accepted)
        survivor = await running_flows(c.session, c.workers[1].url)

    assert len(accepted) == events
    assert_each_once(accepted, pins, letters, set())
    assert survivor == 1


async def connect(c: Cluster, *, replace: bool) -> None:
    """Connect the account through the API process (the emulator approves at once)."""
    query = f"account={ACCOUNT}&replace={'true' if replace else 'false'}"
    async with c.session.get(
        f"{c.api.url}/auth/pinterest/start?{query}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as response:
        assert response.status == 200, await response.text()


async def test_a_refused_account_pauses_both_workers_and_a_reconnect_through_the_api_resumes_both(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    async with (
        make_emulator(clock=time.time, rate_limits=limits(), auto_approve=True) as harness,
        cluster(harness, tmp_path, postgres_url, redis_url) as c,
    ):
        app = harness.emu.state.apps["emulator-app"]
        app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
        status, body = await c.admin.api("PUT", f"/api/config/{SERVICE}", app_config(harness))
        assert status == 200, body
        await connect(c, replace=False)
        secret = await c.admin.deploy(account_flow())
        await c.reach([1, 1])
        before = await push_all(c.admin, secret, range(10))
        first = {title(n) for n, s in before.items() if s == 202}
        await settle(harness, c.admin, first)

        for token in harness.emu.state.tokens.values():  # the grant is gone
            token.revoked = True
        refused = await push_all(c.admin, secret, range(10, 20))
        paused = await c.reach([0, 0])
        _, summary = await c.admin.api("GET", f"/api/flows/{FLOW_ID}")
        await connect(c, replace=True)
        resumed = await c.reach([1, 1])
        accepted = first | {title(n) for n, s in refused.items() if s == 202}
        pins, letters = await settle(harness, c.admin, accepted)
        _, after = await c.admin.api("GET", f"/api/flows/{FLOW_ID}")

    assert len(accepted) == 20
    assert summary["status"] == "awaiting-account"
    assert paused < 15, "met by a worker, then told to the other"
    assert resumed < REACH
    assert after["status"] == "running"
    assert_each_once(accepted, pins, letters, set())
    assert not letters, "the parked events were delivered again, not dead-lettered"


async def test_dead_letters_retried_through_the_api_process_are_pinned_by_the_workers(
    make_emulator: MakeEmulator, tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    # The first three pin creations fail, and the flow tries once: three dead letters.
    faults = FaultPlan(
        error_rate=1.0, error_statuses=(500,), operations=frozenset({"pins/create"}), max_faults=3
    )
    flow = {**FLOW, "retry": {"maxAttempts": 1}}
    async with (
        make_emulator(clock=time.time, rate_limits=limits(), faults=faults) as harness,
        cluster(harness, tmp_path, postgres_url, redis_url) as c,
    ):
        secret = await c.admin.deploy(flow)
        await c.reach([1, 1])
        statuses = await push_all(c.admin, secret, range(3))

        async def three_letters() -> bool:
            return len(await c.admin.dead_letters(FLOW_ID)) == 3

        await seconds_until(three_letters)
        status, retried = await c.admin.api("POST", f"/api/dead-letters/retry?flow={FLOW_ID}")
        accepted = {title(n) for n, s in statuses.items() if s == 202}
        pins, letters = await settle(harness, c.admin, accepted)

    assert status == 200, retried
    assert retried == {"requeued": 3, "scheduled": 0}
    assert_each_once(accepted, pins, letters, set())
    assert sum(pins.values()) == 3
    assert not letters
