"""Pin components (GetPin, UpdatePin, DeletePin, SavePin, ListPins, ListBoardPins, SearchPins),
each run in a flow against the emulator. CreatePin has its own module."""

from __future__ import annotations

import json

import pytest

from tests.pinterest.component_kit import run_component

RECIPES = "600000000000000001"
TRAVEL = "600000000000000002"
DESSERTS = "700000000000000001"
SOUP = "800000000000000001"
TART = "800000000000000002"
HARBOUR = "800000000000000003"
MISSING_PIN = "800000000000009999"
MISSING_BOARD = "600000000000009999"
PIN_NOT_FOUND = "HTTP 404, Pinterest code 50: Pin not found."


# -- GetPin --------------------------------------------------------------------------------------


async def test_get_pin_sends_the_pin(emulator):
    outcome = await run_component(emulator, "GetPin", [{"pinId": TART}])

    [pin] = outcome.sent()
    assert (pin["id"], pin["title"], pin["board_id"], pin["board_section_id"]) == (
        TART,
        "Lemon tart",
        RECIPES,
        DESSERTS,
    )
    assert pin["media"]["media_type"] == "image"
    assert outcome.operations == ["pins/get"]


async def test_get_pin_dead_letters_a_missing_pin_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "GetPin", [{"pinId": MISSING_PIN}])

    assert outcome.outputs == []
    assert outcome.dead_letters[0].error_type == "NotFoundError"
    assert outcome.error.endswith(f"/pins/{MISSING_PIN} failed: {PIN_NOT_FOUND}")


# -- UpdatePin -----------------------------------------------------------------------------------


async def test_update_pin_changes_the_given_fields_only(emulator):
    event = {"pinId": SOUP, "title": "Tomato soup, fast", "altText": "Soup in a blue bowl"}
    outcome = await run_component(emulator, "UpdatePin", [event])

    [pin] = outcome.sent()
    assert (pin["title"], pin["alt_text"]) == ("Tomato soup, fast", "Soup in a blue bowl")
    assert pin["description"] == "Ready in 30 minutes"
    [update] = [e for e in emulator.exchanges if e.operation_id == "pins/update"]
    assert json.loads(update.request_body) == {  # only the fields given, nothing else
        "title": "Tomato soup, fast",
        "alt_text": "Soup in a blue bowl",
    }


async def test_update_pin_moves_a_pin_to_another_board(emulator):
    outcome = await run_component(emulator, "UpdatePin", [{"pinId": SOUP, "boardId": TRAVEL}])

    assert outcome.sent()[0]["board_id"] == TRAVEL
    assert emulator.emu.state.pins[SOUP].board_id == TRAVEL


async def test_update_pin_changes_the_slots_of_a_carousel(emulator):
    images = [{"url": "https://images.example/1.jpg"}, {"url": "https://images.example/2.jpg"}]
    created = await run_component(emulator, "CreatePin", [{"boardId": RECIPES, "images": images}])
    pin_id = created.sent()[0]["id"]
    slots = [{"title": "First"}, {"title": "Second", "link": "https://x.invalid/2"}]
    outcome = await run_component(
        emulator, "UpdatePin", [{"pinId": pin_id, "carouselSlots": slots}]
    )

    [pin] = outcome.sent()
    assert [item.get("title") for item in pin["media"]["items"]] == ["First", "Second"]
    assert pin["media"]["items"][1]["link"] == "https://x.invalid/2"


async def test_update_pin_dead_letters_carousel_slots_for_a_pin_that_is_no_carousel(emulator):
    event = {"pinId": SOUP, "carouselSlots": [{"title": "First"}]}
    outcome = await run_component(emulator, "UpdatePin", [event])

    assert outcome.dead_letters[0].error_type == "BadRequestError"
    assert outcome.error.endswith(
        "HTTP 400, Pinterest code 1: Invalid parameter:"
        " carousel_slots can only be set on a carousel Pin."
    )


async def test_update_pin_dead_letters_a_message_with_nothing_to_change(emulator):
    outcome = await run_component(emulator, "UpdatePin", [{"pinId": SOUP}])

    assert outcome.error == (
        "pin: nothing to change: give one of boardId, boardSectionId, title, description,"
        " link, altText, carouselSlots"
    )
    assert outcome.operations == []


@pytest.mark.parametrize(
    ("field", "limit"),
    [("title", 100), ("description", 800), ("link", 2048), ("altText", 500)],
    ids=["title", "description", "link", "alt text"],
)
async def test_update_pin_dead_letters_text_over_its_limit_naming_the_field(emulator, field, limit):
    outcome = await run_component(
        emulator, "UpdatePin", [{"pinId": SOUP, field: "a" * (limit + 1)}]
    )

    assert outcome.error.startswith(
        f"input on in-port 'in' does not match its schema: $.{field}: 'aaa"
    )
    assert outcome.operations == []


