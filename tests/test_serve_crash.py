"""``flowmixer serve`` killed with SIGKILL while it works: every event it answered 202 is
handled once the server is back (its effect made exactly once), none is lost.

The server runs as a real process with the components of ``tests/fixtures/durable_path``: a
webhook trigger feeding a slow component whose effect is a row per event in a ledger file (a
repeated delivery only counts itself there, the way an idempotent API call would).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime.stores.sqlite import SQLiteStore
from tests.server_kit import ADMIN_TOKEN

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = REPO / "tests" / "fixtures" / "durable_path"
EVENTS = 200
KILL_AFTER = 120  # events answered 202 when the server is killed
SENDERS = 8

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class Served:
    """A ``flowmixer serve`` process and what it logged."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []

    async def event(self, name: str) -> dict[str, Any]:
        assert self.proc.stderr is not None
        async with asyncio.timeout(30):
            while True:
                raw = await self.proc.stderr.readline()
                assert raw, "the server ended early:\n" + "".join(self.log)
                line = raw.decode()
                self.log.append(line)
                found: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
                if found.get("event") == name:
                    return found

    async def url(self) -> str:
        return f"http://127.0.0.1:{(await self.event('server listening'))['port']}"


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[Served] = []

    async def start() -> Served:
        env = {
            **os.environ,
            "FLOWMIXER_HOME": str(tmp_path / "home"),
            "FLOWMIXER_LOG_FORMAT": "json",
            "FLOWMIXER_ADMIN_TOKEN": ADMIN_TOKEN,
            # The test components first, so their ``manifests`` package is the one loaded.
            "PYTHONPATH": os.pathsep.join([str(COMPONENTS), str(REPO)]),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runtime.cli",
            "serve",
            "--port",
            "0",
            env=env,
            cwd=tmp_path,  # not the repository: its own ``manifests`` would come first
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(Served(proc))
        return started[-1]

    yield start
    for served in started:
        if served.proc.returncode is None:
            served.proc.kill()
            await served.proc.wait()


def flow(ledger: Path) -> dict[str, Any]:
    return {
        "id": "durable",
        "components": {
            "hook": {"type": "test.durable.Hook"},
            "effect": {
                "type": "test.durable.Effect",
                "source": {"in": {"hook": ["out"]}},
                "config": {"properties": {"ledger": str(ledger), "delay": 0.005}},
            },
        },
    }


def effects(ledger: Path) -> dict[str, int]:
    """Event id -> deliveries, from the ledger the component writes."""
    if not ledger.exists():
        return {}
    with sqlite3.connect(ledger, timeout=10) as conn:
        try:
            rows = conn.execute("SELECT event_id, deliveries FROM effects").fetchall()
        except sqlite3.OperationalError:  # the table is not made yet
            rows = []
    conn.close()
    return dict(rows)


async def push_until_killed(
    session: aiohttp.ClientSession, url: str, secret: str, accepted: list[str]
) -> None:
    """Push events from several senders; keep the ids answered 202; stop at the first failure."""
    numbers = iter(range(EVENTS))

    async def sender() -> None:
        for n in numbers:
            try:
                async with session.post(
                    f"{url}/hooks/durable/hook",
                    json={"n": n},
                    headers={"X-Flowmixer-Hook-Secret": secret},
                ) as response:
                    if response.status != 202:
                        return
                    accepted.append((await response.json())["eventId"])
            except aiohttp.ClientError:
                return  # the server is gone: this event was never accepted

    await asyncio.gather(*(sender() for _ in range(SENDERS)))


async def test_events_accepted_before_a_kill_9_are_each_handled_once_after_the_restart(
    serve: Any, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    accepted: list[str] = []
    first = await serve()
    url = await first.url()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/flows", json=flow(ledger), headers=admin) as answer:
            secret = (await answer.json())["hooks"][0]["secret"]
        async with session.post(f"{url}/api/flows/durable/start", headers=admin) as answer:
            assert answer.status == 200

        pushing = asyncio.ensure_future(push_until_killed(session, url, secret, accepted))
        async with asyncio.timeout(30):
            while len(accepted) < KILL_AFTER:  # noqa: ASYNC110 - watching another task's list
                await asyncio.sleep(0.001)
        first.proc.send_signal(signal.SIGKILL)
        await first.proc.wait()
        await pushing
    done_before = effects(ledger)
    assert KILL_AFTER <= len(accepted) < EVENTS
    assert len(done_before) < len(accepted), "the kill came too late to interrupt any work"

    second = await serve()
    url = await second.url()
    async with asyncio.timeout(30):
        while not set(accepted) <= set(effects(ledger)):  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.02)
    second.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.proc.wait(), 30) == 0

    done = effects(ledger)
    assert set(accepted) <= set(done)  # nothing answered 202 was lost
    # Those whose 202 the kill swallowed may have been kept too; nothing else appears.
    assert len(done) <= len(accepted) + SENDERS
    repeated = {event for event, deliveries in done.items() if deliveries > 1}
    assert len(repeated) <= SENDERS, f"{len(repeated)} events were handled more than once"
    async with await SQLiteStore.open(tmp_path / "home" / "flowmixer.db") as store:
        assert await store.list_dead_letters() == []
        left = await store.with_connection(
            lambda conn: conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        )
    assert left == 0
