"""``flowmixer serve`` with a component that blocks its event loop: the server still answers.

Flow ``stall`` runs a component that calls ``time.sleep(4)`` inside ``receive`` (see
``tests/fixtures/blocking.py``); flow ``orders`` has a webhook feeding a component that records
each event in a ledger file. While the first sleeps, the second's hook and ``/healthz`` answer
within 100 ms (each request timed on loopback, over a connection already open), and the
second's events are handled once the sleep ends: the engine runs on a loop of its own thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.serve_process import Admin, ServeProcess
from tests.test_serve_crash import effects

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = REPO / "tests" / "fixtures" / "blocking"
BLOCK_SECONDS = 4
PROMISE = 0.1  # seconds: the longest answer allowed while the engine's loop is blocked
PROBES = 5

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def serve_process(tmp_path: Path, *args: str) -> ServeProcess:
    # The test components first, so their ``manifests`` package is the one loaded; run outside
    # the repository, whose own ``manifests`` would come first otherwise.
    path = os.pathsep.join([str(COMPONENTS), str(REPO)])
    return ServeProcess(tmp_path / "home", {"PYTHONPATH": path}, *args, cwd=tmp_path)


def stalling(marks: Path) -> dict[str, Any]:
    return {
        "id": "stall",
        "components": {
            "hook": {"type": "test.blocking.Hook"},
            "block": {
                "type": "test.blocking.Block",
                "source": {"in": {"hook": ["out"]}},
                "config": {"properties": {"seconds": BLOCK_SECONDS, "marks": str(marks)}},
            },
        },
    }


def recording(ledger: Path) -> dict[str, Any]:
    return {
        "id": "orders",
        "components": {
            "hook": {"type": "test.blocking.Hook"},
            "record": {
                "type": "test.blocking.Record",
                "source": {"in": {"hook": ["out"]}},
                "config": {"properties": {"ledger": str(ledger), "delay": 0}},
            },
        },
    }


async def timed(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[float, int, Any]:
    """One request: (seconds until the whole answer was read, status, JSON body)."""
    began = time.perf_counter()
    async with session.request(method, url, **kwargs) as response:
        body = await response.json()
    return time.perf_counter() - began, response.status, body


def exists(path: str) -> bool:
    return os.path.exists(path)


async def wait_for(path: str, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not exists(path):  # noqa: ASYNC110 - written by another process
            await asyncio.sleep(0.01)


async def test_while_one_flow_blocks_its_loop_other_hooks_and_healthz_answer_within_100_ms(
    tmp_path: Path,
) -> None:
    marks, ledger = tmp_path / "block", tmp_path / "ledger.db"
    server = serve_process(tmp_path)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, server.url)
            stall_secret = await admin.deploy(stalling(marks))
            orders_secret = await admin.deploy(recording(ledger))
            hook = f"{server.url}/hooks/orders/hook"
            headers = {"X-Flowmixer-Hook-Secret": orders_secret}
            # Opens the connections the probes reuse: what is timed is the answer, not a connect.
            warm = await asyncio.gather(
                timed(session, "GET", f"{server.url}/healthz"),
                timed(session, "POST", hook, json={"n": -1}, headers=headers),
            )
            assert [status for _, status, _ in warm] == [200, 202]

            assert await admin.push("/hooks/stall/hook", {"n": 0}, stall_secret) == 202
            await wait_for(f"{marks}.started")
            hooks = [
                await timed(session, "POST", hook, json={"n": n}, headers=headers)
                for n in range(PROBES)
            ]
            health = [await timed(session, "GET", f"{server.url}/healthz") for _ in range(PROBES)]
            still_blocked = not exists(f"{marks}.ended")

            accepted = [body["eventId"] for _, status, body in hooks if status == 202]
            async with asyncio.timeout(30):
                while not set(accepted) <= set(effects(ledger)):  # noqa: ASYNC110 - a file
                    await asyncio.sleep(0.02)
        assert await server.stop() == 0
    finally:
        await server.kill()

    assert still_blocked, "the probes ran after the blocking handler returned: nothing measured"
    assert len(accepted) == PROBES
    assert max(seconds for seconds, _, _ in hooks) < PROMISE, hooks
    assert [status for _, status, _ in health] == [200] * PROBES
    assert max(seconds for seconds, _, _ in health) < PROMISE, health
    assert all(body["flows"]["running"] == 2 for _, _, body in health)
    assert set(effects(ledger)) >= set(accepted)  # handled once the blocking handler returned
    assert all(deliveries == 1 for deliveries in effects(ledger).values())


async def test_admin_calls_cross_to_the_engine_loop_of_a_served_process(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    server = serve_process(tmp_path)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, server.url)
            secret = await admin.deploy(recording(ledger))
            assert await admin.push("/hooks/orders/hook", {"n": 1}, secret) == 202
            status, flow = await admin.api("GET", "/api/flows/orders")
            stopped = await admin.api("POST", "/api/flows/orders/stop")
            refused = await admin.push("/hooks/orders/hook", {"n": 2}, secret)
            letters = await admin.dead_letters("orders")
            started = await admin.api("POST", "/api/flows/orders/start")
            deleted = await admin.api("DELETE", "/api/flows/orders")
            listed = await admin.api("GET", "/api/flows")
        assert await server.stop() == 0
    finally:
        await server.kill()

    assert (status, flow["state"]) == (200, "running")
    assert stopped == (200, {"id": "orders", "status": "stopped", "state": "stopped"})
    assert refused == 409
    assert letters == []
    assert started[0] == 200
    assert started[1]["state"] == "running"
    assert deleted == (200, {"deleted": "orders"})
    assert listed == (200, {"flows": [], "next": None})
    assert len(effects(ledger)) == 1


async def test_single_loop_serves_hooks_and_the_admin_api_on_one_loop(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    server = serve_process(tmp_path, "--single-loop")
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            admin = Admin(session, server.url)
            secret = await admin.deploy(recording(ledger))
            pushed = await admin.push("/hooks/orders/hook", {"n": 1}, secret)
            async with asyncio.timeout(30):
                while not effects(ledger):  # noqa: ASYNC110 - written by another process
                    await asyncio.sleep(0.02)
            health = await timed(session, "GET", f"{server.url}/healthz")
        assert await server.stop() == 0
    finally:
        await server.kill()

    assert pushed == 202
    assert health[1:] == (
        200,
        {"status": "ok", "flows": {"starting": 0, "running": 1, "paused": 0, "stopping": 0}},
    )
