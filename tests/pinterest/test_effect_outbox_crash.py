"""``kill -9`` between the create and the commit of its result and ack, on the durable broker.

With the SQLite broker the result of a create is queued in the broker's group commit ahead of
the hop's ack, not awaited: a process that dies before that transaction commits has lost the
ack too. A child process runs CreatePin (SQLite store and broker in one file) against the
emulator and kills itself with SIGKILL just before the transaction holding the result would
commit, after the pin was made. A second child on the same file gets the message again, finds
the attempt's claim (uncertain), looks the pin up and adopts it: one pin, sent on once.
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

from runtime.stores.sqlite import SQLiteStore
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

REPO = Path(__file__).resolve().parents[2]
RECIPES = "600000000000000001"

CHILD = """
import asyncio, json, os, signal, sys
from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.sqlite import SQLiteBroker
from runtime.credentials import StaticCredentials
from runtime.engine import Engine
from runtime.envelope import Envelope
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore

FLOW = {
    "id": "t",
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "pin": {"type": "acme.pinterest.CreatePin", "source": {"in": {"hook": ["out"]}}},
    },
}

def die_before_the_result_commits():
    plain = GroupCommit._transaction
    async def transaction(self, works):
        if any(getattr(getattr(w, "func", None), "__name__", "") == "_put" for w in works):
            os.kill(os.getpid(), signal.SIGKILL)  # the pin is made; nothing of this commits
        return await plain(self, works)
    GroupCommit._transaction = transaction

async def main(path, api, token, board, role):
    if role == "crash":
        die_before_the_result_commits()
    credentials = StaticCredentials("acme:pinterest", token, settings={"apiBase": api})
    plan = validate_flow(FLOW, Registry.load())
    store = await SQLiteStore.open(path)
    broker = SQLiteBroker(store)
    sent = {}
    def keep(output):
        sent[output.correlation_id] = output.payload["id"]
    resolve = lambda wanted: credentials if wanted.auth is not None else None
    async with Engine(store, broker=broker, on_output=keep, credentials=resolve) as engine:
        await engine.start_flow(plan)
        if role == "crash":
            message = {"boardId": board, "title": "Soup 1",
                       "imageUrl": "https://images.example/soup-1.jpg"}
            await engine.runner_of("t").deliver(Envelope("t", "pin", "in", message, "event-1"))
        await engine.wait_idle("t")
    await broker.close()
    letters = [letter.error for letter in await store.list_dead_letters(flow_id="t")]
    await store.close()
    print(json.dumps({"sent": sent, "letters": letters}), flush=True)

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


def soups(harness: EmulatorHarness) -> dict[str, str | None]:
    pins = harness.emu.state.pins.values()
    return {p.id: p.title for p in pins if p.board_id == RECIPES and p.title == "Soup 1"}


async def test_a_kill_between_the_create_and_the_acks_commit_still_makes_one_pin(
    live: EmulatorHarness, tmp_path: Path
):
    path = tmp_path / "flowmixer.db"

    code, _, err = await run_child(live, path, "crash")
    assert code == -signal.SIGKILL, err
    made = soups(live)
    assert len(made) == 1  # the pin was made before the process died

    code, out, err = await run_child(live, path, "restart")
    assert code == 0, err
    outcome = json.loads(out.splitlines()[-1])

    assert soups(live) == made  # the redelivery adopted it: no second pin
    (pin_id,) = made
    assert outcome == {"sent": {"event-1": pin_id}, "letters": []}
    async with await SQLiteStore.open(path) as store:
        records = await store.with_connection(
            lambda conn: conn.execute("SELECT ref, completed_at FROM effects").fetchall()
        )
        queued = await store.with_connection(
            lambda conn: conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        )
    assert [ref for ref, completed in records if completed is not None] == [pin_id]
    assert queued == 0
