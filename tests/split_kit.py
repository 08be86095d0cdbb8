"""The server as ``flowmixer serve`` runs it, in this process: the engine on a loop of its own
thread (:class:`~runtime.server.engine_loop.EngineLoop`), the HTTP front on the test's loop."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.cli.broker_option import make_broker
from runtime.engine import QUEUE_SIZE, Output
from runtime.registry import Registry
from runtime.server import Server
from runtime.server.assemble import assemble
from runtime.server.bridge import Bridge
from runtime.server.engine_loop import EngineLoop
from runtime.server.intake import HookIntake
from runtime.stores.sqlite import SQLiteStore
from tests.server_kit import ADMIN_TOKEN, Served


@dataclass
class Blocked:
    """The engine's loop held by a callback until :meth:`release` (no timing involved)."""

    entered: threading.Event
    gate: threading.Event
    returned: threading.Event

    def release(self) -> None:
        self.gate.set()


@dataclass
class SplitServed(Served):
    """A served app whose engine runs on ``bridge.engine_loop``."""

    bridge: Bridge = field(default_factory=Bridge)

    def block_engine_loop(self) -> Blocked:
        """Hold the engine's loop (as a handler calling ``time.sleep`` would) until released;
        returns once it is held."""
        blocked = Blocked(threading.Event(), threading.Event(), threading.Event())

        def hold() -> None:
            blocked.entered.set()
            blocked.gate.wait(30)
            blocked.returned.set()

        assert self.bridge.engine_loop is not None
        self.bridge.engine_loop.call_soon_threadsafe(hold)
        assert blocked.entered.wait(10)
        return blocked

    async def on_engine(self, work: Any) -> Any:
        """Await ``work`` (a coroutine) on the engine's loop."""
        return await self.bridge.call(work)


@contextlib.asynccontextmanager
async def serving_split(
    db: Path,
    registry: Registry,
    *,
    broker: str = "sqlite",
    queue_size: int = QUEUE_SIZE,
    intake: HookIntake | None = None,
) -> AsyncIterator[SplitServed]:
    """The server over the SQLite file ``db``, its engine on its own loop; ``broker`` is
    ``sqlite`` or ``memory``, as ``flowmixer serve --broker`` takes; ``queue_size`` and
    ``intake`` as ``--queue-size`` and ``--hook-wait``/``--idempotency-window`` make them."""
    outputs: list[Output] = []  # appended on the engine's thread: list.append is atomic
    engine_loop = EngineLoop()
    bridge = Bridge(engine_loop.start())
    try:
        async with await SQLiteStore.open(db) as store, aiohttp.ClientSession() as client:
            made: dict[str, Any] = {}

            async def open_parts() -> Any:
                made["session"] = aiohttp.ClientSession()
                made["broker"] = make_broker(broker, store)
                return await assemble(
                    store,
                    registry,
                    SecretBox([generate_key()]),
                    made["session"],
                    admin_token=ADMIN_TOKEN,
                    public_url="http://flows.example.test",
                    logger=structlog.get_logger("flowmixer.server"),
                    environ={},
                    on_output=outputs.append,
                    broker=made["broker"],
                    queue_size=queue_size,
                    intake=intake,
                )

            async def close_parts() -> None:
                await made["broker"].close()
                await made["session"].close()

            ctx = await bridge.call(open_parts())
            server = Server(ctx, host="127.0.0.1", port=0, bridge=bridge)
            try:
                port = await server.start()
                yield SplitServed(f"http://127.0.0.1:{port}", ctx, client, outputs, bridge)
            finally:
                await server.close()
                await bridge.call(close_parts())
    finally:
        engine_loop.stop()
