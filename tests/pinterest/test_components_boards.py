"""Board components (CreateBoard, GetBoard, UpdateBoard, DeleteBoard, ListBoards, SearchBoards),
each run in a flow against the emulator."""

from __future__ import annotations

import pytest

from components.pinterest.emulator import ORGANIC_SCOPES
from runtime.errors import FlowValidationError
from tests.pinterest.component_kit import run_component

RECIPES = "600000000000000001"
TRAVEL = "600000000000000002"
ARCHIVE = "600000000000000003"  # the demo seed's "Recipe archive", where repin copies to
MISSING = "600000000000009999"


# -- CreateBoard ---------------------------------------------------------------------------------


@pytest.mark.parametrize("privacy", ["PUBLIC", "PROTECTED", "SECRET"], ids=str.lower)
async def test_create_board_makes_a_board_of_each_privacy_it_offers(emulator, privacy):
    event = {"name": "Garden", "description": "Seeds and beds", "privacy": privacy}
    outcome = await run_component(emulator, "CreateBoard", [event])

    [board] = outcome.sent()
    assert (board["name"], board["description"], board["privacy"]) == (
        "Garden",
        "Seeds and beds",
        privacy,
    )
    assert emulator.emu.state.boards[board["id"]].privacy == privacy
    assert outcome.operations == ["boards/create"]


async def test_create_board_makes_a_public_board_when_no_privacy_is_given(emulator):
    outcome = await run_component(emulator, "CreateBoard", [{"name": "Garden"}])

    [board] = outcome.sent()
    assert board["privacy"] == "PUBLIC"
    assert "description" not in board  # fields without a value are left out


async def test_create_board_dead_letters_a_secret_board_when_the_account_lacks_write_secret(
    emulator,
):
    scopes = [s for s in ORGANIC_SCOPES if s != "boards:write_secret"]
    event = {"name": "Hidden", "privacy": "SECRET"}
    outcome = await run_component(emulator, "CreateBoard", [event], scopes=scopes)

    assert outcome.outputs == []
    assert "waited for its account to be re-authorized" in outcome.error  # the flow paused
    assert outcome.error.endswith(
        "POST /v5/boards failed: HTTP 401, Pinterest code 3: Your token lacks the scopes this"
        " operation needs on a secret board: boards:write_secret."
    )


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"description": "no name"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Garden", "privacy": "FRIENDS"}, "privacy"),
        ({"name": "Garden", "colour": "green"}, "colour"),
    ],
    ids=["name missing", "name empty", "unknown privacy", "unknown field"],
)
async def test_create_board_dead_letters_a_bad_input_naming_the_field(emulator, event, field):
    outcome = await run_component(emulator, "CreateBoard", [event])

    assert outcome.outputs == []
    assert field in outcome.error
    assert outcome.operations == []  # refused before anything was sent


# -- GetBoard ------------------------------------------------------------------------------------


async def test_get_board_sends_the_board(emulator):
    outcome = await run_component(emulator, "GetBoard", [{"boardId": RECIPES}])

    [board] = outcome.sent()
    assert (board["id"], board["name"], board["privacy"]) == (RECIPES, "Recipes", "PUBLIC")
    assert board["owner"] == {"username": "flowmixer_demo"}


async def test_get_board_dead_letters_a_missing_board_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "GetBoard", [{"boardId": MISSING}])

    assert outcome.outputs == []
    assert outcome.dead_letters[0].error_type == "NotFoundError"
    assert outcome.error.startswith("GET ")
    assert outcome.error.endswith(
        f"/boards/{MISSING} failed: HTTP 404, Pinterest code 40: Board not found."
    )


async def test_get_board_dead_letters_an_id_that_is_not_digits_naming_the_field(emulator):
    outcome = await run_component(emulator, "GetBoard", [{"boardId": "recipes"}])

    assert "$.boardId: 'recipes' does not match" in outcome.error
    assert outcome.operations == []


# -- UpdateBoard ---------------------------------------------------------------------------------


@pytest.mark.parametrize("privacy", ["SECRET", "PUBLIC"], ids=str.lower)
async def test_update_board_changes_the_privacy_to_each_value_an_update_allows(emulator, privacy):
    outcome = await run_component(
        emulator, "UpdateBoard", [{"boardId": TRAVEL, "privacy": privacy}]
    )

    [board] = outcome.sent()
    assert board["privacy"] == privacy
    assert board["name"] == "Travel"  # what was not given stays


async def test_update_board_changes_name_and_description(emulator):
    event = {"boardId": TRAVEL, "name": "Trips", "description": "Where next"}
    outcome = await run_component(emulator, "UpdateBoard", [event])

    [board] = outcome.sent()
    assert (board["name"], board["description"]) == ("Trips", "Where next")
    assert emulator.emu.state.boards[TRAVEL].name == "Trips"


async def test_update_board_refuses_protected_which_pinterest_allows_only_at_creation(emulator):
    event = {"boardId": TRAVEL, "privacy": "PROTECTED"}
    outcome = await run_component(emulator, "UpdateBoard", [event])

    assert "$.privacy: 'PROTECTED' is not one of ['PUBLIC', 'SECRET'" in outcome.error
    assert emulator.emu.state.boards[TRAVEL].privacy == "PUBLIC"