async def test_update_pin_takes_text_of_exactly_the_limit(emulator):
    outcome = await run_component(emulator, "UpdatePin", [{"pinId": SOUP, "title": "t" * 100}])

    assert outcome.sent()[0]["title"] == "t" * 100


async def test_update_pin_dead_letters_a_missing_pin_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "UpdatePin", [{"pinId": MISSING_PIN, "title": "x"}])

    assert outcome.error.endswith(PIN_NOT_FOUND)


# -- DeletePin -----------------------------------------------------------------------------------


async def test_delete_pin_deletes_and_confirms_then_a_second_delete_finds_nothing(emulator):
    outcome = await run_component(emulator, "DeletePin", [{"pinId": SOUP}, {"pinId": SOUP}])

    assert outcome.sent() == [{"deleted": True, "pinId": SOUP}]
    assert SOUP not in emulator.emu.state.pins
    assert outcome.error.endswith(f"/pins/{SOUP} failed: {PIN_NOT_FOUND}")


# -- SavePin -------------------------------------------------------------------------------------


async def test_save_pin_saves_a_pin_to_a_section_of_a_board(emulator):
    event = {"pinId": HARBOUR, "boardId": RECIPES, "boardSectionId": DESSERTS}
    outcome = await run_component(emulator, "SavePin", [event])

    [pin] = outcome.sent()
    assert pin["id"] != HARBOUR
    assert (pin["board_id"], pin["board_section_id"], pin["parent_pin_id"]) == (
        RECIPES,
        DESSERTS,
        HARBOUR,
    )
    assert pin["title"] == "Harbour walk"


async def test_save_pin_dead_letters_a_missing_pin_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "SavePin", [{"pinId": MISSING_PIN, "boardId": TRAVEL}])

    assert outcome.error.endswith(PIN_NOT_FOUND)


async def test_save_pin_dead_letters_a_missing_board_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "SavePin", [{"pinId": SOUP, "boardId": MISSING_BOARD}])

    assert outcome.error.endswith("HTTP 404, Pinterest code 40: Board not found.")


async def test_save_pin_without_a_board_dead_letters_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "SavePin", [{"pinId": HARBOUR}])

    assert outcome.dead_letters[0].error_type == "BadRequestError"
    assert outcome.error.endswith(
        "HTTP 400, Pinterest code 1: Invalid parameter: board_id (or board_section_id) is required."
    )


# -- ListPins ------------------------------------------------------------------------------------


async def test_list_pins_each_sends_every_pin_of_the_account(emulator):
    outcome = await run_component(emulator, "ListPins", [{}])

    assert sorted(p["id"] for p in outcome.sent()) == [SOUP, TART, HARBOUR]
    assert set(outcome.ports) == {"out"}


async def test_list_pins_array_sends_the_items_and_their_count(emulator):
    outcome = await run_component(emulator, "ListPins", [{}], properties={"outputMode": "array"})

    [message] = outcome.sent()
    assert message["count"] == 3
    assert {p["title"] for p in message["items"]} == {
        "Weeknight tomato soup",
        "Lemon tart",
        "Harbour walk",
    }


async def test_list_pins_first_sends_the_newest_pin(emulator):
    outcome = await run_component(emulator, "ListPins", [{}], properties={"outputMode": "first"})

    assert [p["id"] for p in outcome.sent()] == [HARBOUR]


async def test_list_pins_passes_the_creative_type_filter_to_pinterest(emulator):
    properties = {"outputMode": "array", "creativeTypes": ["VIDEO", "CAROUSEL"]}
    outcome = await run_component(emulator, "ListPins", [{"n": 1}], properties=properties)

    assert outcome.sent("notFound") == [{"count": 0, "input": {"n": 1}}]
    [listing] = [e for e in emulator.exchanges if e.operation_id == "pins/list"]
    assert listing.query.getall("creative_types") == ["VIDEO", "CAROUSEL"]


async def test_list_pins_with_a_pin_filter_sends_only_the_saved_pins(emulator):
    await run_component(emulator, "SavePin", [{"pinId": SOUP, "boardId": TRAVEL}])
    outcome = await run_component(
        emulator, "ListPins", [{}], properties={"pinFilter": "exclude_native"}
    )

    [pin] = outcome.sent()
    assert pin["parent_pin_id"] == SOUP


@pytest.mark.parametrize("mode", ["each", "array", "first"])
async def test_list_pins_sends_not_found_when_the_account_has_no_pins(emulator, mode):
    for pin_id in (SOUP, TART, HARBOUR):
        emulator.emu.state.delete_pin(pin_id)
    outcome = await run_component(emulator, "ListPins", [{}], properties={"outputMode": mode})

    assert outcome.ports == ["notFound"]
    assert outcome.sent("notFound") == [{"count": 0, "input": {}}]


