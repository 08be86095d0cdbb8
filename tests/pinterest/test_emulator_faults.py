"""Fault injection: latency, error answers, and connections dropped before or after the effect."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from components.pinterest.emulator import FaultPlan
from runtime.errors import ConfigurationError
from tests.pinterest.emulator_harness import EmulatorHarness

RECIPES = "600000000000000001"
PIN = {
    "board_id": RECIPES,
    "title": "Maybe",
    "media_source": {"source_type": "image_url", "url": "https://img.invalid/a.jpg"},
}


def titled(h: EmulatorHarness, title: str) -> int:
    return sum(1 for p in h.emu.state.pins.values() if p.title == title)


async def test_an_error_rate_of_one_answers_every_call_with_500_or_503(
    emulator: EmulatorHarness,
) -> None:
    emulator.emu.faults.set(FaultPlan(error_rate=1.0, seed=7))
    answers = [await emulator.call("GET", "/boards") for _ in range(6)]
    assert {a.status for a in answers} == {500, 503}
    assert all(a.body["code"] == a.status for a in answers)
    assert emulator.emu.faults.injected["error"] == 6
    emulator.emu.faults.clear()
    assert (await emulator.call("GET", "/boards")).status == 200


async def test_faults_can_be_limited_to_some_operations_and_a_number(
    emulator: EmulatorHarness,
) -> None:
    plan = FaultPlan(
        error_rate=1.0, error_statuses=(503,), operations={"pins/create"}, max_faults=2
    )
    emulator.emu.faults.set(plan)
    assert (await emulator.call("GET", "/boards")).status == 200
    statuses = [(await emulator.call("POST", "/pins", json=PIN)).status for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert titled(emulator, "Maybe") == 1


async def test_a_rate_limit_storm_answers_429_with_retry_after_and_creates_nothing(
    emulator: EmulatorHarness,
) -> None:
    emulator.emu.faults.set(
        FaultPlan(error_rate=1.0, error_statuses=(429,), retry_after=3, max_faults=2)
    )
    answers = [await emulator.call("POST", "/pins", json=PIN) for _ in range(3)]
    assert [a.status for a in answers] == [429, 429, 201]
    assert answers[0].body["code"] == 8
    assert answers[0].headers["Retry-After"] == "3"
    assert titled(emulator, "Maybe") == 1


async def test_the_same_seed_draws_the_same_faults(emulator: EmulatorHarness) -> None:
    async def draw() -> list[int]:
        emulator.emu.faults.set(FaultPlan(error_rate=0.5, seed=42))
        return [(await emulator.call("GET", "/boards")).status for _ in range(12)]

    first = await draw()
    assert set(first) > {200}
    assert await draw() == first


async def test_latency_delays_the_answer(emulator: EmulatorHarness) -> None:
    emulator.emu.faults.set(FaultPlan(latency_ms=80))
    started = time.perf_counter()
    assert (await emulator.call("GET", "/boards")).status == 200
    assert time.perf_counter() - started >= 0.08


async def test_a_drop_before_the_effect_creates_nothing(emulator: EmulatorHarness) -> None:
    emulator.emu.faults.set(FaultPlan(drop_before_rate=1.0, max_faults=1))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await emulator.call("POST", "/pins", json=PIN)
    assert titled(emulator, "Maybe") == 0
    dropped = emulator.exchanges[-1]
    assert (dropped.dropped, dropped.status, dropped.response_body) == ("before", 0, b"")
    assert (await emulator.call("POST", "/pins", json=PIN)).status == 201


async def test_a_drop_after_the_effect_leaves_the_pin_created(emulator: EmulatorHarness) -> None:
    emulator.emu.faults.set(FaultPlan(drop_after_rate=1.0, operations={"pins/create"}))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await emulator.call("POST", "/pins", json=PIN)
    assert titled(emulator, "Maybe") == 1
    dropped = emulator.exchanges[-1]
    assert dropped.dropped == "after"
    assert dropped.status == 201
    assert b'"title":"Maybe"' in dropped.response_body
    assert emulator.emu.faults.injected == {"drop_after": 1}


@pytest.mark.parametrize(
    "arguments",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_after_rate": 0.6},
        {"latency_ms": -1},
        {"error_statuses": (404,)},
    ],
    ids=["rate-over-one", "rates-over-one", "negative-latency", "not-a-server-error"],
)
def test_impossible_plans_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        FaultPlan(**arguments)