async def test_update_board_dead_letters_a_message_with_nothing_to_change(emulator):
    outcome = await run_component(emulator, "UpdateBoard", [{"boardId": TRAVEL}])

    assert outcome.error == "board: nothing to change: give name, description or privacy"
    assert outcome.operations == []


async def test_update_board_dead_letters_a_missing_board_with_pinterests_message(emulator):
    outcome = await run_component(emulator, "UpdateBoard", [{"boardId": MISSING, "name": "X"}])

    assert outcome.error.endswith("HTTP 404, Pinterest code 40: Board not found.")


# -- DeleteBoard ---------------------------------------------------------------------------------


async def test_delete_board_deletes_and_confirms_then_a_second_delete_finds_nothing(emulator):
    outcome = await run_component(
        emulator, "DeleteBoard", [{"boardId": TRAVEL}, {"boardId": TRAVEL}]
    )

    assert outcome.sent() == [{"deleted": True, "boardId": TRAVEL}]
    assert TRAVEL not in emulator.emu.state.boards
    assert outcome.error.startswith("DELETE ")
    assert outcome.error.endswith(
        f"/boards/{TRAVEL} failed: HTTP 404, Pinterest code 40: Board not found."
    )


# -- ListBoards ----------------------------------------------------------------------------------


async def test_list_boards_each_sends_one_message_per_board(emulator):
    outcome = await run_component(emulator, "ListBoards", [{}], properties={"outputMode": "each"})

    assert [b["name"] for b in outcome.sent()] == ["Recipes", "Travel", "Recipe archive"]
    assert outcome.ports == ["out", "out", "out"]


async def test_list_boards_sends_each_board_when_no_output_mode_is_set(emulator):
    outcome = await run_component(emulator, "ListBoards", [{}])

    assert [b["id"] for b in outcome.sent()] == [RECIPES, TRAVEL, ARCHIVE]


async def test_list_boards_array_sends_one_message_with_the_items_and_their_count(emulator):
    outcome = await run_component(emulator, "ListBoards", [{}], properties={"outputMode": "array"})

    [message] = outcome.sent()
    assert message["count"] == 3
    assert [b["name"] for b in message["items"]] == ["Recipes", "Travel", "Recipe archive"]


async def test_list_boards_first_sends_only_the_first_board_asking_for_one(emulator):
    outcome = await run_component(emulator, "ListBoards", [{}], properties={"outputMode": "first"})

    assert [b["name"] for b in outcome.sent()] == ["Recipes"]
    [listing] = [e for e in emulator.exchanges if e.operation_id == "boards/list"]
    assert listing.query["page_size"] == "1"


async def test_list_boards_sends_not_found_with_the_input_when_no_board_matches(emulator):
    properties = {"outputMode": "array", "privacy": "SECRET"}
    outcome = await run_component(emulator, "ListBoards", [{"why": "audit"}], properties=properties)

    assert outcome.ports == ["notFound"]
    assert outcome.sent("notFound") == [{"count": 0, "input": {"why": "audit"}}]


async def test_list_boards_filters_by_privacy(emulator):
    emulator.emu.add_board("Gifts", privacy="SECRET")
    outcome = await run_component(
        emulator, "ListBoards", [{}], properties={"privacy": "PUBLIC_AND_SECRET"}
    )

    assert sorted(b["name"] for b in outcome.sent()) == [
        "Gifts",
        "Recipe archive",
        "Recipes",
        "Travel",
    ]


async def test_list_boards_pages_through_bookmarks_up_to_the_limit(emulator):
    for n in range(300):
        emulator.emu.add_board(f"Board {n:03}")
    properties = {"outputMode": "array", "limit": 280}
    outcome = await run_component(emulator, "ListBoards", [{}], properties=properties)

    [message] = outcome.sent()
    assert message["count"] == 280
    assert len({b["id"] for b in message["items"]}) == 280
    sizes = [e.query["page_size"] for e in emulator.exchanges if e.operation_id == "boards/list"]
    assert sizes == ["250", "30"]


async def test_list_boards_refuses_an_unknown_output_mode_when_the_flow_is_checked(emulator):
    with pytest.raises(FlowValidationError, match=r"outputMode: 'all' is not one of"):
        await run_component(emulator, "ListBoards", [{}], properties={"outputMode": "all"})


# -- SearchBoards --------------------------------------------------------------------------------


async def test_search_boards_sends_the_matching_boards(emulator):
    outcome = await run_component(emulator, "SearchBoards", [{"query": "places"}])

    assert [b["name"] for b in outcome.sent()] == ["Travel"]
    assert outcome.operations == ["search_user_boards/get"]


async def test_search_boards_without_a_query_sends_every_board_as_an_array(emulator):
    outcome = await run_component(
        emulator, "SearchBoards", [{}], properties={"outputMode": "array"}
    )

    [message] = outcome.sent()
    assert message["count"] == 3


async def test_search_boards_first_sends_the_first_match(emulator):
    outcome = await run_component(
        emulator, "SearchBoards", [{"query": "e"}], properties={"outputMode": "first"}
    )

    assert [b["name"] for b in outcome.sent()] == ["Recipes"]


async def test_search_boards_sends_not_found_when_nothing_matches(emulator):
    outcome = await run_component(emulator, "SearchBoards", [{"query": "knitting"}])

    assert outcome.sent("notFound") == [{"count": 0, "input": {"query": "knitting"}}]
    assert outcome.sent() == []
