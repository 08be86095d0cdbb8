"""Finding, counting, retrying and dropping dead letters: the same answers from every store."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.envelope import Envelope
from runtime.stores import DeadLetter, MemoryStore, SQLiteStore, Store
from runtime.stores.letters import DeadLetterCount, DeadLetterQuery, parse_time


async def open_store(kind: str, path: Path | str = ":memory:") -> Store:
    return MemoryStore() if kind == "memory" else await SQLiteStore.open(path)


@pytest.fixture(params=["memory", "sqlite"], ids=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(request.param, tmp_path / "flowmixer.db")
    yield opened
    await opened.close()


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


@settings(max_examples=60, deadline=None)
@given(letters=letters_strategy, query=queries_strategy, limit=st.integers(1, 5))
async def test_both_stores_page_through_any_query_alike(
    letters: list[DeadLetter], query: DeadLetterQuery, limit: int
):
    expected = [
        each.id
        for _, each in sorted(
            ((each.failed_at, n), each) for n, each in enumerate(letters) if query.matches(each)
        )[::-1]
    ]
    for kind in ("memory", "sqlite"):
        opened = await open_store(kind)
        try:
            await add_all(opened, letters)
            found: list[str] = []
            cursor = None
            while True:
                page = await opened.find_dead_letters(query, limit=limit, cursor=cursor)
                found += [each.id for each in page.letters]
                if page.next is None:
                    break
                cursor = page.next
            counted = sum(c.count for c in await opened.count_dead_letters(query))
        finally:
            await opened.close()
        assert found == expected, kind
        assert counted == len(expected), kind


# -- times as people write them ---------------------------------------------------------------

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds_before_now"),
    [
        ("2026-11-29T11:00:00Z", 3600),
        ("2026-11-29T13:00:00+02:00", 3600),
        ("2026-11-29T11:30", 1800),
        ("2026-11-29", 12 * 3600),
        (str(NOW - 90), 90),
        ("45s", 45),
        ("30m", 1800),
        ("2h", 7200),
        ("1.5d", 36 * 3600),
        ("1w", 7 * 86_400),
    ],
    ids=["utc", "offset", "naive is utc", "a date", "epoch", "s", "m", "h", "d", "w"],
)
def test_a_time_may_be_iso_8601_epoch_seconds_or_an_age(text: str, seconds_before_now: float):
    assert parse_time(text, "since", now=NOW) == pytest.approx(NOW - seconds_before_now)


@pytest.mark.parametrize("text", ["yesterday", "", "5 parsecs", "nan", "inf"], ids=repr)
def test_a_time_that_cannot_be_read_is_refused_naming_the_option(text: str):
    with pytest.raises(ValueError, match=r"^--until: .* is not a time; give an ISO 8601 time"):
        parse_time(text, "--until", now=NOW)
