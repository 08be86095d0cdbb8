"""The store contract, run against every store: memory, SQLite and PostgreSQL.

What only one backend promises is in ``test_sqlite_store.py`` and ``test_postgres_store.py``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.envelope import Envelope, new_id
from runtime.errors import DuplicateEventError, StaleStateError
from runtime.stores import DeadLetter, MemoryStore, SQLiteStore, Store
from runtime.stores.base import EffectRecord, IdempotencyKey, VersionedState
from runtime.stores.letters import EVERY_LETTER, DeadLetterCount, DeadLetterQuery
from runtime.stores.postgres import PostgresStore
from tests.postgres_server import create_database

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


BACKENDS = ["memory", "sqlite", "postgres"]


async def open_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A new empty store of ``kind`` (PostgreSQL: a new database on the session's cluster)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return await SQLiteStore.open(tmp_path / "home" / "flowmixer.db")
    url = await create_database(request.getfixturevalue("postgres_cluster"))
    return await PostgresStore.open(url, max_size=4)


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_backend(request.param, request, tmp_path)
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


async def test_a_state_value_counts_its_writes_as_its_version(store: Store):
    assert await store.get_versioned_state("f", "c", "k") == VersionedState(None, 0)

    await store.set_state("f", "c", "k", {"n": 1})
    await store.set_state("f", "c", "k", {"n": 2})

    assert await store.get_versioned_state("f", "c", "k") == VersionedState({"n": 2}, 2)


async def test_a_fenced_write_lands_only_on_the_version_it_read(store: Store):
    await store.set_state("f", "c", "k", "first", expected_version=0)
    with pytest.raises(StaleStateError):
        await store.set_state("f", "c", "k", "again from nothing", expected_version=0)

    await store.set_state("f", "c", "k", "second", expected_version=1)
    with pytest.raises(StaleStateError):
        await store.set_state("f", "c", "k", "stale", expected_version=1)

    assert await store.get_versioned_state("f", "c", "k") == VersionedState("second", 2)


async def test_of_two_writers_holding_one_version_exactly_one_lands(store: Store):
    await store.set_state("f", "c", "k", "start")
    outcomes = await asyncio.gather(
        *(store.set_state("f", "c", "k", f"w{i}", expected_version=1) for i in range(2)),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "StaleStateError"]
    found = await store.get_versioned_state("f", "c", "k")
    assert (found.value in ("w0", "w1"), found.version) == (True, 2)


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


# -- finding, counting, retrying and dropping dead letters ------------------------------


def letter(
    letter_id: str,
    *,
    flow_id: str = "repin",
    component_id: str = "copy",
    error_type: str = "NotFoundError",
    error: str = "GET /boards/1 failed: HTTP 404, Pinterest code 40: Board not found.",
    failed_at: float = 1_000.0,
) -> DeadLetter:
    envelope = Envelope(flow_id, component_id, "in", {"n": letter_id}, f"event-{letter_id}")
    return DeadLetter(letter_id, envelope, error, error_type, 1, failed_at)


SAMPLE = [
    letter("a", failed_at=100.0),
    letter("b", component_id="watch", error_type="ServerError", error="HTTP 503", failed_at=200),
    letter("c", flow_id="other", failed_at=300.0, error="Échec: the BOARD is gone"),
    letter("d", error_type="CancelError", error="rejected 'spam'", failed_at=400.0),
    letter("e", component_id="watch", failed_at=400.0, error="board missing"),
]


async def add_all(store: Store, letters: list[DeadLetter] = SAMPLE) -> None:
    for each in letters:
        await store.add_dead_letter(each)


QUERIES = {
    "everything": (DeadLetterQuery(), ["e", "d", "c", "b", "a"]),
    "one flow": (DeadLetterQuery(flow_id="repin"), ["e", "d", "b", "a"]),
    "one component": (DeadLetterQuery(component_id="watch"), ["e", "b"]),
    "one error type": (DeadLetterQuery(error_type="NotFoundError"), ["e", "c", "a"]),
    "since is included": (DeadLetterQuery(since=300.0), ["e", "d", "c"]),
    "until is not": (DeadLetterQuery(until=300.0), ["b", "a"]),
    "a window": (DeadLetterQuery(since=200.0, until=400.0), ["c", "b"]),
    "text in any case": (DeadLetterQuery(text="board"), ["e", "c", "a"]),
    "text beyond ascii": (DeadLetterQuery(text="échec"), ["c"]),
    "all at once": (
        DeadLetterQuery(
            flow_id="repin",
            component_id="watch",
            error_type="NotFoundError",
            since=400.0,
            until=401.0,
            text="MISSING",
        ),
        ["e"],
    ),
    "nothing": (DeadLetterQuery(flow_id="nowhere"), []),
}


@pytest.mark.parametrize(("query", "expected"), QUERIES.values(), ids=QUERIES.keys())
async def test_a_query_finds_exactly_the_letters_matching_every_filter_newest_first(
    store: Store, query: DeadLetterQuery, expected: list[str]
):
    await add_all(store)

    page = await store.find_dead_letters(query)

    assert [found.id for found in page.letters] == expected
    assert page.next is None
    assert all(query.matches(found) for found in page.letters)


async def test_letters_failing_at_the_same_time_list_the_last_stored_first(store: Store):
    await add_all(store)

    listed = await store.find_dead_letters(DeadLetterQuery(since=400.0))

    assert [found.id for found in listed.letters] == ["e", "d"]


async def test_pages_cover_every_letter_once_even_when_letters_come_and_go_meanwhile(
    store: Store,
):
    await add_all(store)
    seen: list[str] = []

    first = await store.find_dead_letters(limit=2)
    seen += [found.id for found in first.letters]
    await store.add_dead_letter(letter("new", failed_at=999.0))  # newer: not in later pages
    await store.delete_dead_letter("e")  # already seen: the cursor still holds
    assert first.next is not None
    second = await store.find_dead_letters(limit=2, cursor=first.next)
    seen += [found.id for found in second.letters]
    assert second.next is not None
    third = await store.find_dead_letters(limit=2, cursor=second.next)
    seen += [found.id for found in third.letters]

    assert seen == ["e", "d", "c", "b", "a"]
    assert third.next is None


@pytest.mark.parametrize("cursor", ["", "nonsense", "12.5", "x~1", "1.0~y"], ids=repr)
async def test_a_cursor_the_store_did_not_give_is_refused(store: Store, cursor: str):
    with pytest.raises(ValueError, match="is not one this store gave"):
        await store.find_dead_letters(cursor=cursor)


async def test_a_page_needs_room_for_one_letter(store: Store):
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await store.find_dead_letters(limit=0)


async def test_letters_are_counted_per_flow_component_and_error_type(store: Store):
    await add_all(store)

    assert await store.count_dead_letters() == [
        DeadLetterCount("other", "copy", "NotFoundError", 1),
        DeadLetterCount("repin", "copy", "CancelError", 1),
        DeadLetterCount("repin", "copy", "NotFoundError", 1),
        DeadLetterCount("repin", "watch", "NotFoundError", 1),
        DeadLetterCount("repin", "watch", "ServerError", 1),
    ]
    assert await store.count_dead_letters(DeadLetterQuery(text="board")) == [
        DeadLetterCount("other", "copy", "NotFoundError", 1),
        DeadLetterCount("repin", "copy", "NotFoundError", 1),
        DeadLetterCount("repin", "watch", "NotFoundError", 1),
    ]


async def test_only_the_matching_letters_are_marked_for_retry_and_taken_at_the_next_start(
    store: Store,
):
    await add_all(store)

    marked = await store.request_retries(
        DeadLetterQuery(flow_id="repin", error_type="NotFoundError")
    )
    taken = await store.take_retries("repin")

    assert marked == 2
    assert [found.id for found in taken] == ["a", "e"]  # oldest first
    remaining = await store.find_dead_letters()
    assert [found.id for found in remaining.letters] == ["d", "c", "b"]
    assert not any(found.retry_requested for found in remaining.letters)


async def test_only_the_matching_letters_are_dropped(store: Store):
    await add_all(store)

    dropped = await store.delete_dead_letters(DeadLetterQuery(flow_id="repin", until=400.0))

    assert dropped == 2
    assert [found.id for found in (await store.find_dead_letters()).letters] == ["e", "d", "c"]
    assert await store.delete_dead_letters(DeadLetterQuery(flow_id="repin", until=400.0)) == 0


async def test_the_old_listing_is_a_page_of_the_new_one(store: Store):
    await add_all(store)

    listed = await store.list_dead_letters(flow_id="repin", component_id="watch", limit=1)

    assert [found.id for found in listed] == ["e"]


letters_strategy = st.lists(
    st.builds(
        letter,
        st.uuids().map(lambda u: u.hex),
        flow_id=st.sampled_from(["f", "g"]),
        component_id=st.sampled_from(["a", "b"]),
        error_type=st.sampled_from(["CancelError", "ServerError"]),
        error=st.sampled_from(["Board gone", "HTTP 503", "Ünïcode BOARD", "x"]),
        failed_at=st.sampled_from([1.0, 2.0, 2.5, 3.0]),
    ),
    max_size=12,
    unique_by=lambda each: each.id,
)
queries_strategy = st.builds(
    DeadLetterQuery,
    flow_id=st.none() | st.sampled_from(["f", "g"]),
    component_id=st.none() | st.sampled_from(["a", "b"]),
    error_type=st.none() | st.sampled_from(["CancelError", "ServerError"]),
    since=st.none() | st.sampled_from([1.0, 2.5]),
    until=st.none() | st.sampled_from([2.0, 3.0]),
    text=st.none() | st.sampled_from(["board", "ünï", "503", "zzz"]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(letters=letters_strategy, query=queries_strategy, limit=st.integers(1, 5))
async def test_pages_and_counts_of_any_query_hold_exactly_its_letters_newest_first(
    store: Store, letters: list[DeadLetter], query: DeadLetterQuery, limit: int
):
    await store.delete_dead_letters(EVERY_LETTER)  # the store is shared by the examples
    expected = [
        each.id
        for _, each in sorted(
            ((each.failed_at, n), each) for n, each in enumerate(letters) if query.matches(each)
        )[::-1]
    ]
    await add_all(store, letters)
    found: list[str] = []
    cursor = None
    while True:
        page = await store.find_dead_letters(query, limit=limit, cursor=cursor)
        found += [each.id for each in page.letters]
        if page.next is None:
            break
        cursor = page.next
    counted = sum(c.count for c in await store.count_dead_letters(query))

    assert found == expected
    assert counted == len(expected)


# -- the effects ledger's records --------------------------------------------------------------


def effect(attempts: int = 0, **changes: Any) -> EffectRecord:
    fields: dict[str, Any] = {"updated_at": 1_000.0, "attempts": attempts, **changes}
    return EffectRecord("repin", "pin", "event-7", "d1", **fields)


async def test_an_effect_never_kept_reads_as_none(store: Store):
    assert await store.get_effect("repin", "pin", "event-7", "d1") is None


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(result=json_values, notes=st.dictionaries(st.text(max_size=8), json_values, max_size=3))
async def test_an_effect_kept_reads_back_equal_whatever_its_json(
    store: Store, result: Any, notes: dict[str, Any]
):
    record = effect(
        2, first_sent_at=990.5, uncertain=True, completed_at=1_001.25, result=result, notes=notes
    )

    await store.put_effect(record)

    assert await store.get_effect("repin", "pin", "event-7", "d1") == record


async def test_putting_an_effect_again_replaces_it(store: Store):
    await store.put_effect(effect(1, uncertain=True))
    await store.put_effect(effect(1, completed_at=1_002.0, result={"id": "p9"}, ref="p9"))

    kept = await store.get_effect("repin", "pin", "event-7", "d1")

    assert kept is not None
    assert (kept.done, kept.uncertain, kept.result) == (True, False, {"id": "p9"})


async def test_an_effect_whose_result_is_not_json_data_is_refused_naming_it(store: Store):
    with pytest.raises(TypeError, match="'result'"):
        await store.put_effect(effect(1, result={1, 2}))

    assert await store.get_effect("repin", "pin", "event-7", "d1") is None


async def test_a_claim_wins_only_for_the_attempt_that_follows_the_kept_one(store: Store):
    assert await store.claim_effect(effect(1, uncertain=True))  # nothing kept: wins
    assert not await store.claim_effect(effect(1, uncertain=True))  # the same attempt again
    assert not await store.claim_effect(effect(3, uncertain=True))  # skipping one
    assert await store.claim_effect(effect(2, uncertain=True))  # the next one

    kept = await store.get_effect("repin", "pin", "event-7", "d1")
    assert kept is not None
    assert kept.attempts == 2


async def test_a_done_effect_cannot_be_claimed(store: Store):
    await store.put_effect(effect(1, completed_at=1_001.0, result="made"))

    assert not await store.claim_effect(effect(2, uncertain=True))

    kept = await store.get_effect("repin", "pin", "event-7", "d1")
    assert kept is not None
    assert kept.result == "made"


async def test_of_many_claims_of_one_attempt_at_once_exactly_one_wins(store: Store):
    won = await asyncio.gather(*(store.claim_effect(effect(1, uncertain=True)) for _ in range(8)))

    assert won.count(True) == 1


async def test_claimed_refs_are_those_completed_effects_made(store: Store):
    await store.put_effect(effect(1, completed_at=1.0, ref="p1"))
    await store.put_effect(replace(effect(1, completed_at=1.0, ref="p2"), digest="d2"))
    await store.put_effect(replace(effect(1, uncertain=True), digest="d3"))

    assert await store.claimed_refs(["p1", "p2", "p3", "p1"]) == {"p1", "p2"}
    assert await store.claimed_refs([]) == set()


async def test_pruning_forgets_old_effects_but_keeps_uncertain_ones_longer(store: Store):
    await store.put_effect(effect(1, updated_at=10.0))
    await store.put_effect(replace(effect(1, updated_at=10.0, uncertain=True), digest="d2"))
    await store.put_effect(replace(effect(1, updated_at=50.0), digest="d3"))

    assert await store.prune_effects(20.0, uncertain_before=5.0) == 1
    assert await store.get_effect("repin", "pin", "event-7", "d2") is not None
    assert await store.prune_effects(20.0) == 1
    assert await store.get_effect("repin", "pin", "event-7", "d3") is not None


# -- idempotency keys of webhook events --------------------------------------------------------


async def test_an_idempotency_key_is_found_within_its_window_only(store: Store):
    await store.add_hook_key("repin", "hook", IdempotencyKey("k1", since=0.0), "event-1")

    assert await store.find_hook_key("repin", "hook", IdempotencyKey("k1", 0.0)) == "event-1"
    assert await store.find_hook_key("repin", "hook", IdempotencyKey("k1", 4e9)) is None
    assert await store.find_hook_key("repin", "other", IdempotencyKey("k1", 0.0)) is None


async def test_a_key_used_again_within_its_window_is_refused_naming_the_first_event(
    store: Store,
):
    await store.add_hook_key("repin", "hook", IdempotencyKey("k1", 0.0), "event-1")

    with pytest.raises(DuplicateEventError) as caught:
        await store.add_hook_key("repin", "hook", IdempotencyKey("k1", 0.0), "event-2")

    assert caught.value.event_id == "event-1"


async def test_a_key_older_than_its_window_is_recorded_anew(store: Store):
    await store.add_hook_key("repin", "hook", IdempotencyKey("k1", 0.0), "event-1")

    await store.add_hook_key("repin", "hook", IdempotencyKey("k1", 4e9), "event-2")

    assert await store.find_hook_key("repin", "hook", IdempotencyKey("k1", 0.0)) == "event-2"


async def test_of_many_events_with_one_key_at_once_exactly_one_is_recorded(store: Store):
    async def add(n: int) -> bool:
        try:
            await store.add_hook_key("repin", "hook", IdempotencyKey("k", 0.0), f"event-{n}")
        except DuplicateEventError:
            return False
        return True

    recorded = await asyncio.gather(*(add(n) for n in range(8)))

    assert recorded.count(True) == 1


async def test_keys_are_pruned_by_age_and_forgotten_with_their_flow(store: Store):
    await store.add_hook_key("repin", "hook", IdempotencyKey("k1", 0.0), "event-1")
    await store.add_hook_key("backup", "hook", IdempotencyKey("k2", 0.0), "event-2")

    assert await store.prune_hook_keys(0.0) == 0
    assert await store.delete_hook_keys("repin") == 1
    assert await store.find_hook_key("repin", "hook", IdempotencyKey("k1", 0.0)) is None
    assert await store.prune_hook_keys(4e9) == 1
    assert await store.find_hook_key("backup", "hook", IdempotencyKey("k2", 0.0)) is None