# -- ListBoardPins -------------------------------------------------------------------------------


async def test_list_board_pins_sends_the_pins_of_the_board_sections_included(emulator):
    outcome = await run_component(emulator, "ListBoardPins", [{"boardId": RECIPES}])

    assert [p["id"] for p in outcome.sent()] == [TART, SOUP]
    assert outcome.operations == ["boards/list_pins"]


async def test_list_board_pins_sends_the_pins_of_one_section(emulator):
    event = {"boardId": RECIPES, "sectionId": DESSERTS}
    outcome = await run_component(
        emulator, "ListBoardPins", [event], properties={"outputMode": "array"}
    )

    [message] = outcome.sent()
    assert (message["count"], [p["id"] for p in message["items"]]) == (1, [TART])
    assert outcome.operations == ["board_sections/list_pins"]


async def test_list_board_pins_first_sends_the_first_pin(emulator):
    outcome = await run_component(
        emulator, "ListBoardPins", [{"boardId": RECIPES}], properties={"outputMode": "first"}
    )

    assert [p["id"] for p in outcome.sent()] == [TART]


async def test_list_board_pins_filters_a_section_by_creative_type(emulator):
    event = {"boardId": RECIPES, "sectionId": DESSERTS}
    regular = await run_component(
        emulator, "ListBoardPins", [event], properties={"creativeTypes": ["REGULAR"]}
    )
    video = await run_component(
        emulator, "ListBoardPins", [event], properties={"creativeTypes": ["VIDEO"]}
    )

    assert [p["id"] for p in regular.sent()] == [TART]
    assert video.sent("notFound") == [{"count": 0, "input": event}]


@pytest.mark.parametrize("mode", ["each", "array", "first"])
async def test_list_board_pins_sends_not_found_for_an_empty_board(emulator, mode):
    board = emulator.emu.add_board("Empty")
    outcome = await run_component(
        emulator, "ListBoardPins", [{"boardId": board.id}], properties={"outputMode": mode}
    )

    assert outcome.ports == ["notFound"]
    assert outcome.sent("notFound") == [{"count": 0, "input": {"boardId": board.id}}]


async def test_list_board_pins_pages_through_a_big_board(emulator):
    board = emulator.emu.add_board("Big")
    for n in range(260):
        emulator.emu.add_pin(board.id, title=f"Pin {n}", created_at=1_600_000_000 + n)
    properties = {"outputMode": "array", "limit": 10000}
    outcome = await run_component(
        emulator, "ListBoardPins", [{"boardId": board.id}], properties=properties
    )

    [message] = outcome.sent()
    assert message["count"] == 260
    assert message["items"][0]["title"] == "Pin 259"  # newest first
    assert outcome.operations == ["boards/list_pins", "boards/list_pins"]


async def test_list_board_pins_dead_letters_a_missing_board_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "ListBoardPins", [{"boardId": MISSING_BOARD}])

    assert outcome.error.endswith("HTTP 404, Pinterest code 40: Board not found.")


async def test_list_board_pins_dead_letters_a_missing_section_with_pinterests_message(emulator):
    event = {"boardId": TRAVEL, "sectionId": DESSERTS}
    outcome = await run_component(emulator, "ListBoardPins", [event])

    assert outcome.error.endswith(
        "HTTP 404, Pinterest code 2031: Sorry! We couldn't find this board section."
    )


# -- SearchPins ----------------------------------------------------------------------------------


async def test_search_pins_sends_the_matching_pins(emulator):
    outcome = await run_component(emulator, "SearchPins", [{"query": "tart"}])

    assert [p["id"] for p in outcome.sent()] == [TART]
    [search] = [e for e in emulator.exchanges if e.operation_id == "search_user_pins/list"]
    assert "page_size" not in search.query  # the search takes none


async def test_search_pins_finds_pins_by_comma_separated_ids(emulator):
    outcome = await run_component(
        emulator,
        "SearchPins",
        [{"query": f"{SOUP},{HARBOUR}"}],
        properties={"outputMode": "array"},
    )

    [message] = outcome.sent()
    assert sorted(p["id"] for p in message["items"]) == [SOUP, HARBOUR]


async def test_search_pins_first_sends_one_pin(emulator):
    outcome = await run_component(
        emulator, "SearchPins", [{"query": "e"}], properties={"outputMode": "first"}
    )

    assert len(outcome.sent()) == 1


async def test_search_pins_sends_not_found_when_nothing_matches(emulator):
    outcome = await run_component(emulator, "SearchPins", [{"query": "knitting"}])

    assert outcome.sent("notFound") == [{"count": 0, "input": {"query": "knitting"}}]


async def test_search_pins_requires_a_query(emulator):
    outcome = await run_component(emulator, "SearchPins", [{}])

    assert outcome.error.endswith("$: 'query' is a required property")
    assert outcome.operations == []
