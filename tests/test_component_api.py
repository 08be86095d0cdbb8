"""What a handler sees through its Context: input, properties, state, HTTP, logger, ids."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from runtime.component import Component, Context
from runtime.engine import Engine, Output
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore
from tests import kit


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"echo": request.query.get("q")})


@pytest.fixture
async def echo_url():
    """A real aiohttp server on 127.0.0.1 that echoes the ``q`` query parameter."""
    app = web.Application()
    app.router.add_get("/echo", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/echo"
    await runner.cleanup()


class Fetch(Component):
    """GETs ``properties["url"]`` with the shared session and sends the JSON answer."""

    sessions: list[Any] = []

    async def receive(self, context: Context) -> None:
        Fetch.sessions.append(context.http)
        async with context.http.get(context.properties["url"], params=context.message) as resp:
            await context.send({"status": resp.status, "body": await resp.json()})


class Remember(Component):
    """Counts messages in persistent state and logs each one."""

    async def receive(self, context: Context) -> None:
        seen = await context.state.get("seen", 0) + 1
        await context.state.set("seen", seen)
        context.log.debug("remembered", seen=seen)
        await context.send(
            {
                "seen": seen,
                "input": context.messages,
                "ids": [context.flow_id, context.component_id, context.correlation_id],
            }
        )


def plan_with(handler: type[Component], **properties: Any) -> Any:
    flow = kit.plan(
        "api", {"hook": "Hook", "c": "Echo"}, [("hook", "c")], properties={"c": properties}
    )
    object.__setattr__(flow.nodes["c"], "handler", handler)
    return flow


async def test_components_share_one_http_session_that_reaches_a_real_server(echo_url):
    outputs: list[Output] = []
    Fetch.sessions = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(plan_with(Fetch, url=echo_url))
        await engine.push("api", "hook", {"q": "one"})
        await engine.push("api", "hook", {"q": "two"})
        await engine.wait_idle("api")

    assert [o.payload for o in outputs] == [
        {"status": 200, "body": {"echo": "one"}},
        {"status": 200, "body": {"echo": "two"}},
    ]
    assert Fetch.sessions[0] is Fetch.sessions[1]
    assert Fetch.sessions[0].closed  # the engine closed the session it made


async def test_state_persists_in_sqlite_across_engine_restarts_and_logs_are_bound(tmp_path):
    outputs: list[Output] = []
    for _ in range(2):
        store = await SQLiteStore.open(tmp_path / "state.db")
        async with store, Engine(store, on_output=outputs.append) as engine:
            await engine.start_flow(plan_with(Remember))
            with capture_logs() as logs:
                event_id = await engine.push("api", "hook", {"n": 1})
                await engine.wait_idle("api")

    assert [o.payload["seen"] for o in outputs] == [1, 2]
    assert outputs[1].payload["input"] == {"in": {"n": 1}}
    assert outputs[1].payload["ids"] == ["api", "c", event_id]
    [entry] = [e for e in logs if e["event"] == "remembered"]
    assert (entry["flow_id"], entry["component_id"], entry["correlation_id"]) == (
        "api",
        "c",
        event_id,
    )
