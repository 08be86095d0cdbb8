"""Two real processes on one PostgreSQL database: what one takes, the other does not.

Each child opens its own :class:`PostgresStore`, says ``ready``, waits for ``go`` on its
standard input (so both start together), does its work with several calls in flight at once,
and prints what it won as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from runtime.envelope import Envelope
from runtime.stores.base import DeadLetter
from runtime.stores.postgres import PostgresStore

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, json, random, sys
from runtime.stores.base import EffectRecord
from runtime.stores.postgres import PostgresStore

async def main(url, job, count):
    store = await PostgresStore.open(url, max_size=8)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    order = list(range(count))
    random.shuffle(order)
    if job == "claim":
        async def one(n):
            record = EffectRecord("f", "pin", f"event-{n}", "d", 1.0, attempts=1, uncertain=True)
            return f"event-{n}" if await store.claim_effect(record) else None
    else:
        async def one(n):
            return [letter.id for letter in await store.take_retries(f"flow-{n}")]
    won = await asyncio.gather(*(one(n) for n in order))
    await store.close()
    print(json.dumps(won), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def race(url: str, job: str, count: int) -> list[list[object]]:
    """Run ``job`` in two child processes started together; what each printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            url,
            job,
            str(count),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"ready"
    results = await asyncio.gather(*(child.communicate(b"go\n") for child in children))
    for child in children:
        assert child.returncode == 0
    return [json.loads(out) for out, _ in results]


async def test_two_processes_claiming_the_same_effects_win_each_exactly_once(postgres_url: str):
    await (await PostgresStore.open(postgres_url)).close()  # the schema, before the race

    first, second = await race(postgres_url, "claim", 150)

    won = [name for name in first + second if name is not None]
    assert sorted(won) == sorted(f"event-{n}" for n in range(150))  # no effect claimed twice


async def test_two_processes_taking_retries_at_once_are_each_handed_a_letter_once(
    postgres_url: str,
):
    async with await PostgresStore.open(postgres_url) as store:
        for n in range(200):
            envelope = Envelope(f"flow-{n % 40}", "copy", "in", {"n": n}, f"event-{n}")
            letter = DeadLetter(f"letter-{n}", envelope, "HTTP 503", "ServerError", 3, float(n))
            await store.add_dead_letter(letter)
            await store.request_retry(letter.id)

    first, second = await race(postgres_url, "take", 40)

    handed = [letter for batch in first + second for letter in batch]  # type: ignore[union-attr]
    assert sorted(handed) == sorted(f"letter-{n}" for n in range(200))
