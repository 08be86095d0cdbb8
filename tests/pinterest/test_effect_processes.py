"""Two real processes delivering the same messages to CreatePin at the same time make one
Pinterest pin per message, on one PostgreSQL database or one SQLite file.

Each child process runs an :class:`~runtime.engine.Engine` of its own (in-memory broker) on
its own connection to the shared database, says ``ready``, waits for ``go`` on its standard
input (so both start together), delivers the same envelopes (same correlation ids) to the
flow's CreatePin, and prints what it sent on as one JSON line. The emulator runs in the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

REPO = Path(__file__).resolve().parents[2]
RECIPES = "600000000000000001"
EVENTS = 40

CHILD = """
import asyncio, json, sys
from runtime.credentials import StaticCredentials
from runtime.engine import Engine
from runtime.envelope import Envelope
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.urls import open_store

FLOW = {
    "id": "t",
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "pin": {"type": "acme.pinterest.CreatePin", "source": {"in": {"hook": ["out"]}},
                "concurrency": 8},
    },
}

async def main(url, api, token, board, count):
    credentials = StaticCredentials("acme:pinterest", token, settings={"apiBase": api})
    plan = validate_flow(FLOW, Registry.load())
    store = await open_store(url)
    sent = {}
    def keep(output):
        sent[output.correlation_id] = output.payload["id"]
    resolve = lambda wanted: credentials if wanted.auth is not None else None
    async with Engine(store, on_output=keep, credentials=resolve) as engine:
        await engine.start_flow(plan)
        runner = engine.runner_of("t")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for n in range(count):
            message = {"boardId": board, "title": f"Soup {n}", "imageUrl":
                       f"https://images.example/soup-{n}.jpg"}
            await runner.deliver(Envelope("t", "pin", "in", message, f"event-{n}"))
        await engine.wait_idle("t")
        stats = engine.stats("t")["pin"]
    letters = [letter.error for letter in await store.list_dead_letters(flow_id="t")]
    await store.close()
    print(json.dumps({"sent": sent, "deferred": stats.deferred, "letters": letters}), flush=True)

asyncio.run(main(*sys.argv[1:5], int(sys.argv[5])))
"""


@pytest.fixture
async def live(make_emulator: MakeEmulator) -> AsyncIterator[EmulatorHarness]:
    """The emulator on the real clock (lookups compare creation times with the ledger's)."""
    async with make_emulator(clock=time.time) as harness:
        yield harness


async def deliver_twice(harness: EmulatorHarness, url: str) -> list[dict[str, object]]:
    """Deliver the same :data:`EVENTS` messages in two child processes started together."""
    token = harness.token()
    args = (url, harness.api, token, RECIPES, str(EVENTS))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            line = b""
            while line.strip() != b"ready":  # the engine's log lines come first
                line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
                if not line:
                    assert child.stderr is not None
                    err = (await child.stderr.read()).decode(errors="replace")
                    raise AssertionError(f"a child process ended before it was ready:\n{err}")
    except BaseException:
        for child in children:  # the other one waits for "go" on its input: end it
            if child.returncode is None:
                child.kill()
                await child.wait()
        raise
    results = await asyncio.gather(*(child.communicate(b"go\n") for child in children))
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err.decode()
    return [json.loads(out.splitlines()[-1]) for out, _ in results]


def assert_one_pin_per_message(harness: EmulatorHarness, outcomes: list[dict[str, object]]):
    made = {p.id: p.title for p in harness.emu.state.pins.values() if p.board_id == RECIPES}
    titles = sorted(t for t in made.values() if t and t.startswith("Soup "))
    assert titles == sorted(f"Soup {n}" for n in range(EVENTS))  # one each, never two
    first, second = (outcome["sent"] for outcome in outcomes)
    assert first == second  # both processes sent on the same pin for each message
    assert set(first) == {f"event-{n}" for n in range(EVENTS)}  # type: ignore[arg-type]
    assert all(outcome["letters"] == [] for outcome in outcomes)


async def test_two_processes_on_one_postgresql_database_make_one_pin_per_message(
    live: EmulatorHarness, postgres_url: str
):
    outcomes = await deliver_twice(live, postgres_url)

    assert_one_pin_per_message(live, outcomes)


async def test_two_processes_on_one_sqlite_file_make_one_pin_per_message(
    live: EmulatorHarness, tmp_path: Path
):
    outcomes = await deliver_twice(live, f"sqlite:///{tmp_path / 'flowmixer.db'}")

    assert_one_pin_per_message(live, outcomes)
