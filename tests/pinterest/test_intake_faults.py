"""Bounded intake against a real ``flowmixer serve`` whose quota defers every message: intake
stops at the bound with 503s, memory stays flat, nothing accepted is lost (not even across a
restart), stop and DELETE return promptly, and idempotency keys hold across a restart.

The emulator runs in this process on 127.0.0.1; the server is a child process. Its quota lets
5 pins out per minute and waits at most 1 s for one, so the rest are deferred (with
``maxElapsed: null``, for as long as it takes) and stay held by the flow.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.test_faults import FLOW, FLOW_ID, HOOK, pins_by_title, title
from tests.serve_process import Admin, ServeProcess

QUEUE_SIZE = 40
QUOTA_ENV = {
    "FLOWMIXER_PINTEREST_QUOTA": json.dumps(
        {"org_write": {"limit": 5, "window": 60, "maxWait": 1}}
    ),
    "FLOWMIXER_QUEUE_SIZE": str(QUEUE_SIZE),
    "FLOWMIXER_HOOK_WAIT": "0.1",
}
DEFERRED_FLOW: dict[str, Any] = {
    **FLOW,
    "retry": {"maxAttempts": 3, "baseDelay": 0.05, "maxDelay": 1.0, "maxElapsed": None},
}
# Messages in hand: one each webhook worker waits to hand on (eight: the Webhook manifest's
# concurrency) and what CreatePin's eight workers handle. The flow holds at most a bound per
# component and these.
IN_HAND = 8 + 8
MOST_HELD = 2 * QUEUE_SIZE + IN_HAND
TITLE = re.compile(r"event-\d{4}")


def server(harness: EmulatorHarness, home: Path) -> ServeProcess:
    env = {"PINTEREST_ACCESS_TOKEN": harness.token(), "PINTEREST_API_BASE": harness.api}
    return ServeProcess(home, env | QUOTA_ENV)


def rss_kib(process: ServeProcess) -> int:
    assert process._process is not None
    status = Path(f"/proc/{process._process.pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


def queued_titles(home: Path) -> list[str]:
    """The events named by the rows the durable broker keeps (the server must be stopped)."""
    with sqlite3.connect(home / "flowmixer.db") as conn:
        texts = [str(r[0]) for r in conn.execute("SELECT envelope_json FROM messages")]
    # A pin's row names its event twice: in its payload and in the trail of the hook's output.
    return [name for text in texts for name in set(TITLE.findall(text))]


async def flood(
    admin: Admin, secret: str, numbers: range, *, concurrency: int = 48
) -> dict[int, int]:
    """One event per number, ``concurrency`` at a time; the status each got."""
    gate = asyncio.Semaphore(concurrency)
    statuses: dict[int, int] = {}

    async def one(n: int) -> None:
        async with gate:
            statuses[n] = await admin.push(HOOK, {"title": title(n)}, secret)

    await asyncio.gather(*(one(n) for n in numbers))
    return statuses


async def timed(call: Any) -> tuple[float, Any]:
    began = time.monotonic()
    result = await call
    return time.monotonic() - began, result


async def test_a_deferring_flow_stops_intake_at_its_bound_with_503s_and_loses_nothing(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    async with make_emulator(clock=time.time) as harness, aiohttp.ClientSession() as session:
        first = server(harness, home)
        admin = Admin(session, await first.start())
        try:
            secret = await admin.deploy(DEFERRED_FLOW)
            warm = await flood(admin, secret, range(0, 400))
            rss_before = rss_kib(first)
            later = await flood(admin, secret, range(400, 2400))
            rss_after = rss_kib(first)
            _, status = await admin.api("GET", f"/api/flows/{FLOW_ID}")
            async with session.get(admin.url + "/metrics?flows=1") as response:
                metrics = await response.text()
            async with session.post(
                admin.url + HOOK,
                json={"title": title(9999)},
                headers={"X-Flowmixer-Hook-Secret": secret},
            ) as response:
                refused_headers, refused_body = response.headers, await response.json()
                refused_status = response.status
            stop_took, (stopped, _) = await timed(admin.api("POST", f"/api/flows/{FLOW_ID}/stop"))
        finally:
            await first.stop()
        statuses = warm | later
        accepted = {title(n) for n, s in statuses.items() if s == 202}
        pinned = set(pins_by_title(harness))
        kept = queued_titles(home)

        second = server(harness, home)
        admin = Admin(session, await second.start())
        try:
            _, restarted = await admin.api("POST", f"/api/flows/{FLOW_ID}/start")
            _, again = await admin.api("GET", f"/api/flows/{FLOW_ID}")
            delete_took, (deleted, _) = await timed(admin.api("DELETE", f"/api/flows/{FLOW_ID}"))
        finally:
            await second.stop()
        left = queued_titles(home)

    # Intake stopped at the bound: the rest were refused, each answered (none unanswered).
    assert set(statuses.values()) <= {202, 503}
    assert len(statuses) == 2400
    assert 503 in statuses.values()
    assert len(accepted) <= MOST_HELD + len(pinned) + 5, f"{len(accepted)} accepted"
    assert (refused_status, refused_headers["Retry-After"]) == (503, "1")
    assert "no room" in refused_body["error"]
    assert sum(status["depths"].values()) <= MOST_HELD
    # Memory stays flat once the bound is reached: 2,000 more events cost next to nothing.
    assert rss_after - rss_before < 16 * 1024, f"RSS grew {rss_after - rss_before} KiB"
    # Deferrals are counted as such, not as failures.
    pin = status["stats"]["pin"]
    assert pin["deferred"] > 0
    assert (pin["failed"], pin["retried"], pin["dead_lettered"]) == (0, 0, 0)
    assert re.search(r'flowmixer_messages_deferred_total\{.*component="pin".*\} [1-9]', metrics)
    # Nothing accepted is lost: each is a pin or a row kept for the next start; none twice.
    assert stopped == 200
    assert stop_took < 10, f"stop took {stop_took:.1f} s"
    assert sorted(kept) == sorted(set(kept))
    assert accepted == pinned | set(kept)
    assert pinned.isdisjoint(kept)
    # ...and the restart takes them up again; DELETE is prompt and drops them.
    assert restarted["state"] in ("running", "paused")
    assert sum(again["depths"].values()) >= len(kept) - IN_HAND
    assert deleted == 200
    assert delete_took < 10, f"DELETE took {delete_took:.1f} s"
    assert left == []


@pytest.mark.parametrize("ending", ["stop", "kill -9"])
async def test_an_idempotency_key_makes_one_pin_even_across_a_restart(
    make_emulator: MakeEmulator, tmp_path: Path, ending: str
) -> None:
    """The key is committed with its event: after a graceful stop or a ``kill -9`` the
    server still answers a repeat with the first event, and one pin is made."""
    home = tmp_path / "home"

    async def send(admin: Admin, secret: str) -> tuple[int, str, str | None]:
        async with admin.session.post(
            admin.url + HOOK,
            json={"title": title(1)},
            headers={"X-Flowmixer-Hook-Secret": secret, "Idempotency-Key": "order-0001"},
        ) as response:
            body = await response.json()
            replayed = response.headers.get("Idempotent-Replayed")
            return response.status, body["eventId"], replayed

    async with make_emulator(clock=time.time) as harness, aiohttp.ClientSession() as session:
        first = server(harness, home)
        admin = Admin(session, await first.start())
        try:
            secret = await admin.deploy(DEFERRED_FLOW)
            sent = [await send(admin, secret) for _ in range(3)]
        finally:
            await (first.kill() if ending == "kill -9" else first.stop())
        second = server(harness, home)
        admin = Admin(session, await second.start())
        try:
            sent.append(await send(admin, secret))
            for _ in range(100):
                if pins_by_title(harness)[title(1)]:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # time enough for a second pin, were one queued
        finally:
            await second.stop()

    assert {status for status, _, _ in sent} == {202}
    assert len({event for _, event, _ in sent}) == 1, "every repeat answers the first event"
    assert [replayed for _, _, replayed in sent] == [None, "true", "true", "true"]
    assert pins_by_title(harness)[title(1)] == 1
