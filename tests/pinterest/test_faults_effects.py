"""Lost answers at scale against a real ``flowmixer serve``: never a Pin twice, never lost.

The run that once made 1,290 Pins of 1,000 events: webhook -> CreatePin into one board, eight
creates at a time, while the emulator drops 20% of Pin creates after making the Pin, 10% before,
and answers 5% with a 5xx. Hundreds of other events' Pins are made between an attempt and its
lookup, so a lookup that read only the newest Pins of the board would miss its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp
import pytest

from components.pinterest.emulator import FaultPlan, RateLimits
from tests.pinterest.emulator_harness import run_emulator
from tests.pinterest.test_faults import FLOW, FLOW_ID, assert_each_once, push_all, settle, title
from tests.serve_process import Admin, ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

EVENTS = 1_000
# High enough that the quotas never hold the run back: the test is about lost answers.
QUOTA = {
    "*": {"limit": 100_000, "window": 1},
    "org_write": {"limit": 100_000, "window": 1},
    "org_read": {"limit": 100_000, "window": 1},
}
EMULATOR_LIMITS = RateLimits(
    per_user={"org_read": 1_000_000, "org_write": 1_000_000},
    per_app={"org_read": 1_000_000, "org_write": 1_000_000},
    window_seconds=1.0,
)
FAULTS = FaultPlan(
    drop_after_rate=0.2,
    drop_before_rate=0.1,
    error_rate=0.05,
    operations={"pins/create"},
    seed=9,
)


async def test_a_thousand_events_under_lost_answers_end_as_one_pin_or_one_dead_letter_each(
    tmp_path: Path,
) -> None:
    # No spec check of each exchange here (other tests do it): checking thousands of pages of
    # 250 Pins would take minutes, and the run is about what is made, not how it is said.
    async with run_emulator(
        None, clock=time.time, rate_limits=EMULATOR_LIMITS, faults=FAULTS
    ) as harness:
        env = {
            "PINTEREST_ACCESS_TOKEN": harness.token(),
            "PINTEREST_API_BASE": harness.api,
            "FLOWMIXER_PINTEREST_QUOTA": json.dumps(QUOTA),
        }
        server = ServeProcess(tmp_path / "home", env)
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await server.start())
            try:
                secret = await admin.deploy(FLOW)
                statuses = await push_all(admin, secret, range(EVENTS))
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted)
                raw_letters = await admin.dead_letters(FLOW_ID)
            finally:
                await server.stop()
        injected = dict(harness.emu.faults.injected)

    assert len(accepted) == EVENTS
    assert_each_once(accepted, pins, letters, set())
    # The faults did happen, hundreds of times: every answer lost after a Pin was made was
    # resolved by finding that Pin.
    assert injected["drop_after"] >= 150
    assert injected["drop_before"] >= 60
    assert injected["error"] >= 25
    for letter in raw_letters:
        assert letter["error_type"] == "UncertainEffectError", letter["error"]
        assert "Pinterest cannot tell" in letter["error"]
