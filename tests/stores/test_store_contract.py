"""The store contract, run against every store, then what only the SQLite store promises."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.envelope import Envelope, new_id
from runtime.errors import ConfigurationError
from runtime.stores import DeadLetter, MemoryStore, SQLiteStore, Store
from runtime.stores.sqlite_schema import SCHEMA_VERSION

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)


@pytest.fixture(params=["memory", "sqlite"], ids=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "memory":
        opened = MemoryStore()
    else:
        opened = await SQLiteStore.open(tmp_path / "home" / "flowmixer.db")
    yield opened
    await opened.close()


def make_letter(
    *,
    flow_id: str = "repin",
    component_id: str = "copy",
    failed_at: float = 1_000.0,
    letter_id: str | None = None,
    payload: Any = None,
    retry_requested: bool = False,
) -> DeadLetter:
    envelope = Envelope(
        flow_id=flow_id,
        component_id=component_id,
        port="in",
        payload={"boardId": "2002", "title": "Blue"} if payload is None else payload,
        correlation_id="event-7",
        trail={"watch": {"out": {"id": "p1", "title": "Blue", "tags": ["a", "b"]}}},
        attempt=5,
        created_at=990.25,
    )
    return DeadLetter(
        id=letter_id or new_id(),
        envelope=envelope,
        error="the API said no",
        error_type="HTTPError",
        attempts=5,
        failed_at=failed_at,
        retry_requested=retry_requested,
    )


# -- state ----------------------------------------------------------------------------------


async def test_a_key_never_set_reads_as_none(store: Store):
    assert await store.get_state("repin", "watch", "cursor") is None


async def test_a_value_set_reads_back_equal(store: Store):
    value = {"cursor": "b-17", "seen": [1, 2, 3], "nested": {"ok": True, "ratio": 0.5}}

    await store.set_state("repin", "watch", "progress", value)

    assert await store.get_state("repin", "watch", "progress") == value


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
async def test_any_json_value_reads_back_equal(store: Store, value: Any):
    await store.set_state("repin", "watch", "value", value)

    assert await store.get_state("repin", "watch", "value") == value


async def test_text_with_a_lone_surrogate_reads_back_equal(store: Store):
    await store.set_state("repin", "watch", "odd", {"text": "half \ud83d of an emoji"})

    assert await store.get_state("repin", "watch", "odd") == {"text": "half \ud83d of an emoji"}


async def test_tuples_read_back_as_lists(store: Store):
    await store.set_state("repin", "watch", "pair", (1, ("a", None)))

    assert await store.get_state("repin", "watch", "pair") == [1, ["a", None]]


async def test_setting_a_key_again_replaces_its_value(store: Store):
    await store.set_state("repin", "watch", "cursor", "first")
    await store.set_state("repin", "watch", "cursor", "second")

    assert await store.get_state("repin", "watch", "cursor") == "second"


async def test_deleting_a_key_forgets_it_and_deleting_a_missing_key_is_fine(store: Store):
    await store.set_state("repin", "watch", "cursor", "b-1")

    await store.delete_state("repin", "watch", "cursor")
    await store.delete_state("repin", "watch", "cursor")

    assert await store.get_state("repin", "watch", "cursor") is None


async def test_state_is_kept_apart_per_flow_and_component(store: Store):
    await store.set_state("repin", "watch", "cursor", 1)
    await store.set_state("repin", "copy", "cursor", 2)
    await store.set_state("backup", "watch", "cursor", 3)

    assert await store.get_state("repin", "watch", "cursor") == 1
    assert await store.get_state("repin", "copy", "cursor") == 2
    assert await store.get_state("backup", "watch", "cursor") == 3


async def test_changing_a_value_after_storing_it_does_not_change_the_stored_value(store: Store):
    value = {"seen": ["p1"]}
    await store.set_state("repin", "watch", "seen", value)

    value["seen"].append("p2")

    assert await store.get_state("repin", "watch", "seen") == {"seen": ["p1"]}


async def test_changing_a_value_read_back_does_not_change_the_stored_value(store: Store):
    await store.set_state("repin", "watch", "seen", {"seen": ["p1"]})

    (await store.get_state("repin", "watch", "seen"))["seen"].append("p2")

    assert await store.get_state("repin", "watch", "seen") == {"seen": ["p1"]}


def _self_containing() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({1, 2}, "set"),
        ({"when": object()}, "object"),
        (b"bytes", "bytes"),
        (math.nan, "nan"),
        ([1, math.inf], "inf"),
        ({"ok": {3: "x"}}, "keys must be strings"),
        (_self_containing(), "contains itself"),
    ],
    ids=["set", "object-inside", "bytes", "nan", "infinity-inside", "number-key", "cycle"],
)
async def test_a_value_that_is_not_json_data_is_refused_naming_the_key(
    store: Store, value: Any, problem: str
):
    with pytest.raises(TypeError, match="'cursor'") as caught:
        await store.set_state("repin", "watch", "cursor", value)

    assert problem in str(caught.value)


async def test_a_refused_value_leaves_the_previous_value_in_place(store: Store):
    await store.set_state("repin", "watch", "cursor", "b-1")

    with pytest.raises(TypeError):
        await store.set_state("repin", "watch", "cursor", {"b-2"})

    assert await store.get_state("repin", "watch", "cursor") == "b-1"


async def test_deleting_a_flows_state_forgets_every_key_of_that_flow_only(store: Store):
    await store.set_state("repin", "watch", "cursor", 1)
    await store.set_state("repin", "copy", "count", 2)
    await store.set_state("backup", "watch", "cursor", 3)

    removed = await store.delete_flow_state("repin")

    assert removed == 2
    assert await store.get_state("repin", "watch", "cursor") is None
    assert await store.get_state("repin", "copy", "count") is None
    assert await store.get_state("backup", "watch", "cursor") == 3
    assert await store.delete_flow_state("repin") == 0


async def test_deleting_a_flows_state_keeps_its_dead_letters(store: Store):
    letter = make_letter(flow_id="repin")
    await store.add_dead_letter(letter)

    await store.delete_flow_state("repin")

    assert await store.get_dead_letter(letter.id) is not None


# -- dead letters ---------------------------------------------------------------------------


async def test_a_dead_letter_reads_back_with_its_whole_envelope(store: Store):
    letter = make_letter()

    await store.add_dead_letter(letter)
    found = await store.get_dead_letter(letter.id)

    assert found is not None
    assert found.to_dict() == letter.to_dict()
    assert found.envelope.trail == {
        "watch": {"out": {"id": "p1", "title": "Blue", "tags": ["a", "b"]}}
    }
    assert found.envelope.attempt == 5
    assert found.envelope.correlation_id == "event-7"


async def test_a_dead_letter_read_back_is_a_copy(store: Store):
    letter = make_letter()
    await store.add_dead_letter(letter)

    first = await store.get_dead_letter(letter.id)
    assert first is not None
    first.envelope.attempt = 1
    first.envelope.payload["title"] = "changed"

    again = await store.get_dead_letter(letter.id)
    assert again is not None
    assert again.envelope.attempt == 5
    assert again.envelope.payload["title"] == "Blue"


async def test_a_dead_letter_whose_payload_is_not_json_data_is_still_kept(store: Store):
    letter = make_letter(payload={"when": object(), 7: {1, 2}, "fine": "yes"})

    await store.add_dead_letter(letter)
    found = await store.get_dead_letter(letter.id)

    assert found is not None
    assert found.envelope.payload["fine"] == "yes"
    assert "object" in found.envelope.payload["when"]
    assert "set" in found.envelope.payload["7"]


async def test_dead_letters_are_listed_newest_first(store: Store):
    older = make_letter(failed_at=100.0)
    newest = make_letter(failed_at=300.0)
    middle = make_letter(failed_at=200.0)
    for letter in (older, newest, middle):
        await store.add_dead_letter(letter)

    listed = await store.list_dead_letters()

    assert [letter.id for letter in listed] == [newest.id, middle.id, older.id]


async def test_dead_letters_failing_at_the_same_time_list_the_last_added_first(store: Store):
    first, second = make_letter(failed_at=5.0), make_letter(failed_at=5.0)
    await store.add_dead_letter(first)
    await store.add_dead_letter(second)

    assert [letter.id for letter in await store.list_dead_letters()] == [second.id, first.id]


async def test_dead_letters_can_be_listed_by_flow_by_component_or_both(store: Store):
    a = make_letter(flow_id="repin", component_id="copy")
    b = make_letter(flow_id="repin", component_id="notify")
    c = make_letter(flow_id="backup", component_id="copy")
    for letter in (a, b, c):
        await store.add_dead_letter(letter)

    def ids(letters: list[DeadLetter]) -> set[str]:
        return {letter.id for letter in letters}

    assert ids(await store.list_dead_letters(flow_id="repin")) == {a.id, b.id}
    assert ids(await store.list_dead_letters(component_id="copy")) == {a.id, c.id}
    assert ids(await store.list_dead_letters(flow_id="repin", component_id="copy")) == {a.id}
    assert await store.list_dead_letters(flow_id="nothing") == []


async def test_the_list_of_dead_letters_stops_at_the_limit(store: Store):
    letters = [make_letter(failed_at=float(n)) for n in range(5)]
    for letter in letters:
        await store.add_dead_letter(letter)

    listed = await store.list_dead_letters(limit=2)

    assert [letter.id for letter in listed] == [letters[4].id, letters[3].id]


@pytest.mark.parametrize("limit", [0, -1], ids=["zero", "negative"])
async def test_a_limit_below_one_is_refused(store: Store, limit: int):
    with pytest.raises(ValueError, match="limit"):
        await store.list_dead_letters(limit=limit)


async def test_an_unknown_dead_letter_cannot_be_read_deleted_or_retried(store: Store):
    assert await store.get_dead_letter("nope") is None
    assert await store.delete_dead_letter("nope") is False
    assert await store.request_retry("nope") is False


async def test_deleting_a_dead_letter_removes_it_once(store: Store):
    letter = make_letter()
    await store.add_dead_letter(letter)

    assert await store.delete_dead_letter(letter.id) is True
    assert await store.delete_dead_letter(letter.id) is False
    assert await store.get_dead_letter(letter.id) is None


async def test_adding_a_dead_letter_with_a_known_id_replaces_it(store: Store):
    letter = make_letter(letter_id="dl-1")
    await store.add_dead_letter(letter)

    await store.add_dead_letter(make_letter(letter_id="dl-1", failed_at=2_000.0))

    listed = await store.list_dead_letters()
    assert [(found.id, found.failed_at) for found in listed] == [("dl-1", 2_000.0)]


async def test_a_retry_request_marks_the_letter(store: Store):
    letter = make_letter()
    await store.add_dead_letter(letter)

    assert await store.request_retry(letter.id) is True

    found = await store.get_dead_letter(letter.id)
    assert found is not None
    assert found.retry_requested is True


async def test_taking_retries_returns_and_removes_only_the_marked_letters_of_the_flow(
    store: Store,
):
    late = make_letter(flow_id="repin", failed_at=30.0)
    early = make_letter(flow_id="repin", failed_at=10.0)
    unmarked = make_letter(flow_id="repin", failed_at=20.0)
    other_flow = make_letter(flow_id="backup", failed_at=5.0)
    for letter in (late, early, unmarked, other_flow):
        await store.add_dead_letter(letter)
    for letter in (late, early, other_flow):
        await store.request_retry(letter.id)

    taken = await store.take_retries("repin")

    assert [letter.id for letter in taken] == [early.id, late.id]
    assert all(letter.retry_requested for letter in taken)
    assert taken[0].to_dict() == {**early.to_dict(), "retry_requested": True}
    assert await store.take_retries("repin") == []
    remaining = {letter.id for letter in await store.list_dead_letters()}
    assert remaining == {unmarked.id, other_flow.id}


async def test_letters_taken_at_the_same_time_are_each_handed_out_once(store: Store):
    letters = [make_letter(failed_at=float(n)) for n in range(30)]
    for letter in letters:
        await store.add_dead_letter(letter)
        await store.request_retry(letter.id)

    batches = await asyncio.gather(*(store.take_retries("repin") for _ in range(5)))

    handed_out = [letter.id for batch in batches for letter in batch]
    assert sorted(handed_out) == sorted(letter.id for letter in letters)


async def test_a_closed_store_refuses_to_be_used(store: Store):
    await store.close()
    await store.close()

    with pytest.raises(RuntimeError, match="closed"):
        await store.get_state("repin", "watch", "cursor")
    with pytest.raises(RuntimeError, match="closed"):
        await store.add_dead_letter(make_letter())


# -- SQLite only ----------------------------------------------------------------------------


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
