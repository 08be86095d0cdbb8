"""``flowmixer demo``: the repin flow against a built-in Pinterest emulator, no account needed.

Starts the emulator in this process with its demo seed, runs
``examples/flows/repin-new-pins.json`` (new pins of the Recipes board are copied to the Recipe
archive board) polling every second, pins three things on the watched board as a person would
(one without a title, which the flow's filter skips), waits for the copies and reports what the
flow did. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import aiohttp

from components.pinterest.demo_login import Connected, connect
from components.pinterest.emulator.config import EmulatorConfig
from components.pinterest.emulator.emulator import Emulator
from runtime.auth.scopes import scopes_to_request
from runtime.engine import Engine, Output
from runtime.examples import example_path
from runtime.flow import validate_flow
from runtime.registry import Registry
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from runtime.plan import FlowPlan

FLOW_FILE = ("flows", "repin-new-pins.json")
WATCHER = "watch"
# The demo seed's archive board, where the example flow copies pins.
ARCHIVE_BOARD = "600000000000000003"
POLL_SECONDS = 1.0

# What the demo pins on the watched board while the flow runs: (title, description, link).
NEW_PINS: tuple[tuple[str | None, str | None, str | None], ...] = (
    ("Rhubarb crumble", "Twenty minutes, one dish", "https://flowmixer.invalid/rhubarb"),
    (None, "A photo pinned without a title", None),
    ("Miso ramen", "Broth in an hour", "https://flowmixer.invalid/ramen"),
)


@dataclass
class DemoReport:
    """What happened, for the printout and for tests."""

    api_base: str
    account: str
    pinned: list[dict[str, Any]] = field(default_factory=list)
    copies: list[Output] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    dead_letters: list[str] = field(default_factory=list)

    @property
    def expected_copies(self) -> int:
        return sum(1 for pin in self.pinned if pin.get("title"))

    @property
    def ok(self) -> bool:
        return len(self.copies) == self.expected_copies and not self.dead_letters


def demo_flow(registry: Registry) -> FlowPlan:
    """The example flow, polling every second instead of every minute."""
    data = json.loads(example_path(*FLOW_FILE).read_text("utf-8"))
    data["components"][WATCHER]["config"]["properties"]["interval"] = POLL_SECONDS
    return validate_flow(data, registry, source="/".join(("examples", *FLOW_FILE)))


async def run_demo(*, timeout: float = 30.0, out: TextIO = sys.stdout) -> DemoReport:
    """Start an emulator with the demo seed, run the demo against it, print what happens."""
    emulator = Emulator(config=EmulatorConfig(auto_approve=True))
    async with emulator.running() as base:
        return await demo_against(emulator, base, timeout=timeout, out=out)


async def demo_against(
    emulator: Emulator, base: str, *, timeout: float = 30.0, out: TextIO = sys.stdout
) -> DemoReport:
    """Run the demo flow against a running emulator (at ``base``) that has the demo seed."""
    registry = Registry.load()
    plan = demo_flow(registry)
    api = f"{base}/v5"
    service = registry.services()["acme:pinterest"]
    # The demo keeps its vault and key in a directory of its own, gone when it ends.
    with tempfile.TemporaryDirectory(prefix="flowmixer-demo-") as home:
        store = await SQLiteStore.open(Path(home) / "demo.db")
        async with store, aiohttp.ClientSession() as session:
            _say(out, f"Pinterest emulator at {api}.")
            # What the flow's components need, plus what naming the account needs.
            scopes = scopes_to_request(service, [n.manifest for n in plan.nodes.values()])
            connected = await connect(
                emulator, base, service, scopes, home=Path(home), store=store, session=session
            )
            _say(
                out,
                f"  oauth : authorized flowmixer for {connected.account}"
                f" ({', '.join(connected.scopes)}); tokens stored encrypted",
            )
            return await _run_flow(emulator, plan, api, connected, timeout=timeout, out=out)


async def _run_flow(
    emulator: Emulator,
    plan: FlowPlan,
    api: str,
    connected: Connected,
    *,
    timeout: float,
    out: TextIO,
) -> DemoReport:
    account = connected.account
    report = DemoReport(api_base=api, account=account)
    boards = {b.id: b.name for b in emulator.state.boards.values()}
    _say(out, f"Flow {plan.id}: {plan.name}.")

    def copied(output: Output) -> None:
        report.copies.append(output)
        pin = output.payload
        _say(
            out,
            f"  flow  : copied {pin.get('title')!r} to {boards.get(pin.get('board_id'), '?')}"
            f" as pin {pin.get('id')}",
        )

    async with Engine(MemoryStore(), on_output=copied, credentials=connected.resolver) as engine:
        await engine.start_flow(plan)
        await _first_tick(engine, plan.id)
        watched = plan.nodes[WATCHER].properties["boardId"]
        for title, description, link in NEW_PINS:
            pin = emulator.add_pin(watched, title=title, description=description, link=link)
            report.pinned.append({"id": pin.id, "title": title})
            shown = repr(title) if title else "a pin without a title"
            _say(out, f"  you   : pinned {shown} on {boards[watched]}")
            await asyncio.sleep(POLL_SECONDS / 2)
        await _until(lambda: len(report.copies) >= report.expected_copies, timeout)
        await engine.wait_idle(plan.id)
        report.stats = {cid: s.as_dict() for cid, s in engine.stats(plan.id).items()}
        await engine.stop_flow(plan.id)
    report.dead_letters = [d.error for d in await engine.store.list_dead_letters()]
    _summary(out, report)
    return report


async def _first_tick(engine: Engine, flow_id: str) -> None:
    # The first tick records what is already on the board (the baseline) and sends nothing.
    await _until(lambda: engine.stats(flow_id)[WATCHER].ticks > 0, 10.0)


async def _until(condition: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.05)


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def _summary(out: TextIO, report: DemoReport) -> None:
    # The filter's inputs that never reached the copy step are the ones it skipped.
    skipped = report.stats.get("has-title", {}).get("received", 0) - report.stats.get(
        "copy", {}
    ).get("received", 0)
    _say(
        out,
        f"Done: {len(report.pinned)} new pins seen, {len(report.copies)} copied,"
        f" {skipped} skipped by the filter, {len(report.dead_letters)} dead letters.",
    )
    for error in report.dead_letters:
        _say(out, f"  dead letter: {error}")
    if not report.ok:
        _say(out, f"Expected {report.expected_copies} copies; the flow did not finish in time.")
