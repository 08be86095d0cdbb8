"""Running one Pinterest component in a real flow, against the emulator, as a test sees it.

A flow ``t`` holds a ``flowmixer.core.Webhook`` (``hook``) wired to the component under test
(``step``); events are pushed into the hook and the engine runs until idle. What ``step`` sent
leaves the flow as :class:`Output` objects (it has no wires); what it could not handle is in
the dead letters. The component reaches the emulator with a token of exactly the scopes asked.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from components.pinterest.emulator import ORGANIC_SCOPES
from components.pinterest.emulator.server import serving
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.manifest import ComponentManifest
from runtime.node import ComponentStats
from runtime.registry import Registry
from runtime.stores.base import DeadLetter
from runtime.stores.memory import MemoryStore

if TYPE_CHECKING:
    from tests.pinterest.emulator_harness import EmulatorHarness

SERVICE = "acme:pinterest"


@functools.cache
def registry() -> Registry:
    """Every manifest of the installation, loaded once per test session."""
    return Registry.load()


def manifest(name: str) -> ComponentManifest:
    """The manifest of ``acme.pinterest.<name>``."""
    return registry().get(f"acme.pinterest.{name}")


@dataclass
class Outcome:
    """What one run of a component produced."""

    events: list[str]
    outputs: list[Output]
    dead_letters: list[DeadLetter]
    stats: ComponentStats
    operations: list[str] = field(default_factory=list)

    def sent(self, port: str = "out") -> list[Any]:
        """The payloads sent on ``port``, in order."""
        return [o.payload for o in self.outputs if o.port == port]

    @property
    def ports(self) -> list[str]:
        return [o.port for o in self.outputs]

    @property
    def errors(self) -> list[str]:
        """The reasons of the dead letters, in the order the events were pushed."""
        order = {event: n for n, event in enumerate(self.events)}
        letters = sorted(self.dead_letters, key=lambda d: order.get(d.envelope.correlation_id, 0))
        return [letter.error for letter in letters]

    @property
    def error(self) -> str:
        """The reason of the only dead letter (fails when there is not exactly one)."""
        assert len(self.dead_letters) == 1, f"dead letters: {self.errors}; outputs: {self.outputs}"
        return self.dead_letters[0].error


async def run_component(
    harness: EmulatorHarness,
    name: str,
    events: Iterable[Any],
    *,
    properties: dict[str, Any] | None = None,
    scopes: Sequence[str] | None = ORGANIC_SCOPES,
    token: str | None = None,
    max_attempts: int = 1,
) -> Outcome:
    """Push ``events`` into a flow running ``acme.pinterest.<name>``; ``scopes=None`` means
    exactly the scopes of the component's manifest."""
    if token is None:
        wanted = manifest(name).auth.scopes if scopes is None else scopes  # type: ignore[union-attr]
        token = harness.token(wanted)
    credentials = StaticCredentials(SERVICE, token, settings={"apiBase": harness.api})
    flow = {
        "id": "t",
        "retry": {"maxAttempts": max_attempts, "baseDelay": 0.001, "maxDelay": 0.01},
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "step": {
                "type": f"acme.pinterest.{name}",
                "source": {"in": {"hook": ["out"]}},
                "config": {"properties": properties or {}},
            },
        },
    }
    plan = validate_flow(flow, registry())
    store = MemoryStore()
    outputs: list[Output] = []
    seen = len(harness.exchanges)

    def resolve(wanted: ComponentManifest) -> StaticCredentials | None:
        return credentials if wanted.auth is not None else None

    async with Engine(store, on_output=outputs.append, credentials=resolve) as engine:
        await engine.start_flow(plan)
        pushed = [await engine.push("t", "hook", event) for event in events]
        await engine.wait_idle("t")
        stats = engine.stats("t")["step"]
    operations = [e.operation_id for e in harness.exchanges[seen:] if e.operation_id]
    return Outcome(pushed, outputs, await store.list_dead_letters(flow_id="t"), stats, operations)


@contextlib.asynccontextmanager
async def video_server(body: bytes = b"\x00\x00\x00\x18ftypmp42" * 64) -> AsyncIterator[str]:
    """A file server on 127.0.0.1 answering ``body`` as an MP4; yields the video's address."""

    async def clip(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/clip.mp4", clip)
    async with serving(app, "127.0.0.1", 0) as base:
        yield f"{base}/clip.mp4"
