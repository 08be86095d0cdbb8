"""MakeApiCall, run in a flow against the emulator."""

from __future__ import annotations

import pytest

from tests.pinterest.component_kit import run_component

RECIPES = "600000000000000001"
MISSING_BOARD = "600000000000009999"


async def test_make_api_call_sends_status_headers_and_body_of_a_get(emulator):
    event = {"method": "GET", "path": f"/boards/{RECIPES}/pins", "query": {"page_size": 1}}
    outcome = await run_component(emulator, "MakeApiCall", [event])

    [answer] = outcome.sent()
    assert answer["status"] == 200
    assert answer["headers"]["Content-Type"].startswith("application/json")
    assert "x-pinterest-rid" in {key.lower() for key in answer["headers"]}
    assert [pin["title"] for pin in answer["body"]["items"]] == ["Lemon tart"]
    assert answer["body"]["bookmark"]
    assert outcome.operations == ["boards/list_pins"]


async def test_make_api_call_repeats_a_query_parameter_given_as_an_array(emulator):
    event = {
        "method": "GET",
        "path": "/pins",
        "query": {"creative_types": ["REGULAR", "VIDEO"], "pin_metrics": False},
    }
    outcome = await run_component(emulator, "MakeApiCall", [event])

    assert outcome.sent()[0]["status"] == 200
    [listing] = [e for e in emulator.exchanges if e.operation_id == "pins/list"]
    assert listing.query.getall("creative_types") == ["REGULAR", "VIDEO"]
    assert listing.query["pin_metrics"] == "false"


async def test_make_api_call_posts_a_json_body(emulator):
    event = {"method": "POST", "path": "/boards", "body": {"name": "Made raw", "privacy": "PUBLIC"}}
    outcome = await run_component(emulator, "MakeApiCall", [event])

    [answer] = outcome.sent()
    assert answer["status"] == 201
    assert answer["body"]["name"] == "Made raw"
    assert answer["body"]["id"] in emulator.emu.state.boards


async def test_make_api_call_sends_a_null_body_for_an_answer_without_one(emulator):
    board = emulator.emu.add_board("Doomed")
    outcome = await run_component(
        emulator, "MakeApiCall", [{"method": "DELETE", "path": f"/boards/{board.id}"}]
    )

    [answer] = outcome.sent()
    assert (answer["status"], answer["body"]) == (204, None)
    assert board.id not in emulator.emu.state.boards


async def test_make_api_call_dead_letters_an_error_answer_with_pinterests_message(emulator):
    outcome = await run_component(
        emulator, "MakeApiCall", [{"method": "GET", "path": f"/boards/{MISSING_BOARD}"}]
    )

    assert outcome.outputs == []
    assert outcome.dead_letters[0].error_type == "NotFoundError"
    assert outcome.error.endswith("HTTP 404, Pinterest code 40: Board not found.")


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (
            {"method": "GET", "path": "/boards/../oauth/token"},
            "path: must be a plain path below /v5, without // or ..",
        ),
        (
            {"method": "GET", "path": "//evil.example/boards"},
            "path: must be a plain path below /v5, without // or ..",
        ),
        (
            {"method": "GET", "path": "/boards", "body": {"name": "x"}},
            "body: a GET request takes no body",
        ),
    ],
    ids=["parent segment", "another host", "a body on a GET"],
)
async def test_make_api_call_refuses_a_request_it_must_not_send(emulator, event, error):
    outcome = await run_component(emulator, "MakeApiCall", [event])

    assert outcome.error == error
    assert outcome.operations == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"method": "TRACE", "path": "/boards"}, "$.method"),
        ({"method": "GET", "path": "https://api.pinterest.com/v5/boards"}, "$.path"),
        ({"method": "GET", "path": "/boards?page_size=1"}, "$.path"),
        ({"path": "/boards"}, "'method' is a required property"),
    ],
    ids=["unknown method", "a full address", "a query in the path", "no method"],
)
async def test_make_api_call_dead_letters_a_malformed_request_naming_the_field(
    emulator, event, field
):
    outcome = await run_component(emulator, "MakeApiCall", [event])

    assert field in outcome.error
    assert outcome.operations == []
