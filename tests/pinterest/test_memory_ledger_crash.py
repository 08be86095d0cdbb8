"""``kill -9`` right after a dead letter is stored, with the in-memory broker and a SQLite store.

With the in-memory broker the ledger keeps this process's effect records in memory and writes
them behind (``runtime/brokers/local_effects.py``); only dead letters outlive the process. A
child runs CreatePin against the emulator, whose answers to the create and to the lookup are
all dropped after the effect: the pin is made, nothing can prove it, and the message becomes a
dead letter with its effect uncertain. The child then kills itself with SIGKILL the moment the
letter is stored, its write-behind delay set to a minute, so only the write made before the
letter can have reached the file. A second child retries the letter: it must find the uncertain
record, look the pin up and adopt it: one pin.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from components.pinterest.emulator.faults import FaultPlan
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

REPO = Path(__file__).resolve().parents[2]
RECIPES = "600000000000000001"

CHILD = """
import asyncio, json, os, signal, sys
import runtime.brokers.local_effects as local_effects
from runtime.brokers.memory import MemoryBroker
from runtime.circuit import Circuits
from runtime.credentials import StaticCredentials
from runtime.engine import Engine
from runtime.envelope import Envelope, new_event_id
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore

FLOW = {
    "id": "t",
    "retry": {"maxAttempts": 1, "baseDelay": 0.001, "maxDelay": 0.005},
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "pin": {"type": "acme.pinterest.CreatePin", "source": {"in": {"hook": ["out"]}}},
    },
}

async def main(path, api, token, board, role):
    credentials = StaticCredentials("acme:pinterest", token, settings={"apiBase": api})
    plan = validate_flow(FLOW, Registry.load())
    store = await SQLiteStore.open(path)
    if role == "crash":
        local_effects.WRITE_DELAY = 60.0  # nothing is written behind in time on its own
        # Lookups that cannot tell give up within half a second instead of a minute.
        from runtime.connector import idempotent
        from runtime.connector.resolution import Resolution
        quick = Resolution(first_delay=0.01, late_delay=0.01, max_delay=0.05, budget=0.5)
        idempotent.policy_of = lambda context: quick
        plain = store.add_dead_letter
        async def add_then_die(letter):
            await plain(letter)
            os.kill(os.getpid(), signal.SIGKILL)  # the letter is stored; nothing else runs
        store.add_dead_letter = add_then_die
    sent = {}
    def keep(output):
        sent[output.correlation_id] = output.payload["id"]
    resolve = lambda wanted: credentials if wanted.auth is not None else None
    # No circuit: a service that drops every answer would otherwise defer the message forever.
    circuits = Circuits(threshold=1_000_000)
    async with Engine(
        store, broker=MemoryBroker(), on_output=keep, credentials=resolve, circuits=circuits
    ) as engine:
        await engine.start_flow(plan)
        if role == "crash":
            message = {"boardId": board, "title": "Soup 1",
                       "imageUrl": "https://images.example/soup-1.jpg"}
            event = new_event_id()  # an event of this process: its records live in memory
            await engine.runner_of("t").deliver(Envelope("t", "pin", "in", message, event))
        else:
            [letter] = await store.list_dead_letters(flow_id="t")
            await engine.retry_dead_letter(letter.id)
        await engine.wait_idle("t")
    letters = [letter.error for letter in await store.list_dead_letters(flow_id="t")]
    await store.close()
    print(json.dumps({"sent": list(sent.values()), "letters": letters}), flush=True)

asyncio.run(main(*sys.argv[1:6]))
"""


@pytest.fixture
async def live(make_emulator: MakeEmulator) -> AsyncIterator[EmulatorHarness]:
    """The emulator on the real clock (lookups compare creation times with the ledger's)."""
    async with make_emulator(clock=time.time) as harness:
        yield harness


async def run_child(harness: EmulatorHarness, path: Path, role: str) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path),
        harness.api,
        harness.token(),
        RECIPES,
        role,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    out, err = await asyncio.wait_for(child.communicate(), timeout=90)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


def soups(harness: EmulatorHarness) -> set[str]:
    pins = harness.emu.state.pins.values()
    return {p.id for p in pins if p.board_id == RECIPES and p.title == "Soup 1"}


async def test_a_letter_retried_after_a_kill_finds_its_uncertain_effect_and_makes_no_second_pin(
    live: EmulatorHarness, tmp_path: Path
):
    path = tmp_path / "flowmixer.db"
    live.emu.faults.set(FaultPlan(drop_after_rate=1.0))  # every answer lost after the effect

    code, _, err = await run_child(live, path, "crash")
    assert code == -signal.SIGKILL, err
    made = soups(live)
    assert len(made) == 1  # the pin was made; its answer never came

    live.emu.faults.set(FaultPlan())
    code, out, err = await run_child(live, path, "retry")
    assert code == 0, err
    outcome = json.loads(out.splitlines()[-1])

    assert soups(live) == made  # the retry adopted it: no second pin
    assert outcome == {"sent": sorted(made), "letters": []}
