"""outputMode: first, array or each on ``out``, and one ``notFound`` message for no items."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.pinterest.base import OUTPUT_MODES, fetch_limit, send_items
from components.pinterest.client import PinterestClient
from components.pinterest.models import Board, Pin
from runtime.connector.errors import InputError, ServerError
from tests.pinterest.stub_api import RecordingNode, StubApi, SwappingCredentials, pages

INPUT = {"boardId": "42"}


class Source:
    """An async generator over ``items`` that records how far it was read and if it was closed."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.pulled = 0
        self.closed = False

    async def iterate(self) -> AsyncIterator[Any]:
        try:
            for item in self.items:
                self.pulled += 1
                yield item
        finally:
            self.closed = True


async def run(items: list[Any], mode: str, limit: int = 100) -> tuple[list[Any], Source, int]:
    node = RecordingNode()
    source = Source(items)
    count = await send_items(node.context(), source.iterate(), mode=mode, limit=limit, input=INPUT)
    return node.sent, source, count


async def test_first_sends_the_first_item_and_reads_no_further():
    sent, source, count = await run([{"id": "1"}, {"id": "2"}, {"id": "3"}], "first")

    assert sent == [("out", {"id": "1"})]
    assert count == 1
    assert source.pulled == 1
    assert source.closed


async def test_array_sends_one_message_with_the_items_and_their_count():
    sent, source, count = await run([{"id": "1"}, {"id": "2"}], "array")

    assert sent == [("out", {"items": [{"id": "1"}, {"id": "2"}], "count": 2})]
    assert count == 2
    assert source.closed


async def test_each_sends_one_message_per_item_in_order():
    sent, _, count = await run([{"id": "1"}, {"id": "2"}, {"id": "3"}], "each")

    assert sent == [("out", {"id": "1"}), ("out", {"id": "2"}), ("out", {"id": "3"})]
    assert count == 3


@pytest.mark.parametrize("mode", ["array", "each"])
async def test_when_paging_fails_half_way_nothing_was_sent_so_a_retry_sends_no_duplicate(mode):
    async def failing() -> AsyncIterator[Any]:
        yield {"id": "1"}
        yield {"id": "2"}
        raise ServerError("GET /v5/boards failed: HTTP 503", status=503)

    node = RecordingNode()

    with pytest.raises(ServerError):
        await send_items(node.context(), failing(), mode=mode, limit=10, input=INPUT)

    assert node.sent == []


@pytest.mark.parametrize("mode", OUTPUT_MODES)
async def test_no_items_sends_one_not_found_message_with_the_input_and_nothing_on_out(mode):
    sent, source, count = await run([], mode)

    assert sent == [("notFound", {"count": 0, "input": INPUT})]
    assert count == 0
    assert source.closed


@pytest.mark.parametrize(("mode", "messages"), [("array", 1), ("each", 3)], ids=["array", "each"])
async def test_the_limit_caps_what_is_read_and_sent(mode, messages):
    sent, source, count = await run([{"id": str(n)} for n in range(10)], mode, limit=3)

    assert count == 3
    assert len(sent) == messages
    assert source.pulled == 3
    assert source.closed


@given(
    total=st.integers(min_value=0, max_value=30),
    limit=st.integers(min_value=1, max_value=40),
    mode=st.sampled_from(OUTPUT_MODES),
)
@settings(max_examples=60, deadline=None)
async def test_every_mode_sends_min_of_limit_and_total_items(total, limit, mode):
    items = [{"n": n} for n in range(total)]
    sent, _, count = await run(items, mode, limit=limit)

    expected = items[: 1 if mode == "first" else limit]
    if not expected:
        assert sent == [("notFound", {"count": 0, "input": INPUT})]
    elif mode == "array":
        assert sent == [("out", {"items": expected, "count": len(expected)})]
    else:
        assert sent == [("out", item) for item in expected]
    assert count == len(expected)


async def test_models_are_sent_as_json_without_empty_fields():
    pin = Pin.model_validate(
        {"id": "7", "title": "Soup", "description": None, "extra_field": {"kept": True}}
    )

    sent, _, _ = await run([pin], "first")

    assert sent == [("out", {"id": "7", "title": "Soup", "extra_field": {"kept": True}})]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"mode": "all"}, "outputMode"), ({"limit": 0}, "limit"), ({"limit": True}, "limit")],
    ids=["unknown-mode", "limit-0", "limit-bool"],
)
async def test_a_bad_mode_or_limit_is_refused_naming_the_property(kwargs, field):
    arguments = {"mode": "each", "limit": 10, **kwargs}

    with pytest.raises(InputError) as raised:
        await send_items(RecordingNode().context(), Source([1]).iterate(), input=None, **arguments)

    assert raised.value.field == field


@pytest.mark.parametrize(
    ("mode", "limit", "expected"),
    [("first", 100, 1), ("array", 100, 100), ("each", 7, 7)],
    ids=["first", "array", "each"],
)
def test_first_asks_the_client_for_one_item_only(mode, limit, expected):
    assert fetch_limit(mode, limit) == expected


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
