"""Paging a listing of any shape: every item once, only the pages needed, never an endless loop.

Against the loopback feed of :mod:`tests.connector.feed`, in its four shapes.
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.connector import (
    CursorPages,
    InputError,
    NextLinkPages,
    PaginationError,
    field_at,
    matching,
    paginate,
)
from tests.connector.feed import FIXED_PAGE, SHAPES, SIZE_PARAMS, Feed, listing


async def collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def feed_of(count: int) -> Feed:
    feed = Feed()
    for n in range(count):
        feed.add(float(n))
    return feed


@given(
    route=st.sampled_from(sorted(SHAPES)),
    count=st.integers(min_value=0, max_value=45),
    size=st.integers(min_value=1, max_value=20),
    limit=st.none() | st.integers(min_value=1, max_value=60),
    relative_links=st.booleans(),
)
@settings(max_examples=80, deadline=None)
async def test_every_item_comes_once_in_order_up_to_the_limit_fetching_only_needed_pages(
    route, count, size, limit, relative_links
):
    feed = feed_of(count)
    feed.relative_links = relative_links
    page_size = min(size, SHAPES[route].max_page_size)
    async with feed.running(), aiohttp.ClientSession() as session:
        items = await collect(listing(session, feed.base, route, page_size=page_size, limit=limit))

    assert items == feed.entries[:limit]
    wanted = count if limit is None else min(count, limit)
    per_page = FIXED_PAGE if route == "fixed" else page_size
    assert len(feed.asked(route)) == max(1, math.ceil(wanted / per_page))
    if route in SIZE_PARAMS:
        sizes = [int(query[SIZE_PARAMS[route]]) for query in feed.asked(route)]
        assert all(asked <= page_size for asked in sizes)
        if limit is not None:
            assert sum(sizes) <= limit  # the last page asks only for what is still wanted


@pytest.mark.parametrize("route", ["cursor", "numbered", "links"])
async def test_a_limit_below_the_page_size_asks_for_a_smaller_page(route):
    feed = feed_of(40)
    async with feed.running(), aiohttp.ClientSession() as session:
        items = await collect(listing(session, feed.base, route, limit=3))

    assert [entry["id"] for entry in items] == ["40", "39", "38"]
    assert [query[SIZE_PARAMS[route]] for query in feed.asked(route)] == ["3"]


async def test_a_next_link_followed_has_its_page_size_set_to_what_is_still_wanted():
    feed = feed_of(40)
    async with feed.running(), aiohttp.ClientSession() as session:
        items = await collect(listing(session, feed.base, "links", page_size=10, limit=25))

    assert len(items) == 25
    assert feed.asked("links") == [
        {"size": "10"},
        {"offset": "10", "size": "10"},
        {"offset": "20", "size": "5"},
    ]


async def test_the_callers_parameters_are_kept_on_every_page():
    feed = feed_of(6)
    async with feed.running(), aiohttp.ClientSession() as session:
        pages = listing(session, feed.base, "cursor", page_size=4, params={"tag": "news"})
        assert len(await collect(pages)) == 6

    assert feed.asked("cursor") == [
        {"tag": "news", "per_page": "4"},
        {"tag": "news", "per_page": "4", "after": "c4"},
    ]


async def test_stopping_early_fetches_no_further_page():
    feed = feed_of(30)
    async with feed.running(), aiohttp.ClientSession() as session:
        iterator = listing(session, feed.base, "cursor", page_size=10)
        first = [await anext(iterator) for _ in range(3)]
        await iterator.aclose()

    assert len(first) == 3
    assert len(feed.asked("cursor")) == 1


@pytest.mark.parametrize(
    "cursors",
    [["a", "a"], ["a", "b", "a"], [7, 7]],
    ids=["the-same-twice", "an-earlier-one", "a-number-twice"],
)
async def test_a_cursor_seen_before_is_refused_instead_of_looping(cursors):
    feed = Feed(scripted=[{"items": [{"n": n}], "next": c} for n, c in enumerate(cursors)])
    pages = CursorPages(cursor_field="next", cursor_param="next", max_page_size=10)
    async with feed.running(), aiohttp.ClientSession() as session:

        async def fetch(url: str | None, query: dict[str, Any]) -> Any:
            async with session.get(f"{feed.base}/scripted", params=query) as response:
                return await response.json()

        with pytest.raises(PaginationError) as raised:
            await collect(paginate(fetch, pages, label="Acme"))

    assert str(raised.value) == (
        f"Acme sent the same next twice after {len(cursors)} item(s); "
        "stopped instead of reading the same pages again"
    )
    assert len(feed.asked("scripted")) == len(cursors)


async def test_a_next_link_seen_before_is_refused_naming_the_link():
    feed = Feed(scripted=[{"items": [1], "paging": {"next": "/scripted?p=2"}}])
    pages = NextLinkPages(next_field="paging.next")
    async with feed.running(), aiohttp.ClientSession() as session:

        async def fetch(url: str | None, query: dict[str, Any]) -> Any:
            async with session.get(f"{feed.base}{url or '/scripted'}") as response:
                return await response.json()

        with pytest.raises(PaginationError, match=r"^Acme sent the same paging.next link twice"):
            await collect(paginate(fetch, pages, label="Acme"))

    assert feed.asked("scripted") == [{}, {"p": "2"}]


@pytest.mark.parametrize(
    ("pages", "body", "problem"),
    [
        (SHAPES["cursor"], {"meta": {}}, "Acme sent a page without an 'data' list"),
        (SHAPES["cursor"], {"data": {"a": 1}}, "Acme sent a page without an 'data' list"),
        (SHAPES["fixed"], ["not", "a", "page"], "Acme sent a page without an 'items' list"),
        (
            SHAPES["cursor"],
            {"data": [], "meta": {"next_cursor": 1.5}},
            "Acme sent a meta.next_cursor that is neither text nor a whole number",
        ),
        (
            SHAPES["cursor"],
            {"data": [], "meta": {"next_cursor": {"page": 2}}},
            "Acme sent a meta.next_cursor that is neither text nor a whole number",
        ),
        (
            SHAPES["links"],
            {"results": [], "links": {"next": 2}},
            "Acme sent a links.next that is not a link",
        ),
    ],
    ids=[
        "no-items",
        "items-not-a-list",
        "not-an-object",
        "fractional-cursor",
        "object-cursor",
        "numeric-link",
    ],
)
async def test_a_page_of_the_wrong_shape_is_refused_naming_the_field(pages, body, problem):
    async def fetch(url: str | None, query: dict[str, Any]) -> Any:
        return body

    with pytest.raises(PaginationError) as raised:
        await collect(paginate(fetch, pages, label="Acme"))
    assert str(raised.value) == problem


@pytest.mark.parametrize("end", [None, "", 0, "missing"], ids=["null", "empty", "zero", "absent"])
async def test_an_empty_cursor_ends_the_listing(end):
    body: dict[str, Any] = {"items": [1, 2]}
    if end != "missing":
        body["next"] = end
    fetched: list[Any] = []

    async def fetch(url: str | None, query: dict[str, Any]) -> Any:
        fetched.append(query)
        return body

    pages = CursorPages(cursor_field="next", cursor_param="next")
    assert await collect(paginate(fetch, pages)) == [1, 2]
    assert len(fetched) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 51}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"limit": 0}, "limit"),
        ({"limit": "3"}, "limit"),
    ],
    ids=["page-size-0", "page-size-above-max", "page-size-bool", "limit-0", "limit-text"],
)
async def test_out_of_range_sizes_are_refused_naming_the_field(kwargs, field):
    async def fetch(url: str | None, query: dict[str, Any]) -> Any:
        raise AssertionError("nothing may be fetched")

    with pytest.raises(InputError) as raised:
        await collect(paginate(fetch, SHAPES["cursor"], **kwargs))
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CursorPages(cursor_field="", cursor_param="c"), "cursor_field"),
        (lambda: CursorPages(cursor_field="a..b", cursor_param="c"), "cursor_field"),
        (lambda: NextLinkPages(items_field="data."), "items_field"),
        (lambda: NextLinkPages(max_page_size=0), "max_page_size"),
    ],
    ids=["empty-field", "empty-step", "trailing-dot", "no-page-size"],
)
def test_a_declaration_that_cannot_work_is_refused_naming_its_field(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ({"a": {"b": 1}}, "a.b", 1),
        ({"a": {"b": 1}}, "a", {"b": 1}),
        ({"a": [1]}, "a.b", None),
        ({}, "a.b", None),
        ("text", "a", None),
    ],
    ids=["nested", "top", "through-a-list", "missing", "not-an-object"],
)
def test_a_dotted_path_reads_nested_fields_and_none_when_absent(body, path, expected):
    assert field_at(body, path) == expected


async def test_matching_reads_pages_until_enough_items_matched_then_closes_them():
    feed = feed_of(100)
    async with feed.running(), aiohttp.ClientSession() as session:
        pages = listing(session, feed.base, "cursor", page_size=10)
        kept = await collect(matching(pages, lambda e: int(e["id"]) % 4 == 0, limit=6))
        with pytest.raises(StopAsyncIteration):
            await anext(pages)  # closed: nothing more is fetched

    assert [e["id"] for e in kept] == ["100", "96", "92", "88", "84", "80"]
    assert len(feed.asked("cursor")) == 3


async def test_matching_refuses_a_limit_that_is_not_a_whole_number():
    async def nothing() -> Any:
        yield 1

    with pytest.raises(InputError, match=r"^limit: "):
        await collect(matching(nothing(), bool, limit=0))
