"""Pins on the emulator: every media source, limits, update, delete, save, lists and search."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from components.pinterest.emulator.images import PLACEHOLDER_PNG
from tests.pinterest.emulator_harness import EmulatorHarness, seeded_boards

RECIPES = "600000000000000001"
TRAVEL = "600000000000000002"
DESSERTS = "700000000000000001"
SOUP = "800000000000000001"
PNG = base64.b64encode(PLACEHOLDER_PNG).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(16)).decode()


def image_url(url: str = "https://img.invalid/a.jpg") -> dict[str, Any]:
    return {"source_type": "image_url", "url": url}


def new_pin(**fields: Any) -> dict[str, Any]:
    return {"board_id": RECIPES, "title": "New", "media_source": image_url(), **fields}


async def create(h: EmulatorHarness, **fields: Any) -> dict[str, Any]:
    answer = await h.call("POST", "/pins", json=new_pin(**fields))
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def test_a_pin_from_an_image_url_is_created_with_201(emulator: EmulatorHarness) -> None:
    emulator.clock.advance(60)
    pin = await create(
        emulator, description="d", link="https://x.invalid", alt_text="a", dominant_color="#aabbcc"
    )
    assert pin["creative_type"] == "REGULAR"
    assert pin["media"]["media_type"] == "image"
    assert pin["media"]["images"]["600x"]["url"] == "https://img.invalid/a.jpg"
    assert pin["board_id"] == RECIPES
    assert pin["board_owner"] == {"username": "flowmixer_demo"}
    assert pin["is_owner"] is True
    assert pin["parent_pin_id"] is None
    assert pin["pin_metrics"] is None
    board = await emulator.call("GET", f"/boards/{RECIPES}")
    assert board.body["pin_count"] == 3
    assert board.body["board_pins_modified_at"] == pin["created_at"]


async def test_a_pin_from_base64_is_stored_and_served_by_the_emulator(
    emulator: EmulatorHarness,
) -> None:
    source = {"source_type": "image_base64", "content_type": "image/png", "data": PNG}
    pin = await create(emulator, media_source=source)
    url = pin["media"]["images"]["150x150"]["url"]
    assert url.startswith(emulator.base + "/images/")
    async with emulator.session.get(url) as r:
        assert r.content_type == "image/png"
        assert await r.read() == PLACEHOLDER_PNG


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"source_type": "image_base64", "content_type": "image/jpeg", "data": PNG},
            "data is not a image/jpeg image",
        ),
        (
            {"source_type": "image_base64", "content_type": "image/gif", "data": PNG},
            "content_type is 'image/gif'",
        ),
        (
            {"source_type": "image_base64", "content_type": "image/png", "data": "not base64!"},
            "does not match",
        ),
        (
            {"source_type": "image_base64", "content_type": "image/png", "data": "abc"},
            "data is not valid base64",
        ),
        ({"source_type": "image_base64", "data": PNG}, "media_source.content_type is required"),
        ({"source_type": "image_url"}, "media_source.url is required"),
        ({"source_type": "gif_url", "url": "u"}, "source_type is 'gif_url'"),
        ({"source_type": "pin_url"}, "pin_url is not supported"),
        ({"url": "u"}, "media_source.source_type is required"),
    ],
    ids=[
        "jpeg-label-png-data",
        "gif",
        "bad-pattern",
        "bad-padding",
        "no-content-type",
        "no-url",
        "unknown-type",
        "pin-url",
        "no-type",
    ],
)
async def test_a_bad_media_source_is_refused_naming_the_field(
    emulator: EmulatorHarness, source: dict[str, Any], message: str
) -> None:
    with emulator.deliberately_invalid():
        answer = await emulator.call("POST", "/pins", json=new_pin(media_source=source))
    assert answer.status == 400
    assert message in answer.body["message"]


@pytest.mark.parametrize("count", [2, 5], ids=["two", "five"])
async def test_a_carousel_takes_two_to_five_images(emulator: EmulatorHarness, count: int) -> None:
    items = [{"url": f"https://img.invalid/{n}.jpg", "title": f"slide {n}"} for n in range(count)]
    pin = await create(
        emulator, media_source={"source_type": "multiple_image_urls", "items": items}
    )
    assert pin["creative_type"] == "CAROUSEL"
    assert pin["media"]["media_type"] == "multiple_images"
    assert [i["title"] for i in pin["media"]["items"]] == [f"slide {n}" for n in range(count)]


@pytest.mark.parametrize("count", [1, 6], ids=["one", "six"])
async def test_a_carousel_of_fewer_than_two_or_more_than_five_is_refused(
    emulator: EmulatorHarness, count: int
) -> None:
    items = [{"url": "https://img.invalid/x.jpg"}] * count
    source = {"source_type": "multiple_image_urls", "items": items}
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("POST", "/pins", json=new_pin(media_source=source))
    emulator.assert_spec_problems(problems)
    assert answer.status == 400
    assert f"media_source.items has {count} item(s); it takes 2 to 5" in answer.body["message"]


async def test_a_base64_carousel_checks_every_image(emulator: EmulatorHarness) -> None:
    good = {"content_type": "image/jpeg", "data": JPEG}
    source = {"source_type": "multiple_image_base64", "items": [good, good]}
    pin = await create(emulator, media_source=source)
    assert len(pin["media"]["items"]) == 2
    bad = {
        "source_type": "multiple_image_base64",
        "items": [good, {"content_type": "image/png", "data": JPEG}],
    }
    answer = await emulator.call("POST", "/pins", json=new_pin(media_source=bad))
    assert answer.status == 400
    assert "media_source.items[1].data is not a image/png image" in answer.body["message"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("title", 100), ("description", 800), ("link", 2048), ("alt_text", 500)],
    ids=["title", "description", "link", "alt-text"],
)
async def test_text_fields_are_limited(emulator: EmulatorHarness, field: str, limit: int) -> None:
    await create(emulator, **{field: "x" * limit})
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("POST", "/pins", json=new_pin(**{field: "x" * (limit + 1)}))
    emulator.assert_spec_problems(problems)
    assert answer.status == 400
    too_long = f"{field} is {limit + 1} characters long; the limit is {limit}."
    assert answer.body == {"code": 1, "message": "Invalid parameter: " + too_long}


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"board_id": None}, 400, 1),
        ({"media_source": None}, 400, 1),
        ({"board_id": "123"}, 404, 40),
        ({"board_section_id": "123"}, 404, 2031),
        ({"board_id": TRAVEL, "board_section_id": DESSERTS}, 404, 2031),
    ],
    ids=["no-board", "no-media", "unknown-board", "unknown-section", "section-of-other-board"],
)
async def test_a_pin_needs_an_existing_board_and_section(
    emulator: EmulatorHarness, changes: dict[str, Any], status: int, code: int
) -> None:
    body = {k: v for k, v in new_pin(**changes).items() if v is not None}
    answer = await emulator.call("POST", "/pins", json=body)
    assert (answer.status, answer.body["code"]) == (status, code)


async def test_a_pin_is_read_with_or_without_metrics(emulator: EmulatorHarness) -> None:
    plain = await emulator.call("GET", f"/pins/{SOUP}")
    assert plain.body["title"] == "Weeknight tomato soup"
    with_metrics = await emulator.call("GET", f"/pins/{SOUP}", params={"pin_metrics": "true"})
    assert with_metrics.body["pin_metrics"]["lifetime_metrics"]["impression"] == 0


async def test_a_pin_is_updated_and_moved(emulator: EmulatorHarness) -> None:
    emulator.clock.advance(30)
    changes = {"title": "Soup", "description": None, "board_id": TRAVEL}
    answer = await emulator.call("PATCH", f"/pins/{SOUP}", json=changes)
    assert answer.status == 200
    assert (answer.body["title"], answer.body["description"]) == ("Soup", None)
    assert answer.body["board_id"] == TRAVEL
    assert answer.body["link"] == "https://flowmixer.invalid/recipes/tomato-soup"
    for board_id in (RECIPES, TRAVEL):
        board = await emulator.call("GET", f"/boards/{board_id}")
        assert board.body["board_pins_modified_at"] == "2025-01-01T00:00:30"


async def test_a_pin_moves_into_and_out_of_a_section(emulator: EmulatorHarness) -> None:
    into = await emulator.call("PATCH", f"/pins/{SOUP}", json={"board_section_id": DESSERTS})
    assert into.body["board_section_id"] == DESSERTS
    out = await emulator.call("PATCH", f"/pins/{SOUP}", json={"board_section_id": None})
    assert out.body["board_section_id"] is None


async def test_carousel_slots_change_the_slides_texts(emulator: EmulatorHarness) -> None:
    items = [{"url": "https://img.invalid/1.jpg"}, {"url": "https://img.invalid/2.jpg"}]
    pin = await create(
        emulator, media_source={"source_type": "multiple_image_urls", "items": items}
    )
    slots = [{"title": "first"}, {"title": "second", "link": "https://x.invalid"}]
    answer = await emulator.call("PATCH", f"/pins/{pin['id']}", json={"carousel_slots": slots})
    slides = answer.body["media"]["items"]
    assert [(s["title"], s["link"]) for s in slides] == [
        ("first", None),
        ("second", "https://x.invalid"),
    ]
    refused = await emulator.call("PATCH", f"/pins/{SOUP}", json={"carousel_slots": slots})
    assert refused.status == 400


async def test_a_deleted_pin_is_not_found(emulator: EmulatorHarness) -> None:
    assert (await emulator.call("DELETE", f"/pins/{SOUP}")).status == 204
    answer = await emulator.call("GET", f"/pins/{SOUP}")
    assert (answer.status, answer.body) == (404, {"code": 50, "message": "Pin not found."})


async def test_saving_a_pin_makes_a_copy_that_points_at_it(emulator: EmulatorHarness) -> None:
    body = {"board_id": TRAVEL}
    answer = await emulator.call("POST", f"/pins/{SOUP}/save", json=body)
    assert answer.status == 201
    assert answer.body["parent_pin_id"] == SOUP
    assert answer.body["board_id"] == TRAVEL
    assert answer.body["id"] != SOUP
    assert answer.body["title"] == "Weeknight tomato soup"
    into_section = await emulator.call(
        "POST", f"/pins/{SOUP}/save", json={"board_section_id": DESSERTS}
    )
    assert (into_section.body["board_id"], into_section.body["board_section_id"]) == (
        RECIPES,
        DESSERTS,
    )


@pytest.mark.parametrize(
    ("pin_id", "body", "status", "code"),
    [
        ("not-a-pin", {"board_id": TRAVEL}, 404, 50),
        (SOUP, {"board_id": "123"}, 404, 40),
        (SOUP, {"board_id": TRAVEL, "board_section_id": DESSERTS}, 404, 2031),
        (SOUP, {}, 400, 1),
    ],
    ids=["unknown-pin", "unknown-board", "foreign-section", "no-target"],
)
async def test_saving_refuses_what_is_not_there(
    emulator: EmulatorHarness, pin_id: str, body: dict[str, Any], status: int, code: int
) -> None:
    answer = await emulator.call("POST", f"/pins/{pin_id}/save", json=body)
    assert (answer.status, answer.body["code"]) == (status, code)


async def test_board_pins_are_newest_first_with_the_id_breaking_ties(
    emulator: EmulatorHarness,
) -> None:
    board = emulator.emu.add_board("Same second")
    ids = [emulator.emu.add_pin(board.id, title=str(n)).id for n in range(3)]
    emulator.clock.advance(1)
    later = emulator.emu.add_pin(board.id, title="later").id
    answer = await emulator.call("GET", f"/boards/{board.id}/pins")
    assert [p["id"] for p in answer.body["items"]] == [later, *reversed(ids)]


async def test_creative_types_filter_the_board_listing(emulator: EmulatorHarness) -> None:
    items = [{"url": "https://img.invalid/1.jpg"}, {"url": "https://img.invalid/2.jpg"}]
    carousel = await create(
        emulator, media_source={"source_type": "multiple_image_urls", "items": items}
    )
    only = await emulator.call(
        "GET", f"/boards/{RECIPES}/pins", params=[("creative_types", "CAROUSEL")]
    )
    assert [p["id"] for p in only.body["items"]] == [carousel["id"]]
    both = await emulator.call(
        "GET",
        f"/boards/{RECIPES}/pins",
        params=[("creative_types", "CAROUSEL"), ("creative_types", "REGULAR")],
    )
    assert len(both.body["items"]) == 3


async def test_the_users_pins_are_filtered_by_repins(emulator: EmulatorHarness) -> None:
    saved = await emulator.call("POST", f"/pins/{SOUP}/save", json={"board_id": TRAVEL})
    every = await emulator.call("GET", "/pins")
    assert len(every.body["items"]) == 4
    natives = await emulator.call("GET", "/pins", params={"pin_filter": "exclude_repins"})
    assert saved.body["id"] not in {p["id"] for p in natives.body["items"]}
    repins = await emulator.call("GET", "/pins", params={"pin_filter": "exclude_native"})
    assert [p["id"] for p in repins.body["items"]] == [saved.body["id"]]


async def test_pins_added_in_the_app_show_up_in_listings(emulator: EmulatorHarness) -> None:
    emulator.clock.advance(5)
    pin = emulator.emu.add_pin(TRAVEL, title="Pinned on the phone")
    listed = await emulator.call("GET", f"/boards/{TRAVEL}/pins")
    assert listed.body["items"][0]["id"] == pin.id
    board = await emulator.call("GET", f"/boards/{TRAVEL}")
    assert board.body["pin_count"] == 2
    assert board.body["board_pins_modified_at"] == "2025-01-01T00:00:05"


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("tart", ["Lemon tart"]),
        ("LEMON curd", ["Lemon tart"]),
        ("walk water", ["Harbour walk"]),
        (f"{SOUP},800000000000000003", ["Harbour walk", "Weeknight tomato soup"]),
        ("nothing", []),
    ],
    ids=["title-word", "words-any-case", "title-and-description", "ids", "no-match"],
)
async def test_search_finds_pins_by_words_or_ids(
    emulator: EmulatorHarness, query: str, titles: list[str]
) -> None:
    answer = await emulator.call("GET", "/search/pins", params={"query": query})
    assert answer.status == 200
    assert sorted(p["title"] for p in answer.body["items"]) == titles


async def test_search_pins_needs_a_query(emulator: EmulatorHarness) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("GET", "/search/pins")
    emulator.assert_spec_problems(
        problems, "GET /v5/search/pins: missing required query parameter 'query'"
    )
    assert answer.status == 400
    assert "query is required" in answer.body["message"]


async def test_search_boards_lists_all_or_matching_boards(emulator: EmulatorHarness) -> None:
    every = await emulator.call("GET", "/search/boards")
    assert len(every.body["items"]) == len(seeded_boards())
    found = await emulator.call("GET", "/search/boards", params={"query": "places"})
    assert [b["name"] for b in found.body["items"]] == ["Travel"]
