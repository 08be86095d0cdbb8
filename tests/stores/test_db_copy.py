"""``flowmixer db copy``: a whole installation from SQLite to PostgreSQL and back, every record
as it was, sealed values still sealed, a non-empty target refused, no secret printed."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.envelope import Envelope
from runtime.errors import ConfigurationError
from runtime.stores.base import DeadLetter, EffectRecord, IdempotencyKey
from runtime.stores.contracts import AccountRow, ConfigRow
from runtime.stores.copy import KINDS, copy_installation
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore
from tests.stores.conftest import AnyStore

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "pw-never-printed"
BOX = SecretBox([generate_key()])
SEALED_TOKENS = BOX.seal(b'{"access_token": "tok-never-printed"}')
SEALED_SECRET = BOX.seal(b"client-secret-never-printed").decode()

# The auth and server tables as the SQLite store names them; on PostgreSQL these come from its
# own schema steps once they exist (then these statements do nothing).
PG_TABLES = (
    """CREATE TABLE IF NOT EXISTS app_config (service text NOT NULL, key text NOT NULL,
        value text NOT NULL, secret boolean NOT NULL, updated_at double precision NOT NULL,
        PRIMARY KEY (service, key))""",
    """CREATE TABLE IF NOT EXISTS accounts (service text NOT NULL, name text NOT NULL,
        sealed_tokens bytea NOT NULL, status text NOT NULL, scopes text NOT NULL,
        expires_at double precision, reason text, updated_at double precision NOT NULL,
        version bigint NOT NULL DEFAULT 1, PRIMARY KEY (service, name))""",
    """CREATE TABLE IF NOT EXISTS flows (id text PRIMARY KEY, definition_json text NOT NULL,
        status text NOT NULL, updated_at double precision NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hooks (flow_id text NOT NULL, component_id text NOT NULL,
        secret_hash text NOT NULL, PRIMARY KEY (flow_id, component_id))""",
)


async def populate(store: AnyStore) -> None:
    """An installation with at least two records of every kind."""
    await store.put_app_config(
        [
            ConfigRow("acme:pinterest", "client_id", "1234", False),
            ConfigRow("acme:pinterest", "client_secret", SEALED_SECRET, True),
        ]
    )
    for name in ("ana", "bo"):
        row = AccountRow("acme:pinterest", name, "connected", ("pins:read",), 9e9, 0.0, None, 0)
        await store.save_account(row, SEALED_TOKENS)
    await store.mark_account("acme:pinterest", "bo", "needs_reauthorization", "revoked")
    for flow_id in ("f1", "f2"):
        await store.save_flow(flow_id, f'{{"id": "{flow_id}"}}', {"hook": "a" * 64}, status="run")
    await store.set_state("f1", "poll", "seen", ["p1", "p2"])
    await store.set_state("f1", "poll", "seen", ["p1", "p2", "p3"], expected_version=1)
    await store.set_state("f2", "poll", "cursor", {"bookmark": "b\ud83d"})
    await store.put_effect(
        EffectRecord("f1", "pin", "e1", "d1", 1.5, 1, 1.0, False, 1.5, {"id": "p1"}, "p1")
    )
    await store.put_effect(
        EffectRecord("f1", "pin", "e2", "d2", 2.5, 2, 2.0, True, notes={"media_id": "m"})
    )
    for n in range(3):
        envelope = Envelope("f1", "pin", "in", {"n": n}, f"e{n}")
        await store.add_dead_letter(
            DeadLetter(f"l{n}", envelope, "HTTP 503", "ServerError", 3, 7.0)
        )
    await store.request_retry("l1")
    await store.add_hook_key("f1", "hook", IdempotencyKey("k1", 0.0), "e1")
    await store.add_hook_key("f2", "hook", IdempotencyKey("k2", 0.0), "e2")


async def everything(store: SQLiteStore | PostgresStore) -> dict[str, list[tuple[object, ...]]]:
    return {kind.name: await store.dump_records(kind) for kind in KINDS}


async def cli(*args: str) -> tuple[int, str]:
    """``python -m runtime.cli`` with ``args`` in a child process; exit code and all output."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    out, _ = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode()


@pytest.fixture
async def pg_url(postgres_url: str) -> str:
    """The test database, its URL carrying a password (trust authentication ignores it)."""
    async with await PostgresStore.open(postgres_url) as store:
        for statement in PG_TABLES:
            await store.pool.execute(statement)
    return postgres_url.replace("@", f":{PASSWORD}@", 1)


async def test_an_installation_copied_to_postgresql_and_back_keeps_every_record(
    tmp_path: Path, pg_url: str
):
    origin = tmp_path / "origin.db"
    async with await SQLiteStore.open(origin) as store:
        await populate(store)
        before = await everything(store)

    code, out = await cli("db", "copy", "--from", f"sqlite:///{origin}", "--to", pg_url)
    assert code == 0, out

    async with await PostgresStore.open(pg_url) as pg:
        assert await everything(pg) == before
        async with await SQLiteStore.open(tmp_path / "back.db") as back:
            await copy_installation(pg, back)
            after = await everything(back)
    assert after == before
    assert all(before[kind.name] for kind in KINDS)  # every kind was there to copy
    assert before["accounts"][0][2] == SEALED_TOKENS  # still sealed, and still opens
    assert BOX.open(after["accounts"][0][2]) == b'{"access_token": "tok-never-printed"}'
    assert "2  deployed flows" in out
    assert "3  dead letters" in out
    assert "OAuth logins under way" in out  # says what it did not copy


async def test_a_copy_into_a_database_that_holds_records_is_refused_unless_forced(
    tmp_path: Path, pg_url: str
):
    origin = tmp_path / "origin.db"
    async with await SQLiteStore.open(origin) as store:
        await populate(store)
    assert (await cli("db", "copy", "--from", f"sqlite:///{origin}", "--to", pg_url))[0] == 0

    code, out = await cli("db", "copy", "--from", f"sqlite:///{origin}", "--to", pg_url)

    assert code == 1
    assert "not empty" in out
    assert "2 deployed flows" in out
    assert "--force" in out
    code, out = await cli("db", "copy", "--from", f"sqlite:///{origin}", "--to", pg_url, "--force")
    assert code == 0, out
    async with await SQLiteStore.open(tmp_path / "other.db") as other:
        await other.save_flow("f9", "{}", {}, status="run")
        with pytest.raises(ConfigurationError, match="1 deployed flows"):
            await copy_installation(other, other)


async def test_a_copy_prints_no_password_token_or_secret(tmp_path: Path, pg_url: str):
    origin = tmp_path / "origin.db"
    async with await SQLiteStore.open(origin) as store:
        await populate(store)

    outputs = [
        await cli("db", "copy", "--from", f"sqlite:///{origin}", "--to", pg_url),
        await cli("db", "copy", "--from", f"sqlite:///{origin}", "--to", pg_url),  # refused
        await cli("db", "copy", "--json", "--from", pg_url, "--to", f"sqlite:///{tmp_path}/b.db"),
    ]

    for _, out in outputs:
        assert PASSWORD not in out
        assert "never-printed" not in out
        assert SEALED_SECRET not in out
    assert [code for code, _ in outputs] == [0, 1, 0]
