"""What only the SQLite store promises: a private file, WAL, its schema version, reopening."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from runtime.errors import ConfigurationError
from runtime.stores import SQLiteStore
from runtime.stores.sqlite_schema import SCHEMA_VERSION
from tests.stores.test_store_contract import make_letter


def _files(directory: Path) -> list[str]:
    """The names in ``directory``, without SQLite's -wal/-shm companions."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(("-wal", "-shm")))


async def test_state_and_dead_letters_survive_closing_and_reopening_the_file(tmp_path: Path):
    path = tmp_path / "flowmixer.db"
    letter = make_letter()
    store = await SQLiteStore.open(path)
    await store.set_state("repin", "watch", "cursor", {"bookmark": "b-9"})
    await store.add_dead_letter(letter)
    await store.request_retry(letter.id)
    await store.close()

    async with await SQLiteStore.open(path) as reopened:
        assert await reopened.get_state("repin", "watch", "cursor") == {"bookmark": "b-9"}
        found = await reopened.get_dead_letter(letter.id)

    assert found is not None
    assert found.to_dict() == {**letter.to_dict(), "retry_requested": True}


async def test_the_file_uses_write_ahead_logging_and_waits_for_other_writers(tmp_path: Path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path, busy_timeout=2.5) as store:
        pragmas = await store._run(
            lambda: [
                store._conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "busy_timeout")
            ]
        )

    assert pragmas == ["wal", 1, 2500]  # synchronous 1 is NORMAL


async def test_missing_directories_are_created_private_and_so_is_the_file(tmp_path: Path):
    path = tmp_path / "deep" / "home" / "flowmixer.db"

    async with await SQLiteStore.open(path) as store:
        await store.set_state("repin", "watch", "cursor", 1)

    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_the_default_file_is_the_one_in_the_configured_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "fm"))

    async with await SQLiteStore.open() as store:
        await store.set_state("repin", "watch", "cursor", 1)

    assert store.path == str((tmp_path / "fm" / "flowmixer.db").resolve())
    assert _files(tmp_path / "fm") == ["flowmixer.db"]


async def test_many_tasks_setting_state_at_once_all_land(tmp_path: Path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path) as store:

        async def write(n: int) -> None:
            await store.set_state("repin", "watch", f"key-{n}", {"n": n})
            await store.set_state("repin", "watch", "shared", n)

        await asyncio.gather(*(write(n) for n in range(200)))

    async with await SQLiteStore.open(path) as reader:
        values = [await reader.get_state("repin", "watch", f"key-{n}") for n in range(200)]
        shared = await reader.get_state("repin", "watch", "shared")

    assert values == [{"n": n} for n in range(200)]
    assert shared in range(200)


async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path) as first, await SQLiteStore.open(path) as second:
        await first.set_state("repin", "watch", "cursor", "from-first")
        letter = make_letter()
        await second.add_dead_letter(letter)
        await first.request_retry(letter.id)

        assert await second.get_state("repin", "watch", "cursor") == "from-first"
        assert [found.id for found in await second.take_retries("repin")] == [letter.id]
        assert await first.get_dead_letter(letter.id) is None


async def test_the_schema_version_is_recorded_in_the_file(tmp_path: Path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path):
        pass

    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()

    assert version == SCHEMA_VERSION
    assert {"state", "dead_letters", "dead_letters_by_flow"} <= tables


async def test_a_file_written_by_a_newer_flowmixer_is_refused(tmp_path: Path):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    with pytest.raises(ConfigurationError, match="newer"):
        await SQLiteStore.open(path)


@pytest.mark.parametrize("kind", ["directory", "garbage"], ids=["a-directory", "not-sqlite"])
async def test_a_path_that_cannot_hold_the_database_is_refused_naming_it(tmp_path: Path, kind: str):
    path = tmp_path / "flowmixer.db"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a database, it is a shopping list" * 100)

    with pytest.raises(ConfigurationError, match=r"flowmixer\.db"):
        await SQLiteStore.open(path)


async def test_an_in_memory_database_needs_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    async with await SQLiteStore.open(":memory:") as store:
        await store.set_state("repin", "watch", "cursor", [1])
        assert await store.get_state("repin", "watch", "cursor") == [1]

    assert _files(tmp_path) == []


def _open_new_file(path: str, errors: Any) -> None:
    """(A forked child.) Open the store's connection to ``path``; put what went wrong."""
    from runtime.stores.sqlite import _connect

    try:
        _connect(path, 5.0).close()
        errors.put(None)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")


def test_two_processes_opening_one_new_file_at_once_both_open_it(tmp_path: Path):
    # Switching a new file to write-ahead logging needs it to itself, and SQLite answers
    # "database is locked" at once, without waiting, while another process does the same:
    # without retrying, about one opening in 25 failed.
    forked = multiprocessing.get_context("fork")
    errors = forked.Queue()
    failures: list[str] = []
    for n in range(150):
        path = str(tmp_path / f"f{n}.db")
        children = [forked.Process(target=_open_new_file, args=(path, errors)) for _ in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join(30)
        failures.extend(e for e in (errors.get(timeout=30) for _ in children) if e)
    assert failures == []
