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

With ``--redis URL`` the quota is kept on that Redis server (as with ``flowmixer --redis``),
and ``--processes N`` runs N such engines at once, each in a process of its own with its own
quotas on the server, all creating pins of the same user: the same figures, for all together.

    python bench/quota_adherence.py [--duration 60] [--limit 100] [--window 10]
        [--concurrency 8] [--offset 0] [--log-level error] [--redis URL [--processes N]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from components.pinterest.emulator import Emulator, EmulatorConfig, RateLimits
from runtime.auth.app_config import env_var
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.logging import configure_logging
from runtime.quota import Quotas, quota_state
from runtime.quota_rules import packaged_rules
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore

SERVICE = "acme:pinterest"
BOARD = "600000000000000001"
UNLIMITED = 10**9
REPO = str(Path(__file__).resolve().parents[1])
CHILD_START = 5.0
"""Seconds child processes get to start before the run begins."""


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

    def loop_stall(self, flow_id: str, component_id: str) -> None:
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


@dataclass(frozen=True)
class Drive:
    """What one engine does: create pins from ``begin`` to ``end`` (epoch seconds)."""

    api: str
    token: str
    limit: int
    window: float
    concurrency: int
    begin: float
    end: float
    redis: str | None


async def drive(plan: Drive) -> tuple[list[float], Statuses]:
    """Run the flow in this process from ``plan.begin`` to ``plan.end``; when pins were made,
    and the telemetry."""
    override = f"org_write={plan.limit}/{plan.window:g}"
    quotas = Quotas(
        packaged_rules({env_var(SERVICE, "quota"): override}), state=quota_state(plan.redis)
    )
    flow_plan = validate_flow(flow(plan.concurrency), Registry.load())
    telemetry = Statuses()
    created: list[float] = []

    def on_output(output: Output) -> None:
        created.append(time.time())

    credentials = StaticCredentials(
        SERVICE, plan.token, account="bench", settings={"apiBase": plan.api}
    )
    try:
        async with Engine(
            MemoryStore(),
            queue_size=4 * plan.concurrency,
            on_output=on_output,
            credentials=lambda manifest, account=None: credentials,
            telemetry=telemetry,
            quotas=quotas,
        ) as engine:
            await engine.start_flow(flow_plan)
            await asyncio.sleep(plan.begin - time.time())
            feeder = asyncio.create_task(feed(engine, plan.end))
            await asyncio.sleep(plan.end - time.time())
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            await engine.stop_flow("pins", timeout=0.5)
    finally:
        await quotas.aclose()
    return created, telemetry


async def in_children(plan: Drive, processes: int) -> tuple[list[float], int, int]:
    """Run ``processes`` engines, each in a child process: when pins were made, the 429
    answers and the quota waits of all of them."""
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            json.dumps(asdict(plan)),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": REPO},
        )
        for _ in range(processes)
    ]
    created: list[float] = []
    rejected = waits = 0
    for child in children:
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"a child process failed with exit code {child.returncode}")
        result = json.loads(out.splitlines()[-1])
        created += result["created"]
        rejected += result["rejected"]
        waits += result["waits"]
    return created, rejected, waits


async def run(
    duration: float,
    limit: int,
    window: float,
    concurrency: int,
    offset: float,
    redis: str | None = None,
    processes: int = 1,
) -> Result:
    limits = RateLimits(
        per_user={"org_write": limit, "org_read": UNLIMITED},
        per_app={"org_write": UNLIMITED, "org_read": UNLIMITED},
        window_seconds=window,
    )
    emulator = Emulator(config=EmulatorConfig(rate_limits=limits, clock=time.time))
    async with emulator.running() as base:
        token = emulator.issue_token().access_token
        # The run is timed from the chosen point of a window, not from when the sleep ends;
        # child processes get a few seconds to start first.
        lead = CHILD_START if processes > 1 else 0.0
        begin = (math.floor((time.time() + lead) / window) + 1 + offset) * window
        end = begin + duration
        plan = Drive(base + "/v5", token, limit, window, concurrency, begin, end, redis)
        if processes > 1:
            created, rejected, waits = await in_children(plan, processes)
        else:
            created, telemetry = await drive(plan)
            rejected, waits = telemetry.statuses[429], telemetry.waits
    start = plan.begin
    windows = math.ceil(end / window - 1e-9) - math.floor(start / window)
    return Result(
        created=sum(start <= t < end for t in created),
        allowed=limit * windows,
        windows=windows,
        rejected=rejected,
        peak=emulator.stats.peak("org_write", user=emulator.signed_in_user),
        waits=waits,
        seconds=end - start,
    )


def child(text: str) -> None:
    """The engine of one child process (``--child PLAN``): prints what it made as JSON."""
    created, telemetry = asyncio.run(drive(Drive(**json.loads(text))))
    line = {"created": created, "rejected": telemetry.statuses[429], "waits": telemetry.waits}
    print(json.dumps(line), flush=True)


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
    parser.add_argument("--redis", metavar="URL", help="keep the quota on this Redis server")
    parser.add_argument(
        "--processes", type=int, default=1, help="engines, each in its own process (--redis)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        configure_logging(fmt="console", level=args.log_level)
        child(args.child)
        return
    if args.duration <= 0 or args.limit < 1 or args.window <= 0 or args.concurrency < 1:
        parser.error("--duration and --window must be positive, --limit and --concurrency >= 1")
    if not 0 <= args.offset < 1:
        parser.error("--offset is a fraction of a window: at least 0 and less than 1")
    if args.processes < 1 or (args.processes > 1 and not args.redis):
        parser.error("--processes is at least 1, and more than one share a quota on --redis")
    configure_logging(fmt="console", level=args.log_level)
    result = asyncio.run(
        run(
            args.duration,
            args.limit,
            args.window,
            args.concurrency,
            args.offset,
            args.redis,
            args.processes,
        )
    )
    rate = result.created / result.seconds
    print(f"limit: {args.limit} per {args.window:g} s per user; concurrency {args.concurrency}")
    where = f"on Redis, {args.processes} process(es)" if args.redis else "in memory"
    print(f"quota: {where}")
    print(f"run: {result.seconds:.1f} s over {result.windows} windows of the emulator")
    print(f"pins created: {result.created} of {result.allowed} allowed")
    print(f"fraction of the limit used: {result.created / result.allowed:.3f}")
    print(f"rate: {rate:.2f} pins/s (limit {args.limit / args.window:.2f}/s)")
    print(f"429 answers: {result.rejected}")
    print(f"peak calls in one window: {result.peak}")
    print(f"calls that waited for the quota: {result.waits}")


if __name__ == "__main__":
    main()
