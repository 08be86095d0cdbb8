"""Two real processes on one PostgreSQL database: an OAuth login state goes to one of them,
and of two writers holding one version of a vault record, one is refused.

Each child opens its own :class:`PostgresStore`, says ``ready``, waits for ``go`` (so both
start together), makes its calls all at once, and prints what it won as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from runtime.stores.contracts import AccountRow, LoginStateRow
from runtime.stores.postgres import PostgresStore

REPO = Path(__file__).resolve().parents[2]
SERVICE = "acme:pins"

CHILD = """
import asyncio, json, random, sys
from runtime.stores.contracts import AccountRow
from runtime.stores.postgres import PostgresStore

async def main(url, job, count, me):
    store = await PostgresStore.open(url, max_size=8)
    if job == "save":
        read = [await store.sealed_tokens("acme:pins", f"a{n}") for n in range(count)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    order = list(range(count))
    random.shuffle(order)
    if job == "take":
        async def one(n):
            row = await store.take_login_state(f"state-{n}")
            return None if row is None else row.state_hash
    else:
        async def one(n):
            row = AccountRow("acme:pins", f"a{n}", "connected", (), None, 0.0, None, 0)
            saved = await store.save_account(
                row, me.encode(), expected_version=read[n].version
            )
            return f"a{n}" if saved else None
    won = await asyncio.gather(*(one(n) for n in order))
    await store.close()
    print(json.dumps(won), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


async def race(url: str, job: str, count: int) -> list[list[str | None]]:
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
            name,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        for name in ("first", "second")
    ]
    for child in children:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"ready"
    results = await asyncio.gather(*(child.communicate(b"go\n") for child in children))
    for child in children:
        assert child.returncode == 0
    return [json.loads(out) for out, _ in results]


async def test_two_processes_taking_the_same_login_states_get_each_exactly_once(
    postgres_url: str,
) -> None:
    async with await PostgresStore.open(postgres_url) as store:
        for n in range(100):
            row = LoginStateRow(f"state-{n}", SERVICE, None, "http://x/cb", "b", "{}", 2e9)
            await store.add_login_state(row, now=0.0)

        first, second = await race(postgres_url, "take", 100)

        taken = [name for name in first + second if name is not None]
        assert sorted(taken) == sorted(f"state-{n}" for n in range(100))  # none twice
        assert await store.take_login_state("state-0") is None


async def test_of_two_processes_writing_one_vault_version_the_stale_writer_is_refused(
    postgres_url: str,
) -> None:
    async with await PostgresStore.open(postgres_url) as store:
        for n in range(50):
            row = AccountRow(SERVICE, f"a{n}", "connected", (), None, 0.0, None, 0)
            assert await store.save_account(row, b"login")

        first, second = await race(postgres_url, "save", 50)

        won = {"first": set(first) - {None}, "second": set(second) - {None}}
        assert not won["first"] & won["second"]  # never both writes kept
        assert won["first"] | won["second"] == {f"a{n}" for n in range(50)}
        for n in range(50):
            winner = "first" if f"a{n}" in won["first"] else "second"
            found = await store.sealed_tokens(SERVICE, f"a{n}")
            assert found is not None
            assert found.sealed == winner.encode()  # the refused write changed nothing
            assert found.version == 2
