"""Bearer tokens and scopes: each operation needs all the scopes of its security requirement."""

from __future__ import annotations

import pytest

from tests.pinterest.emulator_harness import EmulatorHarness

RECIPES = "600000000000000001"
PIN = {
    "board_id": RECIPES,
    "title": "Scoped",
    "media_source": {"source_type": "image_url", "url": "https://img.invalid/a.jpg"},
}


async def test_a_token_without_pins_write_cannot_create_a_pin(emulator: EmulatorHarness) -> None:
    token = emulator.token(["boards:read", "boards:write", "pins:read"])
    answer = await emulator.call("POST", "/pins", json=PIN, token=token)
    assert answer.status == 401
    assert answer.body["code"] == 3
    assert answer.body["message"].endswith("needs: pins:write.")
    assert not [p for p in emulator.emu.state.pins.values() if p.title == "Scoped"]


@pytest.mark.parametrize(
    ("scopes", "method", "path", "missing"),
    [
        (["boards:read"], "GET", f"/boards/{RECIPES}/pins", "pins:read"),
        (["pins:read"], "GET", "/pins", "boards:read"),
        (
            ["boards:read", "pins:read"],
            "GET",
            "/search/pins?query=x",
            "boards:read_secret, pins:read_secret",
        ),
        (["boards:read"], "GET", "/user_account", "user_accounts:read"),
        (["boards:read"], "DELETE", f"/boards/{RECIPES}", "boards:write"),
    ],
    ids=["board-pins", "pins", "search-pins", "account", "delete-board"],
)
async def test_every_scope_of_the_requirement_is_needed(
    emulator: EmulatorHarness, scopes: list[str], method: str, path: str, missing: str
) -> None:
    answer = await emulator.call(method, path, token=emulator.token(scopes))
    assert answer.status == 401
    assert answer.body == {
        "code": 3,
        "message": f"Your token lacks the scopes this operation needs: {missing}.",
    }


async def test_exactly_the_needed_scopes_are_enough(emulator: EmulatorHarness) -> None:
    token = emulator.token(["boards:read", "pins:read"])
    answer = await emulator.call("GET", f"/boards/{RECIPES}/pins", token=token)
    assert answer.status == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer pina-made-up",
        "Bearer ",
        "Token abc",
        "Basic ZW11bGF0b3ItYXBwOmVtdWxhdG9yLWFwcC1zZWNyZXQ=",
    ],
    ids=["unknown-token", "empty-token", "other-scheme", "client-credentials-as-basic"],
)
async def test_an_unusable_authorization_gets_401_code_2(
    emulator: EmulatorHarness, authorization: str
) -> None:
    with emulator.deliberately_invalid():
        answer = await emulator.call(
            "GET", "/boards", token=None, headers={"Authorization": authorization}
        )
    assert answer.status == 401
    assert answer.body == {"code": 2, "message": "Authentication failed."}


async def test_a_refresh_token_is_not_an_access_token(emulator: EmulatorHarness) -> None:
    issued = emulator.emu.issue_token()
    answer = await emulator.call("GET", "/boards", token=issued.refresh_token)
    assert (answer.status, answer.body["code"]) == (401, 2)


async def test_secret_boards_are_invisible_without_boards_read_secret(
    emulator: EmulatorHarness,
) -> None:
    hidden = emulator.emu.add_board("Surprise party", privacy="SECRET")
    emulator.emu.add_pin(hidden.id, title="Balloons")
    public_only = emulator.token(["boards:read", "pins:read"])
    listed = await emulator.call("GET", "/boards", token=public_only)
    assert "Surprise party" not in {b["name"] for b in listed.body["items"]}
    got = await emulator.call("GET", f"/boards/{hidden.id}", token=public_only)
    assert (got.status, got.body["code"]) == (404, 40)
    pins = await emulator.call("GET", "/pins", token=public_only)
    assert "Balloons" not in {p["title"] for p in pins.body["items"]}
    with_secret = emulator.token(["boards:read", "boards:read_secret"])
    assert (await emulator.call("GET", f"/boards/{hidden.id}", token=with_secret)).status == 200


async def test_secret_boards_need_boards_write_secret_to_be_made(emulator: EmulatorHarness) -> None:
    token = emulator.token(["boards:read", "boards:write"])
    answer = await emulator.call(
        "POST", "/boards", json={"name": "Hush", "privacy": "SECRET"}, token=token
    )
    assert answer.status == 401
    assert answer.body["code"] == 3
    assert "boards:write_secret" in answer.body["message"]
