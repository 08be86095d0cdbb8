"""Bookmark pagination: every item once, only the pages needed, never an endless loop."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.pinterest.client import PinterestClient
from components.pinterest.errors import PaginationError
from components.pinterest.models import Board
from components.pinterest.pagination import matching, paginate
from runtime.connector.errors import InputError
from tests.pinterest.stub_api import SwappingCredentials, pages

TOKEN = "pina_pagination-token"


class Pages:
    """A list split into pages of the asked size; records every fetch."""

    def __init__(self, items: list[Any], *, bookmarks: list[str | None] | None = None) -> None:
        self.items = items
        self.fetches: list[tuple[str | None, int]] = []
        self.bookmarks = bookmarks

    async def __call__(self, bookmark: str | None, page_size: int) -> dict[str, Any]:
        self.fetches.append((bookmark, page_size))
        if self.bookmarks is not None:  # scripted bookmarks: pages follow one another
            start = (len(self.fetches) - 1) * page_size
            following = self.bookmarks[len(self.fetches) - 1]
        else:
            start = int(bookmark or 0)
            following = str(start + page_size) if start + page_size < len(self.items) else None
        return {"items": self.items[start : start + page_size], "bookmark": following}


async def collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


@given(
    count=st.integers(min_value=0, max_value=60),
    page_size=st.integers(min_value=1, max_value=25),
    limit=st.none() | st.integers(min_value=1, max_value=80),
)
@settings(max_examples=60, deadline=None)
async def test_every_item_comes_once_in_order_up_to_the_limit(count, page_size, limit):
    source = Pages(list(range(count)))

    items = await collect(paginate(source, page_size=page_size, limit=limit))

    assert items == list(range(count))[:limit]
    assert all(size <= page_size for _, size in source.fetches)


async def test_a_limit_below_the_page_size_asks_for_a_smaller_page():
    source = Pages(list(range(100)))

    assert await collect(paginate(source, page_size=250, limit=3)) == [0, 1, 2]
    assert source.fetches == [(None, 3)]


async def test_the_last_page_asks_only_for_the_items_still_wanted():
    source = Pages(list(range(100)))

    assert len(await collect(paginate(source, page_size=10, limit=25))) == 25
    assert source.fetches == [(None, 10), ("10", 10), ("20", 5)]


async def test_stopping_early_fetches_no_further_page():
    source = Pages(list(range(100)))
    iterator = paginate(source, page_size=10)

    first: list[Any] = [await anext(iterator) for _ in range(3)]
    await iterator.aclose()

    assert first == [0, 1, 2]
    assert source.fetches == [(None, 10)]


async def test_an_empty_list_is_one_fetch_and_no_items():
    source = Pages([])

    assert await collect(paginate(source)) == []
    assert source.fetches == [(None, 250)]


@pytest.mark.parametrize(
    "bookmarks",
    [["a", "a"], ["a", "b", "a"]],
    ids=["the-same-twice", "an-earlier-one"],
)
async def test_a_bookmark_seen_before_is_refused_instead_of_looping(bookmarks):
    source = Pages(list(range(100)), bookmarks=bookmarks)

    with pytest.raises(PaginationError, match="same bookmark twice"):
        await collect(paginate(source, page_size=2))
    assert len(source.fetches) == len(bookmarks)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"bookmark": None}, "without an 'items' list"),
        ({"items": {"a": 1}}, "without an 'items' list"),
        (["not", "a", "page"], "without an 'items' list"),
        ({"items": [], "bookmark": 5}, "bookmark that is not text"),
    ],
    ids=["no-items", "items-not-a-list", "not-an-object", "numeric-bookmark"],
)
async def test_a_page_of_the_wrong_shape_is_refused(body, problem):
    async def fetch(bookmark: str | None, page_size: int) -> Any:
        return body

    with pytest.raises(PaginationError, match=problem):
        await collect(paginate(fetch))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 251}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"limit": 0}, "limit"),
    ],
    ids=["page-size-0", "page-size-251", "page-size-bool", "limit-0"],
)
async def test_out_of_range_sizes_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(InputError) as raised:
        await collect(paginate(Pages([1]), **kwargs))
    assert raised.value.field == field


# -- over HTTP -------------------------------------------------------------------------------


async def test_the_client_follows_bookmarks_and_keeps_the_other_parameters(stub, session):
    stub.on(
        "GET",
        "/boards",
        pages(
            {"items": [{"id": "1"}, {"id": "2"}], "bookmark": "b1"},
            {"items": [{"id": "3"}], "bookmark": None},
        ),
    )
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    boards = await collect(client.list_boards(privacy="SECRET"))

    assert boards == [Board(id="1"), Board(id="2"), Board(id="3")]
    assert [call.query for call in stub.calls("GET", "/boards")] == [
        [("privacy", "SECRET"), ("page_size", "250")],
        [("privacy", "SECRET"), ("page_size", "250"), ("bookmark", "b1")],
    ]


async def test_a_server_repeating_its_bookmark_is_stopped_after_two_pages(stub, session):
    stub.on("GET", "/boards", pages({"items": [{"id": "1"}], "bookmark": "again"}))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(PaginationError, match="after 2 item"):
        await collect(client.paginate("/boards"))

    assert len(stub.calls("GET", "/boards")) == 2


async def test_search_pins_sends_no_page_size(stub, session):
    stub.on("GET", "/search/pins", pages({"items": [{"id": "9"}], "bookmark": None}))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    pins = await collect(client.search_pins("cake", limit=5))

    assert [pin.id for pin in pins] == ["9"]
    assert stub.calls("GET", "/search/pins")[0].query == [("query", "cake")]


async def test_section_pins_filtered_by_creative_type_stop_at_the_limit(stub, session):
    items = [{"id": str(n), "creative_type": "VIDEO" if n % 2 else "REGULAR"} for n in range(9)]
    stub.on(
        "GET",
        "/boards/1/sections/2/pins",
        pages({"items": items[:5], "bookmark": "p2"}, {"items": items[5:], "bookmark": None}),
    )
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    pins = client.list_board_pins("1", section_id="2", creative_types=["VIDEO"], limit=3)

    assert [pin.id for pin in await collect(pins)] == ["1", "3", "5"]
    assert len(stub.calls("GET", "/boards/1/sections/2/pins")) == 2


async def test_matching_reads_pages_until_enough_items_matched_then_closes_them():
    source = Pages(list(range(100)))
    pages_iterator = paginate(source, page_size=10)

    evens = await collect(matching(pages_iterator, lambda n: n % 4 == 0, limit=6))

    assert evens == [0, 4, 8, 12, 16, 20]
    assert [bookmark for bookmark, _ in source.fetches] == [None, "10", "20"]
    with pytest.raises(StopAsyncIteration):
        await anext(pages_iterator)  # closed: nothing more is fetched
    assert len(source.fetches) == 3
