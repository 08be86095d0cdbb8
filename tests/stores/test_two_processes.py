"""The fencing rules across real processes sharing one SQLite file.

Each step runs in a child process of its own (``python -c``), so nothing is shared but the
database file: a process that read the vault before another saved cannot overwrite it, and of
two processes presenting one OAuth state at once exactly one gets it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from pathlib import Path

from runtime.auth.secretbox import generate_key

_ROOT = Path(__file__).resolve().parents[2]
_PRELUDE = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from runtime.auth.secretbox import SecretBox
    from runtime.auth.states import LoginStateError, LoginStates
    from runtime.auth.vault import TokenSet, TokenVault
    from runtime.stores.sqlite import SQLiteStore

    BOX = SecretBox([os.environ["TEST_KEY"]])

    def tokens(access):
        return TokenSet(access, "refresh-" + access, None, None, ("r",))
    """
)


async def _child(database: Path, key: str, body: str, *args: str) -> dict[str, object]:
    """Run ``body`` (an ``async def main(store, *args)`` returning JSON data) in a new process
    on ``database``; its result."""
    script = (
        _PRELUDE
        + textwrap.dedent(body)
        + textwrap.dedent(
            """
            async def run():
                async with await SQLiteStore.open(sys.argv[1]) as store:
                    print(json.dumps(await main(store, *sys.argv[2:])))
            asyncio.run(run())
            """
        )
    )
    env = {**os.environ, "TEST_KEY": key}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        str(database),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=_ROOT,
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    result: dict[str, object] = json.loads(out)
    return result


_READ = """
async def main(store):
    stored = await TokenVault(store, BOX).stored("acme:pins", "ana")
    return {"access": stored.tokens.access_token, "version": stored.version}
"""
_SAVE = """
async def main(store, access, expected):
    vault = TokenVault(store, BOX)
    version = None if expected == "none" else int(expected)
    return {"saved": await vault.save("acme:pins", "ana", tokens(access), expected=version)}
"""


async def test_a_process_that_read_an_old_vault_record_cannot_overwrite_a_newer_one(
    tmp_path: Path,
) -> None:
    database, key = tmp_path / "flowmixer.db", generate_key()
    assert await _child(database, key, _SAVE, "first", "none") == {"saved": True}
    stale = await _child(database, key, _READ)  # this process is about to refresh...
    # ...when another one refreshes first (the rotated refresh token makes the old one dead).
    assert await _child(database, key, _SAVE, "rotated", str(stale["version"])) == {"saved": True}
    late = await _child(database, key, _SAVE, "stale", str(stale["version"]))
    assert late == {"saved": False}
    assert await _child(database, key, _READ) == {
        "access": "rotated",
        "version": int(str(stale["version"])) + 1,
    }


_ISSUE = """
async def main(store):
    return {"state": await LoginStates(store).issue(
        "acme:pins", redirect_uri="http://127.0.0.1:9/cb", binding="b")}
"""
_CONSUME = """
async def main(store, state, go):
    while not os.path.exists(go):  # start together
        time.sleep(0.001)
    try:
        await LoginStates(store).consume(
            state, service="acme:pins", redirect_uri="http://127.0.0.1:9/cb", binding="b")
    except LoginStateError:
        return {"consumed": False}
    return {"consumed": True}
"""


async def test_of_processes_presenting_one_oauth_state_together_exactly_one_consumes_it(
    tmp_path: Path,
) -> None:
    database, key, go = tmp_path / "flowmixer.db", generate_key(), tmp_path / "go"
    state = str((await _child(database, key, _ISSUE))["state"])
    children = [
        asyncio.create_task(_child(database, key, _CONSUME, state, str(go))) for _ in range(3)
    ]
    await asyncio.sleep(0.5)  # let them start; the outcome holds whatever the interleaving
    go.touch()
    results = await asyncio.gather(*children)
    assert sorted(json.dumps(r) for r in results) == [
        '{"consumed": false}',
        '{"consumed": false}',
        '{"consumed": true}',
    ]
