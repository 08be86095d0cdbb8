"""What a deployed, idle polling flow costs in memory (one server may hold ten thousand)."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from runtime.engine import Engine
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore

FLOWS = 200
# 25.6 KiB before channels and flags went lazy and nodes got slots; 17.3 KiB before the
# deadline sweeper and the polling went from a task per flow to loop timers, loggers were
# bound on first use and a polling trigger lost its worker (11.3 KiB after)
BUDGET_BYTES = 13 * 1024


def polling_flow(n: int) -> dict[str, object]:
    return {
        "id": f"poll-{n:04d}",
        "components": {
            "every-hour": {
                "type": "flowmixer.core.Schedule",
                "config": {"properties": {"interval": 3600}},
            },
            "log": {
                "type": "flowmixer.core.Log",
                "source": {"in": {"every-hour": ["out"]}},
            },
        },
    }


async def test_an_idle_schedule_to_log_flow_holds_less_than_13_kib_once_started():
    registry = Registry.load()
    plans = [validate_flow(polling_flow(n), registry) for n in range(FLOWS)]
    async with Engine(MemoryStore(), on_output=lambda _: None) as engine:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for plan in plans:
                await engine.start_flow(plan)
            await engine.wait_idle()  # each flow's first tick delivered: at rest
            await asyncio.sleep(0)
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown / FLOWS < BUDGET_BYTES, f"{grown / FLOWS / 1024:.1f} KiB per flow"
