"""An outage of Pinterest is a wait: no message is dead-lettered, every event is one pin.

The emulator stops listening for a while (its listening socket and connections are closed, so
calls are refused), then listens again on the same port, as a service that went down and came
back. Messages wait for the account's circuit (:mod:`runtime.circuit`) without using attempts;
one probe call finds the service back and closes the circuit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from components.pinterest.emulator import Emulator, EmulatorConfig, RateLimits
from components.pinterest.emulator.server import Server
from runtime.circuit import CLOSED, OPEN, Circuits
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.stores import MemoryStore
from tests.pinterest.component_kit import SERVICE, registry
from tests.pinterest.emulator_harness import EmulatorHarness
from tests.pinterest.openapi import Spec
from tests.pinterest.test_faults import (
    FLOW,
    FLOW_ID,
    assert_each_once,
    pins_by_title,
    push_all,
    settle,
    title,
)
from tests.serve_process import Admin, ServeProcess

LIMIT = 1000
"""Pin creations per second the emulator allows and flowmixer is told: enough not to slow the
retries down, which would hide what an outage does to attempts."""
LIMITS = RateLimits(
    per_user={"org_write": LIMIT, "org_read": 10_000},
    per_app={"org_write": 10 * LIMIT, "org_read": 100_000},
    window_seconds=1.0,
)
QUOTA_ENV = {"FLOWMIXER_PINTEREST_QUOTA": json.dumps({"org_write": {"limit": LIMIT, "window": 1}})}
STATE = re.compile(r'^flowmixer_circuit_state\{account="([^"]*)",service="([^"]*)"\} (\S+)$', re.M)
OPENED = re.compile(r"^flowmixer_circuit_opened_total\{[^}]*\} (\S+)$", re.M)
FAILED_CALLS = re.compile(r'^flowmixer_api_calls_total\{[^}]*status="error"\} (\S+)$', re.M)


class Outage:
    """The emulator served on one port, which can stop listening and listen there again."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.port = 0
        self._server: Server | None = None

    async def listen(self) -> str:
        """Serve (again, on the same port once it has one); the base URL."""
        server = Server(self.emu.make_app())
        base = await server.start("127.0.0.1", self.port)
        self.port = int(base.rsplit(":", 1)[1])
        self._server = server
        return base

    async def stop(self) -> None:
        """Close the listening socket and every connection: calls are refused from now on."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()


@contextlib.asynccontextmanager
async def outage_emulator(spec: Spec | None) -> AsyncIterator[tuple[EmulatorHarness, Outage]]:
    """An emulator on the real clock that the test can take down and bring back."""
    emu = Emulator(config=EmulatorConfig(clock=time.time, rate_limits=LIMITS))
    outage = Outage(emu)
    base = await outage.listen()
    try:
        async with aiohttp.ClientSession() as session:
            harness = EmulatorHarness(emu, base, session, spec)
            emu.observe(harness.observe)
            yield harness, outage
    finally:
        await outage.stop()
    harness.assert_conformant()


def pin_flow(retry: dict[str, Any] | None = None) -> dict[str, Any]:
    flow: dict[str, Any] = json.loads(json.dumps(FLOW))  # a copy: FLOW is shared
    if retry is None:
        del flow["retry"]  # the default policy: 5 attempts
    else:
        flow["retry"] = retry
    return flow


@pytest.mark.timeout(60)
async def test_messages_wait_for_a_service_that_refuses_connections_and_use_no_attempt(
    openapi_spec: Spec | None,
):
    # Two attempts with millisecond backoffs: without the circuit, the outage would
    # dead-letter every message it finds.
    flow = pin_flow({"maxAttempts": 2, "baseDelay": 0.001, "maxDelay": 0.005})
    circuits = Circuits(base_backoff=0.1, max_backoff=0.4)
    outputs: list[Output] = []
    store = MemoryStore()
    async with outage_emulator(openapi_spec) as (harness, outage):
        credentials = StaticCredentials(SERVICE, harness.token(), settings={"apiBase": harness.api})
        engine = Engine(
            store,
            on_output=outputs.append,
            credentials=lambda wanted: credentials if wanted.auth else None,
            circuits=circuits,
        )
        circuit = circuits.circuit(SERVICE)
        with capture_logs() as logs:
            async with engine:
                await engine.start_flow(validate_flow(flow, registry()))
                for n in range(10):
                    await engine.push(FLOW_ID, "hook", {"title": title(n)})
                await engine.wait_idle(FLOW_ID)
                await outage.stop()
                for n in range(10, 40):
                    await engine.push(FLOW_ID, "hook", {"title": title(n)})
                for _ in range(500):  # the circuit opens, and stays open while refused
                    if circuit.state is OPEN and circuit.opened >= 3:
                        break
                    await asyncio.sleep(0.01)
                assert circuit.state is not CLOSED
                assert pins_by_title(harness).total() == 10
                await outage.listen()
                await engine.wait_idle(FLOW_ID)
                stats = engine.stats(FLOW_ID)["pin"]
        letters = await store.list_dead_letters(flow_id=FLOW_ID)
        pins = pins_by_title(harness)

    assert letters == []
    assert pins == {title(n): 1 for n in range(40)}
    assert len(outputs) == 40
    assert circuit.state is CLOSED
    assert stats.dead_lettered == 0
    events = [(e["log_level"], e["event"]) for e in logs if "circuit" in e["event"]]
    assert events == [
        ("warning", "circuit opened: calls wait for the service"),
        ("info", "circuit closed: the service answers again"),
    ]


async def circuit_metrics(
    session: aiohttp.ClientSession, url: str
) -> tuple[set[float], float, float]:
    """From ``/metrics``: the states of Pinterest's circuits, how many times they opened, and
    how many calls got no answer."""
    async with session.get(url + "/metrics") as response:
        text = await response.text()
    states = {float(v) for _, service, v in STATE.findall(text) if service == SERVICE}
    opened = sum(float(v) for v in OPENED.findall(text))
    return states, opened, sum(float(v) for v in FAILED_CALLS.findall(text))


@pytest.mark.timeout(240)
async def test_a_ten_second_outage_dead_letters_nothing_and_makes_each_event_one_pin(
    openapi_spec: Spec | None, tmp_path: Path
) -> None:
    events, outage_seconds = 1000, 10.0
    async with outage_emulator(openapi_spec) as (harness, outage):
        env = {"PINTEREST_ACCESS_TOKEN": harness.token(), "PINTEREST_API_BASE": harness.api}
        server = ServeProcess(tmp_path / "home", env | QUOTA_ENV)
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, await server.start())
            try:
                secret = await admin.deploy(pin_flow())  # the default retry policy
                pushing = asyncio.create_task(push_all(admin, secret, range(events)))
                for _ in range(1200):  # until pins are being made (at most a minute)
                    if pins_by_title(harness).total() >= 100:
                        break
                    await asyncio.sleep(0.05)
                await outage.stop()
                seen: set[float] = set()
                down_until = time.monotonic() + outage_seconds
                while time.monotonic() < down_until:
                    states, _, _ = await circuit_metrics(session, admin.url)
                    seen |= states
                    await asyncio.sleep(0.25)
                pinned_in_outage = pins_by_title(harness).total()
                await outage.listen()
                statuses = await pushing
                accepted = {title(n) for n, s in statuses.items() if s == 202}
                pins, letters = await settle(harness, admin, accepted, timeout=180)
                after, opened, unanswered = await circuit_metrics(session, admin.url)
            finally:
                await server.stop()

    assert 100 <= pinned_in_outage < events  # the outage did land mid-run
    assert len(accepted) == events
    assert letters == {}, f"{len(letters)} events dead-lettered by the outage"
    assert_each_once(accepted, pins, letters, set())
    assert set(pins) == accepted
    assert 1.0 in seen  # /metrics showed the circuit open during the outage
    assert after == {0.0}  # and closed once the service answered again
    assert opened >= 1
    # While open, the circuit sent nothing but its probes: the calls that failed are those of
    # the opening (five in a row, and the others then in flight) and a probe every 1-30 s.
    # Without it, every message is tried again and again: ~1,000 refused calls in 10 s here.
    assert unanswered <= 40
