"""Schema versions on both backends: fresh databases at the latest, older ones upgraded, newer
ones refused, and ``flowmixer db status`` / ``flowmixer db upgrade``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from runtime.cli import main
from runtime.errors import ConfigurationError
from runtime.logging import reset_logging
from runtime.stores import postgres_schema, sqlite_schema
from runtime.stores.postgres import PostgresStore
from runtime.stores.postgres_schema import Migration
from runtime.stores.sqlite import SQLiteStore
from tests.postgres_server import PostgresCluster, create_database

SQLITE_LATEST = len(sqlite_schema.MIGRATIONS)
POSTGRES_LATEST = len(postgres_schema.MIGRATIONS)
PROBE_STEP = Migration(POSTGRES_LATEST + 1, "a probe table", ("CREATE TABLE probe (x int)",))


@pytest.fixture(autouse=True)
def _fresh_logging():
    yield
    reset_logging()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    monkeypatch.delenv("FLOWMIXER_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> str:
    """A new empty database, for the tests that run the command line (outside a loop)."""
    return asyncio.run(create_database(postgres_cluster))


def db(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["db", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _sqlite_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


async def _postgres_versions(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    return [row["version"] for row in rows]


# -- PostgreSQL --------------------------------------------------------------------------------


async def test_a_fresh_postgres_database_is_brought_to_the_latest_version_at_open(
    postgres_url: str,
):
    async with await PostgresStore.open(postgres_url):
        pass

    assert await _postgres_versions(postgres_url) == list(range(1, POSTGRES_LATEST + 1))


async def test_two_stores_opening_a_fresh_database_at_once_apply_each_step_once(
    postgres_url: str,
):
    stores = await asyncio.gather(*(PostgresStore.open(postgres_url) for _ in range(3)))
    for store in stores:
        await store.close()

    assert await _postgres_versions(postgres_url) == list(range(1, POSTGRES_LATEST + 1))


async def test_a_postgres_database_newer_than_the_code_is_refused_naming_both_versions(
    postgres_url: str,
):
    await (await PostgresStore.open(postgres_url)).close()
    conn = await asyncpg.connect(postgres_url)
    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    await conn.close()

    with pytest.raises(ConfigurationError) as caught:
        await PostgresStore.open(postgres_url)

    assert f"schema version 99, newer than the {POSTGRES_LATEST} this flowmixer" in str(
        caught.value
    )


async def test_an_unreachable_postgres_database_is_refused_without_its_password(
    postgres_cluster: PostgresCluster,
):
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres_cluster.port}/no_such_db"

    with pytest.raises(ConfigurationError) as caught:
        await PostgresStore.open(url)

    assert "no_such_db" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


def test_db_status_lists_the_pending_postgres_steps_and_upgrade_applies_them(
    pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    code, out, _ = db("status", "--database", pg_url, capsys=capsys)
    assert code == 0
    assert "schema version: 0" in out
    assert f"1: {postgres_schema.MIGRATIONS[0].name}" in out

    assert db("upgrade", "--database", pg_url, capsys=capsys)[0] == 0
    # A later flowmixer with one more step finds the database one behind.
    monkeypatch.setattr(postgres_schema, "MIGRATIONS", (*postgres_schema.MIGRATIONS, PROBE_STEP))
    code, out, _ = db("status", "--json", "--database", pg_url, capsys=capsys)
    assert (code, json.loads(out)["pending"]) == (0, [f"{PROBE_STEP.version}: a probe table"])

    code, out, _ = db("upgrade", "--database", pg_url, capsys=capsys)

    assert code == 0
    assert f"from version {POSTGRES_LATEST} to {POSTGRES_LATEST + 1}" in out
    assert asyncio.run(_postgres_versions(pg_url))[-1] == PROBE_STEP.version
    code, out, _ = db("status", "--database", pg_url, capsys=capsys)
    assert "up to date" in out


def test_db_status_names_a_postgres_database_without_its_password(
    postgres_cluster: PostgresCluster, home: Path, capsys: pytest.CaptureFixture[str]
):
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres_cluster.port}/postgres"

    code, out, err = db("status", "--database", url, capsys=capsys)

    assert code == 0
    assert "postgresql://postgres:***@127.0.0.1" in out
    assert "s3cret-pw" not in out + err


# -- SQLite ------------------------------------------------------------------------------------


def test_db_status_on_a_new_home_shows_every_step_pending_and_creates_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    code, out, _ = db("status", "--json", capsys=capsys)

    shown = json.loads(out)
    assert code == 0
    assert shown["database"] == f"sqlite:///{home / 'flowmixer.db'}"
    assert (shown["version"], shown["latest"]) == (0, SQLITE_LATEST)
    assert len(shown["pending"]) == SQLITE_LATEST
    assert shown["pending"][0].startswith("1: state, dead_letters")
    assert not home.exists()


def test_an_older_sqlite_file_is_upgraded_by_db_upgrade(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    home.mkdir()
    path = home / "flowmixer.db"
    with sqlite3.connect(path) as conn:
        for step in sqlite_schema.MIGRATIONS[:3]:
            for statement in step:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")

    code, out, _ = db("status", capsys=capsys)
    assert code == 0
    assert f"pending steps ({SQLITE_LATEST - 3}):" in out
    assert "4: flows, hooks" in out

    code, out, _ = db("upgrade", capsys=capsys)

    assert code == 0
    assert f"from version 3 to {SQLITE_LATEST}" in out
    assert _sqlite_version(path) == SQLITE_LATEST
    assert "is up to date" in db("upgrade", capsys=capsys)[1]


def test_a_sqlite_file_newer_than_the_code_is_refused_by_status_and_upgrade(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "elsewhere.db"
    asyncio.run(_close(SQLiteStore.open(path)))
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SQLITE_LATEST + 5}")
    url = f"sqlite:///{path}"

    code, out, _ = db("status", "--database", url, capsys=capsys)
    assert code == 1
    assert "newer than this flowmixer" in out

    code, _, err = db("upgrade", "--database", url, capsys=capsys)
    assert code == 1
    assert f"schema version {SQLITE_LATEST + 5}, newer than the {SQLITE_LATEST}" in err
    assert _sqlite_version(path) == SQLITE_LATEST + 5


async def _close(opening: object) -> None:
    store = await opening  # type: ignore[misc]
    await store.close()
