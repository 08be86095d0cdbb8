"""Bookmark pagination: every item exactly once, page sizes 1..250, opaque bookmarks."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

RECIPES = "600000000000000001"


async def page_through(h: EmulatorHarness, path: str, **params: str) -> list[list[str]]:
    pages: list[list[str]] = []
    bookmark = None
    while True:
        query = {**params, **({"bookmark": bookmark} if bookmark else {})}
        answer = await h.call("GET", path, params=query)
        assert answer.status == 200, answer.body
        pages.append([item["id"] for item in answer.body["items"]])
        bookmark = answer.body["bookmark"]
        if bookmark is None:
            return pages


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(count=st.integers(min_value=0, max_value=60), size=st.integers(min_value=1, max_value=250))
async def test_any_page_size_pages_through_every_pin_exactly_once(
    make_emulator: MakeEmulator, count: int, size: int
) -> None:
    async with make_emulator() as h:
        board = h.emu.add_board("Paged")
        expected = [h.emu.add_pin(board.id, title=str(n)).id for n in range(count)]
        pages = await page_through(h, f"/boards/{board.id}/pins", page_size=str(size))
    seen = [pin_id for page in pages for pin_id in page]
    assert seen == list(reversed(expected))
    assert all(len(page) == size for page in pages[:-1])
    assert len(pages) == max(1, -(-count // size))


async def test_the_default_page_holds_25_items(emulator: EmulatorHarness) -> None:
    board = emulator.emu.add_board("Thirty")
    for n in range(30):
        emulator.emu.add_pin(board.id, title=str(n))
    pages = await page_through(emulator, f"/boards/{board.id}/pins")
    assert [len(p) for p in pages] == [25, 5]


async def test_an_empty_listing_is_one_page_without_a_bookmark(emulator: EmulatorHarness) -> None:
    board = emulator.emu.add_board("Empty")
    answer = await emulator.call("GET", f"/boards/{board.id}/pins")
    assert answer.body == {"items": [], "bookmark": None}


@pytest.mark.parametrize("size", ["0", "251", "ten", "-1"], ids=["zero", "251", "text", "negative"])
async def test_a_page_size_outside_1_to_250_is_refused(
    emulator: EmulatorHarness, size: str
) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("GET", "/boards", params={"page_size": size})
    emulator.assert_spec_problems(problems)
    assert answer.status == 400
    assert "page_size must be a whole number from 1 to 250" in answer.body["message"]


@pytest.mark.parametrize(
    "bookmark", ["garbled!", "eyJvIjogMX0", "e30"], ids=["not-base64", "no-listing", "empty-object"]
)
async def test_a_bookmark_that_was_not_handed_out_is_refused(
    emulator: EmulatorHarness, bookmark: str
) -> None:
    answer = await emulator.call("GET", "/boards", params={"bookmark": bookmark})
    assert answer.status == 400
    assert answer.body["code"] == 1
    assert "bookmark" in answer.body["message"]


async def test_a_bookmark_only_works_for_its_own_listing(emulator: EmulatorHarness) -> None:
    first = await emulator.call("GET", f"/boards/{RECIPES}/pins", params={"page_size": "1"})
    bookmark = first.body["bookmark"]
    assert bookmark
    other = await emulator.call("GET", "/pins", params={"page_size": "1", "bookmark": bookmark})
    assert other.status == 400
    filtered = await emulator.call(
        "GET",
        f"/boards/{RECIPES}/pins",
        params={"bookmark": bookmark, "creative_types": "VIDEO"},
    )
    assert filtered.status == 400
    same = await emulator.call("GET", f"/boards/{RECIPES}/pins", params={"bookmark": bookmark})
    assert same.status == 200


async def test_search_pins_pages_by_25_without_a_page_size(emulator: EmulatorHarness) -> None:
    board = emulator.emu.add_board("Many")
    for n in range(27):
        emulator.emu.add_pin(board.id, title=f"needle {n}")
    pages = await page_through(emulator, "/search/pins", query="needle")
    assert [len(p) for p in pages] == [25, 2]
