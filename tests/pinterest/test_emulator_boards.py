"""Boards and board sections on the emulator: create, read, update, delete, and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from components.pinterest.emulator.clock import iso
from tests.pinterest.emulator_harness import EmulatorHarness, seeded_boards

RECIPES = "600000000000000001"
TRAVEL = "600000000000000002"
DESSERTS = "700000000000000001"


async def test_the_seeded_boards_are_listed_with_their_counts(emulator: EmulatorHarness) -> None:
    answer = await emulator.call("GET", "/boards")
    assert answer.status == 200
    assert answer.body["bookmark"] is None
    boards = {b["name"]: b for b in answer.body["items"]}
    assert set(boards) == set(seeded_boards().values())
    assert boards["Recipes"]["pin_count"] == 2
    assert boards["Recipes"]["owner"] == {"username": "flowmixer_demo"}
    assert boards["Recipes"]["board_pins_modified_at"] == "2024-01-12T18:00:00"
    assert boards["Recipes"]["media"]["image_cover_url"].startswith(emulator.base + "/images/")


async def test_a_created_board_is_answered_with_201_and_can_be_read_back(
    emulator: EmulatorHarness,
) -> None:
    body = {"name": "Garden", "description": "Beds and borders", "privacy": "PROTECTED"}
    created = await emulator.call("POST", "/boards", json=body)
    assert created.status == 201
    board = created.body
    assert board["name"] == "Garden"
    assert board["privacy"] == "PROTECTED"
    assert board["pin_count"] == 0
    assert board["created_at"] == iso(emulator.clock())
    assert board["id"].isdigit()
    fetched = await emulator.call("GET", f"/boards/{board['id']}")
    assert fetched.body == board


async def test_privacy_defaults_to_public(emulator: EmulatorHarness) -> None:
    created = await emulator.call("POST", "/boards", json={"name": "Plain"})
    assert created.body["privacy"] == "PUBLIC"


async def test_an_ads_only_board_is_renamed_and_protected(emulator: EmulatorHarness) -> None:
    created = await emulator.call("POST", "/boards", json={"name": "Mine", "is_ads_only": True})
    assert created.body["name"] == "Ad-only Pins"
    assert created.body["privacy"] == "PROTECTED"
    assert created.body["is_ads_only"] is True


async def test_a_board_is_updated_with_patch(emulator: EmulatorHarness) -> None:
    changes = {"name": "Cooking", "description": None, "privacy": "SECRET"}
    answer = await emulator.call("PATCH", f"/boards/{RECIPES}", json=changes)
    assert answer.status == 200
    assert answer.body["name"] == "Cooking"
    assert answer.body["description"] is None
    assert answer.body["privacy"] == "SECRET"


async def test_updating_privacy_to_protected_is_refused(emulator: EmulatorHarness) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("PATCH", f"/boards/{RECIPES}", json={"privacy": "PROTECTED"})
    emulator.assert_spec_problems(problems)
    assert answer.status == 400
    assert "privacy can only be changed to PUBLIC or SECRET" in answer.body["message"]


async def test_deleting_a_board_deletes_its_sections_and_pins(emulator: EmulatorHarness) -> None:
    answer = await emulator.call("DELETE", f"/boards/{RECIPES}")
    assert answer.status == 204
    assert answer.body == ""
    gone = await emulator.call("GET", f"/boards/{RECIPES}")
    assert (gone.status, gone.body) == (404, {"code": 40, "message": "Board not found."})
    assert DESSERTS not in emulator.emu.state.sections
    assert not [p for p in emulator.emu.state.pins.values() if p.board_id == RECIPES]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name is required"),
        ({"name": ""}, "name must have at least 1 character"),
        ({"name": 7}, "name must be a string, not a number"),
        ({"name": "x", "privacy": "HIDDEN"}, "privacy is 'HIDDEN'; use one of: PUBLIC"),
        ({"name": "x", "is_ads_only": "yes"}, "is_ads_only must be true or false"),
    ],
    ids=["no-name", "empty-name", "number-name", "bad-privacy", "bad-flag"],
)
async def test_a_bad_board_is_refused_naming_the_field(
    emulator: EmulatorHarness, body: dict[str, Any], message: str
) -> None:
    with emulator.deliberately_invalid():
        answer = await emulator.call("POST", "/boards", json=body)
    assert answer.status == 400
    assert answer.body["code"] == 1
    assert message in answer.body["message"]


async def test_a_request_without_a_json_body_is_refused(emulator: EmulatorHarness) -> None:
    with emulator.deliberately_invalid():
        answer = await emulator.call("POST", "/boards")
    assert answer.status == 400
    assert "request body is missing" in answer.body["message"]


async def test_a_board_id_that_is_not_digits_is_refused(emulator: EmulatorHarness) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("GET", "/boards/recipes")
    emulator.assert_spec_problems(problems)
    assert answer.status == 400
    assert "board_id must be a string of digits" in answer.body["message"]


async def test_another_users_board_is_not_found(emulator: EmulatorHarness) -> None:
    emulator.emu.add_user("someone")
    theirs = emulator.emu.add_board("Theirs", user="someone")
    answer = await emulator.call("GET", f"/boards/{theirs.id}")
    assert (answer.status, answer.body["code"]) == (404, 40)


async def test_listing_filters_by_privacy(emulator: EmulatorHarness) -> None:
    emulator.emu.add_board("Hidden", privacy="SECRET")
    emulator.emu.add_board("Ads", privacy="PROTECTED")

    async def names(privacy: str) -> set[str]:
        answer = await emulator.call("GET", "/boards", params={"privacy": privacy})
        return {b["name"] for b in answer.body["items"]}

    public = set(seeded_boards().values())
    assert await names("ALL") == public | {"Hidden", "Ads"}
    assert await names("SECRET") == {"Hidden"}
    assert await names("PROTECTED") == {"Ads"}
    assert await names("PUBLIC_AND_SECRET") == public | {"Hidden"}


async def test_sections_are_listed_created_renamed_and_deleted(emulator: EmulatorHarness) -> None:
    listed = await emulator.call("GET", f"/boards/{RECIPES}/sections")
    assert listed.body == {"items": [{"id": DESSERTS, "name": "Desserts"}], "bookmark": None}
    created = await emulator.call("POST", f"/boards/{RECIPES}/sections", json={"name": "Soups"})
    assert created.status == 201
    section_id = created.body["id"]
    renamed = await emulator.call(
        "PATCH", f"/boards/{RECIPES}/sections/{section_id}", json={"name": "Stews"}
    )
    assert renamed.body == {"id": section_id, "name": "Stews"}
    deleted = await emulator.call("DELETE", f"/boards/{RECIPES}/sections/{section_id}")
    assert deleted.status == 204
    listed = await emulator.call("GET", f"/boards/{RECIPES}/sections")
    assert [s["id"] for s in listed.body["items"]] == [DESSERTS]


@pytest.mark.parametrize(
    ("name", "ok"),
    [("x", True), ("x" * 180, True), ("", False), ("x" * 181, False)],
    ids=["one-char", "180-chars", "empty", "181-chars"],
)
async def test_section_names_take_1_to_180_characters(
    emulator: EmulatorHarness, name: str, ok: bool
) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("POST", f"/boards/{RECIPES}/sections", json={"name": name})
    assert answer.status == (201 if ok else 400)
    emulator.assert_spec_problems(problems, present=not ok)
    if not ok:
        assert "name" in answer.body["message"]


async def test_a_section_of_another_board_is_not_found(emulator: EmulatorHarness) -> None:
    answer = await emulator.call(
        "PATCH", f"/boards/{TRAVEL}/sections/{DESSERTS}", json={"name": "x"}
    )
    assert answer.status == 404
    assert answer.body == {"code": 2031, "message": "Sorry! We couldn't find this board section."}


async def test_deleting_a_section_deletes_its_pins(emulator: EmulatorHarness) -> None:
    await emulator.call("DELETE", f"/boards/{RECIPES}/sections/{DESSERTS}")
    pins = await emulator.call("GET", f"/boards/{RECIPES}/pins")
    assert [p["title"] for p in pins.body["items"]] == ["Weeknight tomato soup"]


async def test_a_sections_pins_are_listed_alone_and_within_the_board(
    emulator: EmulatorHarness,
) -> None:
    in_section = await emulator.call("GET", f"/boards/{RECIPES}/sections/{DESSERTS}/pins")
    assert [p["title"] for p in in_section.body["items"]] == ["Lemon tart"]
    on_board = await emulator.call("GET", f"/boards/{RECIPES}/pins")
    sections = {p["title"]: p["board_section_id"] for p in on_board.body["items"]}
    assert sections == {"Lemon tart": DESSERTS, "Weeknight tomato soup": None}
