"""Every dead letter the engine stores is reported to its telemetry, whatever buried it."""

from __future__ import annotations

import asyncio

from runtime.engine import Engine
from runtime.stores.memory import MemoryStore
from tests import kit


class Recording:
    """A :class:`~runtime.telemetry.Telemetry` that keeps the dead letters reported to it."""

    def __init__(self) -> None:
        self.letters: list[tuple[str, str, str]] = []

    def api_call(self, service: str, status: int | str) -> None:
        return None

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        return None

    def token_refresh(self, service: str, *, ok: bool) -> None:
        return None

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        self.letters.append((flow_id, component_id, error_type))

    def loop_stall(self, flow_id: str, component_id: str) -> None:
        return None


async def test_a_refused_message_is_reported_once_and_a_handled_one_not_at_all():
    telemetry = Recording()
    async with Engine(MemoryStore(), telemetry=telemetry) as engine:
        await engine.start_flow(
            kit.plan(
                "f", {"hook": "Hook", "r": "Reject", "e": "Echo"}, [("hook", "r"), ("hook", "e")]
            )
        )
        await engine.push("f", "hook", "spam")
        await engine.wait_idle("f")

    assert telemetry.letters == [("f", "r", "CancelError")]


async def test_messages_buried_when_a_flow_stops_are_reported_too():
    kit.Gate.opened = asyncio.Event()
    kit.Gate.active = kit.Gate.peak = 0
    telemetry = Recording()
    store = MemoryStore()
    async with Engine(store, telemetry=telemetry) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "g": "Gate"}, [("hook", "g")]))
        for i in range(2):
            await engine.push("f", "hook", i)
        await kit.eventually(lambda: kit.Gate.active > 0)
        await engine.stop_flow("f", timeout=0.01)

    assert telemetry.letters == [("f", "g", "Stopped"), ("f", "g", "Stopped")]
    assert len(await store.list_dead_letters()) == 2
