"""Quota adherence: how much of Pinterest's per-user limit a flow uses, and whether it trips it.

An emulator on 127.0.0.1 (real clock) allows ``--limit`` pin creations per user in fixed
windows of ``--window`` seconds (multiples of the window on its clock, as a fixed-window
counter counts) and answers 429 beyond that. A flow (webhook -> CreatePin with
``--concurrency`` workers, real HTTP) is fed events as fast as it takes them for ``--duration``
seconds, with the same limit in its quota (the app configuration's ``quota`` key, as a user
would set it). The run starts ``--offset`` windows after a window begins (0: at its start).

Printed: pins created during the run against what the emulator allowed in the windows the run
touched (the limit times their number), the number of 429 answers, and the emulator's peak of
calls in one window (refused ones included). Target: at least 0.95 of the allowance, no 429.

    python bench/quota_adherence.py [--duration 60] [--limit 100] [--window 10]
        [--concurrency 8] [--offset 0] [--log-level error]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
from collections import Counter
from dataclasses import dataclass

from components.pinterest.emulator import Emulator, EmulatorConfig, RateLimits
from runtime.auth.app_config import env_var
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.logging import configure_logging
from runtime.quota import Quotas
from runtime.quota_rules import packaged_rules
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore

SERVICE = "acme:pinterest"
BOARD = "600000000000000001"
UNLIMITED = 10**9


class Statuses:
    """Telemetry that counts answers by status and the rate-limit waits."""

    def __init__(self) -> None:
        self.statuses: Counter[int | str] = Counter()
        self.waits = 0

    def api_call(self, service: str, status: int | str) -> None:
        self.statuses[status] += 1

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        self.waits += 1

    def token_refresh(self, service: str, *, ok: bool) -> None:
        return None

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        return None


@dataclass(frozen=True)
class Result:
    created: int
    allowed: int
    windows: int
    rejected: int
    peak: int
    waits: int
    seconds: float


def flow(concurrency: int) -> dict[str, object]:
    return {
        "id": "pins",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "pin": {
                "type": "acme.pinterest.CreatePin",
                "source": {"in": {"hook": ["out"]}},
                "concurrency": concurrency,
            },
        },
    }


async def feed(engine: Engine, until: float) -> None:
    """Push events until ``until`` (``push`` waits while the flow's queue is full)."""
    n = 0
    while time.time() < until:
        event = {"boardId": BOARD, "title": f"pin {n}", "imageUrl": "https://x.test/pin.png"}
        await engine.push("pins", "hook", event)
        n += 1


async def run(
    duration: float, limit: int, window: float, concurrency: int, offset: float
) -> Result:
    limits = RateLimits(
        per_user={"org_write": limit, "org_read": UNLIMITED},
        per_app={"org_write": UNLIMITED, "org_read": UNLIMITED},
        window_seconds=window,
    )
    emulator = Emulator(config=EmulatorConfig(rate_limits=limits, clock=time.time))
    quotas = Quotas(packaged_rules({env_var(SERVICE, "quota"): f"org_write={limit}/{window:g}"}))
    plan = validate_flow(flow(concurrency), Registry.load())
    telemetry = Statuses()
    created: list[float] = []

    def on_output(output: Output) -> None:
        created.append(time.time())

    async with emulator.running() as base:
        api = base + "/v5"
        token = emulator.issue_token().access_token
        credentials = StaticCredentials(SERVICE, token, account="bench", settings={"apiBase": api})
        async with Engine(
            MemoryStore(),
            queue_size=4 * concurrency,
            on_output=on_output,
            credentials=lambda manifest, account=None: credentials,
            telemetry=telemetry,
            quotas=quotas,
        ) as engine:
            await engine.start_flow(plan)
            # The run is timed from the chosen point of a window, not from when the sleep ends.
            begin = (math.floor(time.time() / window) + 1 + offset) * window
            await asyncio.sleep(begin - time.time())
            start, end = time.time(), begin + duration
            feeder = asyncio.create_task(feed(engine, end))
            await asyncio.sleep(end - time.time())
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            await engine.stop_flow("pins", timeout=0.5)
    windows = math.ceil(end / window - 1e-9) - math.floor(start / window)
    return Result(
        created=sum(start <= t < end for t in created),
        allowed=limit * windows,
        windows=windows,
        rejected=telemetry.statuses[429],
        peak=emulator.stats.peak("org_write", user=emulator.signed_in_user),
        waits=telemetry.waits,
        seconds=end - start,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to create pins")
    parser.add_argument("--limit", type=int, default=100, help="pin creations per window")
    parser.add_argument("--window", type=float, default=10.0, help="window length in seconds")
    parser.add_argument("--concurrency", type=int, default=8, help="CreatePin workers")
    parser.add_argument(
        "--offset", type=float, default=0.0, help="start this fraction of a window late"
    )
    parser.add_argument("--log-level", default="error", help="log level (debug shows the waits)")
    args = parser.parse_args()
    if args.duration <= 0 or args.limit < 1 or args.window <= 0 or args.concurrency < 1:
        parser.error("--duration and --window must be positive, --limit and --concurrency >= 1")
    if not 0 <= args.offset < 1:
        parser.error("--offset is a fraction of a window: at least 0 and less than 1")
    configure_logging(fmt="console", level=args.log_level)
    result = asyncio.run(run(args.duration, args.limit, args.window, args.concurrency, args.offset))
    rate = result.created / result.seconds
    print(f"limit: {args.limit} per {args.window:g} s per user; concurrency {args.concurrency}")
    print(f"run: {result.seconds:.1f} s over {result.windows} windows of the emulator")
    print(f"pins created: {result.created} of {result.allowed} allowed")
    print(f"fraction of the limit used: {result.created / result.allowed:.3f}")
    print(f"rate: {rate:.2f} pins/s (limit {args.limit / args.window:.2f}/s)")
    print(f"429 answers: {result.rejected}")
    print(f"peak calls in one window: {result.peak}")
    print(f"calls that waited for the quota: {result.waits}")


if __name__ == "__main__":
    main()
