"""Board section components (ListBoardSections, CreateBoardSection, UpdateBoardSection,
DeleteBoardSection), each run in a flow against the emulator."""

from __future__ import annotations

import pytest

from tests.pinterest.component_kit import run_component

RECIPES = "600000000000000001"
TRAVEL = "600000000000000002"
DESSERTS = "700000000000000001"
MISSING_BOARD = "600000000000009999"
MISSING_SECTION = "700000000000009999"


# -- ListBoardSections ---------------------------------------------------------------------------


async def test_list_board_sections_each_sends_one_message_per_section(emulator):
    emulator.emu.add_section(RECIPES, "Soups")
    outcome = await run_component(emulator, "ListBoardSections", [{"boardId": RECIPES}])

    assert [s["name"] for s in outcome.sent()] == ["Desserts", "Soups"]
    assert outcome.sent()[0] == {"id": DESSERTS, "name": "Desserts"}


async def test_list_board_sections_array_sends_the_items_and_their_count(emulator):
    emulator.emu.add_section(RECIPES, "Soups")
    outcome = await run_component(
        emulator, "ListBoardSections", [{"boardId": RECIPES}], properties={"outputMode": "array"}
    )

    [message] = outcome.sent()
    assert message["count"] == 2
    assert [s["name"] for s in message["items"]] == ["Desserts", "Soups"]


async def test_list_board_sections_first_sends_only_the_first_section(emulator):
    emulator.emu.add_section(RECIPES, "Soups")
    outcome = await run_component(
        emulator, "ListBoardSections", [{"boardId": RECIPES}], properties={"outputMode": "first"}
    )

    assert outcome.sent() == [{"id": DESSERTS, "name": "Desserts"}]


@pytest.mark.parametrize("mode", ["each", "array", "first"])
async def test_list_board_sections_sends_not_found_for_a_board_without_sections(emulator, mode):
    outcome = await run_component(
        emulator, "ListBoardSections", [{"boardId": TRAVEL}], properties={"outputMode": mode}
    )

    assert outcome.ports == ["notFound"]
    assert outcome.sent("notFound") == [{"count": 0, "input": {"boardId": TRAVEL}}]


async def test_list_board_sections_dead_letters_a_missing_board_with_pinterests_message(
    emulator,
):
    outcome = await run_component(emulator, "ListBoardSections", [{"boardId": MISSING_BOARD}])

    assert outcome.outputs == []
    assert outcome.error.endswith(
        f"/boards/{MISSING_BOARD}/sections failed: HTTP 404, Pinterest code 40: Board not found."
    )


# -- CreateBoardSection --------------------------------------------------------------------------


async def test_create_board_section_adds_a_section_and_sends_it(emulator):
    outcome = await run_component(
        emulator, "CreateBoardSection", [{"boardId": TRAVEL, "name": "Islands"}]
    )

    [section] = outcome.sent()
    assert section["name"] == "Islands"
    assert emulator.emu.state.sections[section["id"]].board_id == TRAVEL


async def test_create_board_section_takes_a_name_of_exactly_the_limit(emulator):
    name = "x" * 180
    outcome = await run_component(
        emulator, "CreateBoardSection", [{"boardId": TRAVEL, "name": name}]
    )

    assert [s["name"] for s in outcome.sent()] == [name]


@pytest.mark.parametrize(
    ("name", "problem"),
    [("x" * 181, "is too long"), ("", "should be non-empty")],
    ids=["181 characters", "empty"],
)
async def test_create_board_section_dead_letters_a_name_out_of_bounds_naming_the_field(
    emulator, name, problem
):
    outcome = await run_component(
        emulator, "CreateBoardSection", [{"boardId": TRAVEL, "name": name}]
    )

    assert outcome.outputs == []
    assert "$.name: " in outcome.error
    assert problem in outcome.error
    assert outcome.operations == []


async def test_create_board_section_dead_letters_a_missing_board_with_pinterests_message(
    emulator,
):
    event = {"boardId": MISSING_BOARD, "name": "Islands"}
    outcome = await run_component(emulator, "CreateBoardSection", [event])

    assert outcome.error.endswith("HTTP 404, Pinterest code 40: Board not found.")


# -- UpdateBoardSection --------------------------------------------------------------------------


async def test_update_board_section_renames_the_section(emulator):
    event = {"boardId": RECIPES, "sectionId": DESSERTS, "name": "Sweets"}
    outcome = await run_component(emulator, "UpdateBoardSection", [event])

    assert outcome.sent() == [{"id": DESSERTS, "name": "Sweets"}]
    assert emulator.emu.state.sections[DESSERTS].name == "Sweets"


async def test_update_board_section_dead_letters_a_missing_section_with_pinterests_message(
    emulator,
):
    event = {"boardId": RECIPES, "sectionId": MISSING_SECTION, "name": "Sweets"}
    outcome = await run_component(emulator, "UpdateBoardSection", [event])

    assert outcome.dead_letters[0].error_type == "NotFoundError"
    assert outcome.error.endswith(
        "HTTP 404, Pinterest code 2031: Sorry! We couldn't find this board section."
    )


async def test_update_board_section_requires_a_name(emulator):
    outcome = await run_component(
        emulator, "UpdateBoardSection", [{"boardId": RECIPES, "sectionId": DESSERTS}]
    )

    assert outcome.error.endswith("$: 'name' is a required property")


# -- DeleteBoardSection --------------------------------------------------------------------------


async def test_delete_board_section_deletes_it_and_confirms(emulator):
    event = {"boardId": RECIPES, "sectionId": DESSERTS}
    outcome = await run_component(emulator, "DeleteBoardSection", [event, event])

    assert outcome.sent() == [{"deleted": True, "boardId": RECIPES, "sectionId": DESSERTS}]
    assert DESSERTS not in emulator.emu.state.sections
    assert outcome.error.endswith(
        "HTTP 404, Pinterest code 2031: Sorry! We couldn't find this board section."
    )
