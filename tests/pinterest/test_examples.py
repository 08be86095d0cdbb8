"""The Pinterest example flows, the demo and one-shot calls, against the emulator."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from components.pinterest.demo import ARCHIVE_BOARD, demo_against
from runtime.cli import main
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.logging import reset_logging
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore
from tests import kit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RECIPES = "600000000000000001"


def example(name: str, **trigger_properties: Any) -> dict[str, Any]:
    flow = json.loads((EXAMPLES / "flows" / name).read_text())
    for component in flow["components"].values():
        if component["type"] in ("acme.pinterest.NewBoard", "acme.pinterest.NewPinOnBoard"):
            component["config"]["properties"].update(trigger_properties)
    return flow


def engine_for(emulator: Any, outputs: list[Output], store: MemoryStore) -> Engine:
    credentials = StaticCredentials(
        "acme:pinterest", emulator.token(), settings={"apiBase": emulator.api}
    )
    return Engine(
        store,
        on_output=outputs.append,
        credentials=lambda manifest: credentials if manifest.auth else None,
    )


async def test_the_demo_connects_through_oauth_and_copies_each_new_titled_pin(make_emulator):
    out = io.StringIO()
    async with make_emulator(auto_approve=True) as emulator:
        report = await demo_against(emulator.emu, emulator.base, out=out, timeout=20)
        token_requests = dict(emulator.emu.stats.token_requests)
        pins = list(emulator.emu.state.pins.values())

    assert report.ok, out.getvalue()
    assert [c.payload["title"] for c in report.copies] == ["Rhubarb crumble", "Miso ramen"]
    assert {c.payload["board_id"] for c in report.copies} == {ARCHIVE_BOARD}
    archived = [p for p in pins if p.board_id == ARCHIVE_BOARD]
    assert sorted(p.title for p in archived) == ["Miso ramen", "Rhubarb crumble"]
    text = out.getvalue()
    assert token_requests.get("authorization_code") == 1  # the real code exchange happened
    assert "oauth : authorized flowmixer for flowmixer_demo" in text
    assert "copied 'Rhubarb crumble' to Recipe archive" in text
    assert "3 new pins seen, 2 copied, 1 skipped by the filter, 0 dead letters" in text


async def test_the_blog_post_example_pins_posts_that_have_a_cover_image(emulator):
    outputs: list[Output] = []
    store = MemoryStore()
    plan = validate_flow(example("pin-new-blog-posts.json"), Registry.load())
    post = json.loads((EXAMPLES / "events" / "blog-post.json").read_text())
    async with engine_for(emulator, outputs, store) as engine:
        await engine.start_flow(plan)
        await engine.push(plan.id, "published", post)
        await engine.push(plan.id, "published", {"title": "No picture", "url": "https://a.b/c"})
        await engine.wait_idle(plan.id)
        stats = engine.stats(plan.id)

    [pinned] = [o.payload for o in outputs]
    assert (pinned["title"], pinned["link"], pinned["board_id"]) == (
        post["title"],
        post["url"],
        RECIPES,
    )
    assert pinned["description"] == post["summary"]
    assert stats["has-image"].received == 2
    assert stats["pin"].received == 1
    assert await store.list_dead_letters() == []


async def test_the_new_board_example_gives_each_new_board_two_sections(emulator):
    outputs: list[Output] = []
    store = MemoryStore()
    plan = validate_flow(example("sections-for-new-boards.json", interval=0.1), Registry.load())
    async with engine_for(emulator, outputs, store) as engine:
        await engine.start_flow(plan)
        await kit.eventually(lambda: engine.stats(plan.id)["new-board"].ticks > 0)
        board = emulator.emu.add_board("Summer picnic")
        await kit.eventually(lambda: len(outputs) == 2)
        await engine.wait_idle(plan.id)

    sections = sorted(
        s.name for s in emulator.emu.state.sections.values() if s.board_id == board.id
    )
    assert sections == ["Done", "Ideas"]
    assert await store.list_dead_letters() == []


async def test_call_runs_a_pinterest_component_once_with_the_token_from_the_environment(
    emulator, monkeypatch, capsys
):
    monkeypatch.setenv("PINTEREST_ACCESS_TOKEN", emulator.token())
    monkeypatch.setenv("PINTEREST_API_BASE", emulator.api)
    try:
        code = await asyncio.to_thread(
            main, ["call", "GetBoard", "--input", json.dumps({"boardId": RECIPES})]
        )
        [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        missing = await asyncio.to_thread(
            main, ["call", "GetBoard", "--input", '{"boardId": "999"}']
        )
    finally:
        reset_logging()

    assert code == 0
    assert (line["port"], line["payload"]["name"]) == ("out", "Recipes")
    assert missing == 1
    assert "Board not found" in capsys.readouterr().err
