"""The emulator's Python API: seeds, tokens, records added in code, observers, serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.pinterest.emulator import DEFAULT_SEED, Emulator, Exchange, ManualClock
from components.pinterest.emulator.config import EmulatorConfig
from runtime.errors import ConfigurationError
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator, seeded_boards


def default_seed() -> dict[str, Any]:
    return dict(json.loads(DEFAULT_SEED.read_text()))


def test_the_default_seed_has_the_demo_app_a_user_boards_a_section_and_pins() -> None:
    emu = Emulator()
    assert emu.app.client_id == "emulator-app"
    assert "http://127.0.0.1/callback" in emu.app.redirect_uris
    assert [u.username for u in emu.state.users.values()] == ["flowmixer_demo"]
    names = {b.name for b in emu.state.boards.values()}
    assert {"Recipes", "Travel"} <= names
    assert names == set(seeded_boards().values())
    assert [s.name for s in emu.state.sections.values()] == ["Desserts"]
    assert len(emu.state.pins) >= 3
    assert not emu.state.tokens, "no token ships in the default seed"


async def test_a_seed_can_pre_issue_tokens(make_emulator: MakeEmulator) -> None:
    seed = default_seed()
    seed["tokens"] = [
        {"user": "flowmixer_demo", "scopes": ["boards:read"], "access_token": "pina-seeded"}
    ]
    async with make_emulator(seed=seed) as h:
        answer = await h.call("GET", "/boards", token="pina-seeded")
        assert answer.status == 200
        refused = await h.call("GET", "/pins", token="pina-seeded")
        assert refused.status == 401


def test_a_seed_file_is_read_from_a_path(tmp_path: Path) -> None:
    seed = default_seed()
    seed["users"][0]["username"] = "from_file"
    seed["apps"][0]["owner"] = "from_file"
    seed["boards"] = seed["sections"] = seed["pins"] = []
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    emu = Emulator(seed=path)
    assert emu.state.find_user("from_file").id == seed["users"][0]["id"]
    assert emu.state.boards == {}


def broken(change: str) -> dict[str, Any]:
    seed = default_seed()
    if change == "no-apps":
        seed["apps"] = []
    elif change == "unknown-field":
        seed["users"][0]["nickname"] = "x"
    elif change == "bad-privacy":
        seed["boards"][0]["privacy"] = "HIDDEN"
    elif change == "long-title":
        seed["pins"][0]["title"] = "t" * 101
    elif change == "unknown-board":
        seed["pins"][0]["board_id"] = "1"
    elif change == "foreign-section":
        seed["pins"][2]["section_id"] = "700000000000000001"
    elif change == "unknown-scope":
        seed["tokens"] = [
            {"user": "flowmixer_demo", "scopes": ["read_public"], "access_token": "pina1"}
        ]
    elif change == "bad-token-prefix":
        seed["tokens"] = [
            {"user": "flowmixer_demo", "scopes": ["pins:read"], "access_token": "abc"}
        ]
    return seed


BROKEN = [
    ("no-apps", "apps: List should have at least 1 item"),
    ("unknown-field", "users.0.nickname: Extra inputs are not permitted"),
    ("bad-privacy", "boards.0.privacy: Input should be 'PUBLIC', 'PROTECTED' or 'SECRET'"),
    ("long-title", "pins.0.title: String should have at most 100 characters"),
    ("unknown-board", "pins[0].board_id: no board 1"),
    ("foreign-section", "pins[2].section_id: no section 700000000000000001 on its board"),
    ("unknown-scope", "tokens[0].scopes: unknown scope(s) read_public"),
    ("bad-token-prefix", "tokens.0.access_token: String should match pattern '^pina'"),
]


@pytest.mark.parametrize(("change", "message"), BROKEN, ids=[change for change, _ in BROKEN])
def test_a_broken_seed_is_refused_naming_the_field(change: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Emulator(seed=broken(change))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot be read"), ("{not json", "not valid JSON")],
    ids=["missing-file", "not-json"],
)
def test_an_unreadable_seed_file_is_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "seed.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        Emulator(seed=path)


def test_issue_token_refuses_an_unknown_user_or_app() -> None:
    emu = Emulator()
    with pytest.raises(LookupError, match="no user 'nobody'"):
        emu.issue_token("nobody")
    with pytest.raises(LookupError, match="no app with client_id 'other'"):
        emu.issue_token(client_id="other")


def test_lifetimes_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="access_token_seconds must be at least 1"):
        EmulatorConfig(access_token_seconds=0)


def test_the_manual_clock_only_moves_forward() -> None:
    clock = ManualClock(100.0)
    clock.advance(5)
    assert clock() == 105.0
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


async def test_observers_see_every_request_and_answer_until_removed(
    emulator: EmulatorHarness,
) -> None:
    seen: list[Exchange] = []
    stop = emulator.emu.observe(seen.append)
    await emulator.call("POST", "/boards", json={"name": "Watched"})
    stop()
    await emulator.call("GET", "/boards")
    assert len(seen) == 1
    exchange = seen[0]
    assert (exchange.method, exchange.path, exchange.status) == ("POST", "/v5/boards", 201)
    assert exchange.operation_id == "boards/create"
    assert json.loads(exchange.request_body) == {"name": "Watched"}
    assert json.loads(exchange.response_body)["name"] == "Watched"
    assert exchange.request_headers["Authorization"].startswith("Bearer pina")
    assert exchange.response_headers["Content-Type"].startswith("application/json")
    assert exchange.dropped is None


async def test_the_emulator_listens_only_on_loopback() -> None:
    emu = Emulator()
    with pytest.raises(ConfigurationError, match="listens only on a loopback address"):
        async with emu.running(host="0.0.0.0"):
            pass


async def test_a_port_in_use_is_refused_with_a_clear_error() -> None:
    first, second = Emulator(), Emulator()
    async with first.running() as base:
        port = int(base.rsplit(":", 1)[1])
        with pytest.raises(ConfigurationError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with second.running(port=port):
                pass
