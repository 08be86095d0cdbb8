"""Pinterest's bookmarks through the client: the other parameters kept, page size as the API
takes it, a repeated bookmark stopped, and ``first`` reading one page only.

The paging itself is :mod:`runtime.connector.pagination` (``tests/connector``).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from components.pinterest.client import PinterestClient
from components.pinterest.models import Board
from runtime.connector import PaginationError, send_items
from tests.pinterest.stub_api import RecordingNode, StubApi, SwappingCredentials, pages

TOKEN = "pina_pagination-token"


async def collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


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


async def test_first_over_http_fetches_one_page_only():
    async with StubApi().running() as stub, aiohttp.ClientSession() as session:
        stub.on(
            "GET",
            "/boards",
            pages(
                {"items": [{"id": "1"}, {"id": "2"}], "bookmark": "next"},
                {"items": [{"id": "3"}], "bookmark": None},
            ),
        )
        client = PinterestClient.connect(session, SwappingCredentials("pina_t"), api_base=stub.base)
        node = RecordingNode()

        count = await send_items(
            node.context(), client.list_boards(limit=100), mode="first", limit=100, input={}
        )

    assert count == 1
    assert node.sent == [("out", Board(id="1").model_dump(mode="json", exclude_none=True))]
    assert len(stub.calls("GET", "/boards")) == 1
