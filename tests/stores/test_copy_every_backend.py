"""Copying an installation (:mod:`runtime.stores.copy`) between any two backends in one process:
every backend dumps, counts and loads the same rows, the in-memory store included, and a store
filled by a copy answers as the one it was copied from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.envelope import Envelope
from runtime.errors import ConfigurationError
from runtime.stores.base import DeadLetter, IdempotencyKey, VersionedState
from runtime.stores.copy import KINDS, CopyableStore, Kind, copy_installation
from runtime.stores.letters import EVERY_LETTER, DeadLetterQuery
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from tests.stores.conftest import Backend
from tests.stores.test_db_copy import SEALED_TOKENS, populate

Everything = dict[str, list[tuple[Any, ...]]]


async def everything(store: CopyableStore) -> Everything:
    """Every record by kind; dead letters in their order (oldest first, a promise of the copy),
    the other kinds sorted, as no order is promised for them."""
    dumped = {kind.name: await store.dump_records(kind) for kind in KINDS}
    return {
        name: rows if name == "dead_letters" else sorted(rows, key=repr)
        for name, rows in dumped.items()
    }


async def test_an_installation_goes_from_any_backend_through_memory_to_sqlite_unchanged(
    store_backend: Backend, tmp_path: Path
):
    source = await store_backend.open()
    await populate(source)
    before = await everything(source)
    memory = MemoryStore()

    assert await copy_installation(source, memory) == {k: len(v) for k, v in before.items()}
    async with await SQLiteStore.open(tmp_path / "target.db") as target:
        await copy_installation(memory, target)

        assert await everything(memory) == before
        assert await everything(target) == before
    assert all(before.values())  # every kind was there to copy


async def test_memory_to_sqlite_to_memory_keeps_every_record_and_the_store_answers_alike(
    tmp_path: Path,
):
    origin = MemoryStore()
    await populate(origin)
    back = MemoryStore()

    async with await SQLiteStore.open(tmp_path / "between.db") as between:
        await copy_installation(origin, between)
        await copy_installation(between, back)

    assert await everything(back) == await everything(origin)
    for store in (origin, back):
        seen = await store.get_versioned_state("f1", "poll", "seen")
        assert seen == VersionedState(["p1", "p2", "p3"], 2)
        assert await store.get_state("f2", "poll", "cursor") == {"bookmark": "b\ud83d"}
        sealed = await store.sealed_tokens("acme:pinterest", "bo")
        assert sealed is not None
        assert (sealed.sealed, sealed.version) == (SEALED_TOKENS, 2)
        assert [a.status for a in await store.list_accounts()] == [
            "connected",
            "needs_reauthorization",
        ]
        assert [r.key for r in await store.app_config_rows()] == ["client_id", "client_secret"]
        assert [f.id for f in await store.list_flows()] == ["f1", "f2"]
        assert await store.hook_secret_hash("f2", "hook") == "a" * 64
        effect = await store.get_effect("f1", "pin", "e1", "d1")
        assert effect is not None
        assert (effect.result, effect.ref) == ({"id": "p1"}, "p1")
        assert await store.find_hook_key("f1", "hook", IdempotencyKey("k1", 0.0)) == "e1"
        page = await store.find_dead_letters(DeadLetterQuery(flow_id="f1"), limit=2)
        assert [letter.id for letter in page.letters] == ["l2", "l1"]  # newest first
        assert page.next is not None
        assert [letter.envelope.payload for letter in await store.requested_retries("f1")] == [
            {"n": 1}
        ]


async def test_a_copy_into_a_memory_store_holding_records_is_refused_unless_forced(
    tmp_path: Path,
):
    async with await SQLiteStore.open(tmp_path / "origin.db") as origin:
        await populate(origin)
        target = MemoryStore()
        await target.save_flow("f9", "{}", {"hook": "b" * 64}, status="run")
        await target.set_state("f9", "poll", "seen", [])

        with pytest.raises(ConfigurationError, match="1 deployed flows, 1 hook secrets, 1 comp"):
            await copy_installation(origin, target)
        assert [f.id for f in await target.list_flows()] == ["f9"]

        await copy_installation(origin, target, force=True)
        assert await everything(target) == await everything(origin)
        assert await target.get_flow("f9") is None


async def test_a_row_the_memory_store_cannot_read_is_refused_naming_its_kind_and_replaces_none():
    store = MemoryStore()
    await store.set_state("f1", "poll", "seen", [1])
    accounts = next(kind for kind in KINDS if kind.name == "accounts")
    good = ("acme:pinterest", "ana", b"sealed", "connected", '["pins:read"]', None, None, 1.0, 1)
    bad = ("acme:pinterest", "bo", b"sealed", "connected", "not json", None, None, 1.0, 1)

    with pytest.raises(ValueError, match=r"^vault accounts: a row the in-memory store cannot keep"):
        await store.load_records(accounts, [good, bad])

    assert await store.count_records(accounts) == 0
    assert await store.get_state("f1", "poll", "seen") == [1]


async def test_a_kind_the_memory_store_does_not_keep_is_refused_by_name():
    logins = Kind("oauth_states", "OAuth logins", "oauth_states", ("state_hash",))

    with pytest.raises(ValueError, match="'oauth_states'"):
        await MemoryStore().dump_records(logins)


LETTERS = st.lists(
    st.tuples(st.integers(0, 5), st.booleans(), st.text(max_size=8)), min_size=1, max_size=12
)


@settings(max_examples=30, deadline=None)
@given(LETTERS)
async def test_dead_letters_copied_into_memory_keep_their_order_and_their_marks(
    letters: list[tuple[int, bool, str]],
):
    origin = MemoryStore()
    for n, (failed_at, retry, error) in enumerate(letters):
        envelope = Envelope("f1", "pin", "in", {"n": n}, f"e{n}")
        letter = DeadLetter(f"l{n}", envelope, error, "ServerError", 1, float(failed_at), retry)
        await origin.add_dead_letter(letter)
    back = MemoryStore()

    await copy_installation(origin, back)

    everyone = EVERY_LETTER
    listed = [(d.id, d.retry_requested) for d in (await back.find_dead_letters(everyone)).letters]
    assert listed == [
        (d.id, d.retry_requested) for d in (await origin.find_dead_letters(everyone)).letters
    ]
    assert await everything(back) == await everything(origin)
