"""Three real processes, each with its own quotas on one Redis server, calling one emulator:
together they never exceed its per-window limit, and a 429 one of them meets holds all three.

Each child (``tests/pinterest/quota_process.py``) says ``ready``, waits for ``go`` on its input
so that all start together, makes its calls and prints their outcomes. The emulator runs in
the test and counts every call it sees per fixed window, refused ones included.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from components.pinterest.emulator import RateLimits
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

REPO = Path(__file__).resolve().parents[2]
UNLIMITED = 10**6


async def run_processes(
    harness: EmulatorHarness, redis_url: str, runs: list[tuple[int, int, str]]
) -> list[dict[str, Any]]:
    """Start one child per ``(calls, workers, quota override)`` of ``runs`` together; their
    printed results in the same order."""
    token = harness.token()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = []
    try:
        for calls, workers, override in runs:
            args = (redis_url, harness.api, token, str(calls), str(workers), override)
            children.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.pinterest.quota_process",
                    *args,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=REPO,
                )
            )
        for child in children:
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
            if line.strip() != b"ready":
                assert child.stderr is not None
                err = (await child.stderr.read()).decode(errors="replace")
                raise AssertionError(f"a child process ended before it was ready:\n{err}")
    except BaseException:
        for child in children:  # the others wait for "go" on their input: end them
            if child.returncode is None:
                child.kill()
                await child.wait()
        raise
    results = await asyncio.gather(*(child.communicate(b"go\n") for child in children))
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err.decode(errors="replace")
    return [json.loads(out.splitlines()[-1]) for out, _ in results]


@pytest.mark.timeout(180)
async def test_three_processes_never_exceed_the_apis_limit_per_window_and_meet_no_429(
    make_emulator: MakeEmulator, redis_url: str
) -> None:
    limit, window, calls = 40, 1.0, 100
    limits = RateLimits(
        per_user={"org_read": limit},
        per_app={"org_read": UNLIMITED},
        window_seconds=window,
    )
    override = f"org_read={limit}/{window:g}"
    async with make_emulator(clock=time.time, rate_limits=limits) as harness:
        results = await run_processes(harness, redis_url, [(calls, 8, override)] * 3)
        peak = harness.emu.stats.peak("org_read", user=harness.emu.signed_in_user)
        seen = harness.emu.stats.operations["user_account/get"]

    statuses = [status for result in results for status in result["statuses"]]
    assert [result["outcomes"].count("ok") for result in results] == [calls] * 3
    assert seen == 3 * calls, "every call was sent once"
    assert 429 not in statuses
    assert peak <= limit, "the three processes together kept within the limit per window"
    assert sum(result["waits"] for result in results) > 0, "the quota held calls back"


async def test_a_429_with_retry_after_met_by_one_process_holds_the_others(
    make_emulator: MakeEmulator, redis_url: str
) -> None:
    # The emulator's clock stands still at the start of a 60 s window of 1 call: the test's
    # own call spends it, and the next one is refused with Retry-After: 60.
    limits = RateLimits(per_user={"org_read": 1}, per_app={"org_read": UNLIMITED})
    override = '{"org_read": {"limit": 1000, "window": 60, "maxWait": 1}}'  # far above it
    async with make_emulator(rate_limits=limits) as harness:
        assert (await harness.call("GET", "/user_account")).status == 200
        [refused] = await run_processes(harness, redis_url, [(1, 1, override)])
        held = await run_processes(harness, redis_url, [(1, 1, override)] * 2)
        seen = harness.emu.stats.operations["user_account/get"]

    assert refused["outcomes"] == ["429"]
    assert refused["statuses"] == [429]
    assert [result["outcomes"] for result in held] == [["deferred"], ["deferred"]]
    assert [result["statuses"] for result in held] == [[], []], "held back: nothing was sent"
    assert seen == 2
