"""Faults against a real ``flowmixer serve``: every accepted event ends as one pin or one
dead letter, never two pins, never lost, and the API never sees more than its limit.

The emulator runs in this process on 127.0.0.1 with the real clock; the server is a child
process, so that it can be killed with SIGKILL. Each event names a pin ``event-NNNN``. Each
test runs on both databases: the home's SQLite file and a PostgreSQL database (where the
durable broker queues too).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from components.pinterest.emulator import FaultPlan, RateLimits
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.serve_process import Admin, ServeProcess

BOARD = "600000000000000001"
FLOW_ID = "pins"
HOOK = f"/hooks/{FLOW_ID}/hook"
TITLE = re.compile(r"event-\d{4}")
# The emulator's limit of pin creations per user and window, and what flowmixer is told.
LIMIT, WINDOW = 40, 1.0
QUOTA_ENV = {
    "FLOWMIXER_PINTEREST_QUOTA": json.dumps({"org_write": {"limit": LIMIT, "window": WINDOW}})
}

FLOW: dict[str, Any] = {
    "id": FLOW_ID,
    "retry": {"maxAttempts": 12, "baseDelay": 0.05, "maxDelay": 1.0},
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "pin": {
            "type": "acme.pinterest.CreatePin",
            "source": {"in": {"hook": ["out"]}},
            "concurrency": 8,
            "config": {
                "transform": {
                    "in": {
                        "boardId": BOARD,
                        "title": "{{{$.hook.out.title}}}",
                        "link": "https://shop.example.test/{{{$.hook.out.title}}}",
                        "imageUrl": "https://images.example.test/pin.png",
                    }
                }
            },
        },
    },
}


def title(n: int) -> str:
    return f"event-{n:04d}"


def pins_by_title(harness: EmulatorHarness) -> Counter[str]:
    return Counter(
        p.title for p in harness.emu.state.pins.values() if p.title and TITLE.fullmatch(p.title)
    )


def lettered(letters: Iterable[dict[str, Any]]) -> Counter[str]:
    """The events named in dead letters (each letter holds its envelope)."""
    found: Counter[str] = Counter()
    for letter in letters:
        found.update(set(TITLE.findall(json.dumps(letter))))
    return found


async def push_all(
    admin: Admin, secret: str, numbers: Iterable[int], *, concurrency: int = 16
) -> dict[int, int]:
    """Push one event per number; the HTTP status each got (0: no answer)."""
    gate = asyncio.Semaphore(concurrency)
    statuses: dict[int, int] = {}

    async def one(n: int) -> None:
        async with gate:
            statuses[n] = await admin.push(HOOK, {"title": title(n)}, secret)

    await asyncio.gather(*(one(n) for n in numbers))
    return statuses


async def settle(
    harness: EmulatorHarness, admin: Admin, expected: set[str], timeout: float = 150
) -> tuple[Counter[str], Counter[str]]:
    """Wait until every expected event is a pin or a dead letter, and nothing moves for 1 s."""
    deadline = time.monotonic() + timeout
    last: tuple[Counter[str], Counter[str]] | None = None
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        pins = pins_by_title(harness)
        letters = lettered(await admin.dead_letters(FLOW_ID))
        now = (pins, letters)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif expected <= set(pins) | set(letters) and time.monotonic() - stable_since > 1.0:
            return now
        await asyncio.sleep(0.2)
    assert last is not None
    missing = expected - set(last[0]) - set(last[1])
    raise AssertionError(f"{len(missing)} events never ended: {sorted(missing)[:10]}")


def assert_each_once(
    accepted: set[str], pins: Counter[str], letters: Counter[str], unanswered: set[str]
) -> None:
    """Every accepted event is exactly one pin or one dead letter; nothing is doubled."""
    doubled = {t: c for t, c in pins.items() if c > 1}
    assert doubled == {}, f"duplicate pins: {doubled}"
    both = set(pins) & set(letters)
    assert both == set(), f"events both pinned and dead-lettered: {sorted(both)}"
    assert {t: c for t, c in letters.items() if c > 1} == {}
    assert accepted <= set(pins) | set(letters)
    # An event whose answer was lost (the server died) may or may not have been accepted.
    assert set(pins) | set(letters) <= accepted | unanswered


SCENARIOS = [
    pytest.param(
        FaultPlan(error_rate=0.5, error_statuses=(429,), retry_after=1, seed=3), id="429 storm"
    ),
    pytest.param(
        FaultPlan(error_rate=0.2, error_statuses=(500, 502, 503, 504), seed=5),
        id="20% server errors",
    ),
    pytest.param(FaultPlan(jitter_ms=2000, seed=7), id="latency up to 2 s"),
    pytest.param(FaultPlan(drop_after_rate=0.2, seed=11), id="drops after the effect"),
]


@pytest.mark.parametrize("faults", SCENARIOS)
async def test_every_event_ends_as_one_pin_or_one_dead_letter_under_faults(
    make_emulator: MakeEmulator, tmp_path: Path, faults: FaultPlan, database: dict[str, str]
) -> None:
    events = 60
    limits = RateLimits(per_user={"org_write": LIMIT, "org_read": 1000}, window_seconds=WINDOW)
    async with make_emulator(clock=time.time, rate_limits=limits, faults=faults) as harness:
        server = ServeProcess(
            tmp_path / "home",
            {"PINTEREST_ACCESS_TOKEN": harness.token(), "PINTEREST_API_BASE": harness.api}
            | QUOTA_ENV
            | database,
        )
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await server.start())
            try:
                secret = await admin.deploy(FLOW)
                statuses = await push_all(admin, secret, range(events))
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
            finally:
                await server.stop()
        user = harness.emu.signed_in_user
        peak = harness.emu.stats.peak("org_write", user=user)

    assert len(accepted) == events
    assert_each_once(accepted, pins, letters, set())
    assert peak <= LIMIT


async def test_a_server_killed_mid_stream_loses_and_repeats_nothing_after_its_restart(
    make_emulator: MakeEmulator, tmp_path: Path, database: dict[str, str]
) -> None:
    events = 500
    limits = RateLimits(per_user={"org_write": LIMIT, "org_read": 1000}, window_seconds=WINDOW)
    # A little latency, so that the kill finds calls in flight and messages queued.
    faults = FaultPlan(latency_ms=5, jitter_ms=20, seed=13)
    async with make_emulator(clock=time.time, rate_limits=limits, faults=faults) as harness:
        env = {"PINTEREST_ACCESS_TOKEN": harness.token(), "PINTEREST_API_BASE": harness.api}
        env |= database
        first = ServeProcess(tmp_path / "home", env | QUOTA_ENV)
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await first.start())
            secret = await admin.deploy(FLOW)
            pushing = asyncio.create_task(push_all(admin, secret, range(events), concurrency=8))
            for _ in range(1200):  # until effects are under way (at most a minute)
                if len(pins_by_title(harness)) >= 50:
                    break
                await asyncio.sleep(0.05)
            await first.kill()
            statuses = await pushing
            accepted = {title(n) for n, s in statuses.items() if s == 202}
            unanswered = {title(n) for n, s in statuses.items() if s == 0}
            pinned_before_restart = len(pins_by_title(harness))

            second = ServeProcess(tmp_path / "home", env | QUOTA_ENV)
            admin = Admin(session, await second.start())  # the flow starts again by itself
            try:
                rest = [n for n, s in statuses.items() if s == 0]
                again = await push_all(admin, secret, rest)  # the sender tries again
                accepted |= {title(n) for n, s in again.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
            finally:
                await second.stop()
        peak = harness.emu.stats.peak("org_write", user=harness.emu.signed_in_user)

    assert 50 <= pinned_before_restart < events  # the kill did land mid-stream
    assert {s for s in statuses.values()} <= {0, 202}
    assert len(accepted) >= events - len(unanswered)
    assert_each_once(accepted, pins, letters, unanswered)
    assert len(pins) + len(letters) >= len(accepted)
    assert peak <= LIMIT
