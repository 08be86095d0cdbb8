"""Engine throughput: messages through a chain of pass-through components.

Pushes N messages into a webhook trigger followed by a chain of C pass-through components
(so C hops per message) on the in-memory broker, and measures the same chain built from bare
``asyncio.Queue``s (one task per stage doing ``get`` then ``put``) in the same run. Prints
messages/s, component hops/s and the ratio engine/bare. Each figure is the best of ``--repeat``
runs, engine and bare runs alternating, which filters out noise from other processes.

``--broker sqlite`` runs the engine on the durable SQLite broker instead (a fresh database file
in a temporary directory per run, pushes from ``--senders`` concurrent producers, ``--concurrency``
workers per component): every hop is a committed row and an acknowledgement. It prints the same
flow on the in-memory broker next to it (runs alternating) and the ratio of the two.

    python bench/engine_throughput.py [--messages 100000] [--chain 10] [--repeat 3]
        [--broker memory|sqlite] [--senders 1] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path
from typing import Any

from runtime.brokers.sqlite import SQLiteBroker
from runtime.component import Component, Context
from runtime.engine import Engine
from runtime.manifest import ComponentManifest
from runtime.plan import FlowPlan, NodePlan, Route
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore

QUEUE_SIZE = 1024


class Source(Component):
    async def receive(self, context: Context) -> None:
        await context.send(context.message)


class PassThrough(Component):
    async def receive(self, context: Context) -> None:
        await context.send(context.message)


def _manifest(name: str, handler: str, *, trigger: bool) -> ComponentManifest:
    return ComponentManifest.model_validate(
        {
            "name": f"bench.engine.{name}",
            "label": name,
            "description": "benchmark component",
            "handler": handler,
            "inPorts": [] if trigger else [{"name": "in"}],
            "outPorts": [{"name": "out"}],
            "webhook": trigger,
        }
    )


def chain_plan(length: int, concurrency: int = 1) -> FlowPlan:
    """A webhook trigger followed by ``length`` pass-through components, each with
    ``concurrency`` workers."""
    source = _manifest("Source", "bench.engine_throughput:Source", trigger=True)
    hop = _manifest("PassThrough", "bench.engine_throughput:PassThrough", trigger=False)
    ids = ["source"] + [f"hop{i}" for i in range(length)]
    nodes: dict[str, NodePlan] = {}
    for index, cid in enumerate(ids):
        last = index == len(ids) - 1
        routes = () if last else (Route(ids[index + 1], "in"),)
        nodes[cid] = NodePlan(
            id=cid,
            type=(source if index == 0 else hop).name,
            manifest=source if index == 0 else hop,
            handler=Source if index == 0 else PassThrough,
            properties={},
            routes={"out": routes},
            webhook=index == 0,
            concurrency=concurrency,
        )
    return FlowPlan(id="bench", name="bench", nodes=nodes)


async def run_engine(messages: int, length: int, concurrency: int = 1) -> float:
    received = 0
    done = asyncio.Event()

    def on_output(_: Any) -> None:
        nonlocal received
        received += 1
        if received == messages:
            done.set()

    async with Engine(MemoryStore(), queue_size=QUEUE_SIZE, on_output=on_output) as engine:
        await engine.start_flow(chain_plan(length, concurrency))
        began = time.perf_counter()
        for i in range(messages):
            await engine.push("bench", "source", i)
        await done.wait()
        elapsed = time.perf_counter() - began
    return elapsed


async def run_sqlite(messages: int, length: int, senders: int, concurrency: int) -> float:
    """The engine on the durable broker over a new database file."""
    received = 0
    done = asyncio.Event()

    def on_output(_: Any) -> None:
        nonlocal received
        received += 1
        if received == messages:
            done.set()

    async def send(numbers: range, engine: Engine) -> None:
        for i in numbers:
            await engine.push("bench", "source", i)

    with tempfile.TemporaryDirectory() as home:
        store = await SQLiteStore.open(Path(home) / "bench.db")
        async with (
            store,
            SQLiteBroker(store) as broker,
            Engine(store, broker=broker, queue_size=QUEUE_SIZE, on_output=on_output) as engine,
        ):
            await engine.start_flow(chain_plan(length, concurrency))
            began = time.perf_counter()
            await asyncio.gather(
                *(send(range(s, messages, senders), engine) for s in range(senders))
            )
            await done.wait()
            elapsed = time.perf_counter() - began
    return elapsed


async def run_bare(messages: int, length: int) -> float:
    """The same shape with bare queues: a feeder, ``length + 1`` stages, a sink counter."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(QUEUE_SIZE) for _ in range(length + 2)]
    done = asyncio.Event()

    async def stage(inbox: asyncio.Queue[Any], outbox: asyncio.Queue[Any]) -> None:
        while True:
            item = await inbox.get()
            await outbox.put(item)

    async def sink(inbox: asyncio.Queue[Any]) -> None:
        for _ in range(messages):
            await inbox.get()
        done.set()

    tasks = [asyncio.create_task(stage(queues[i], queues[i + 1])) for i in range(length + 1)]
    tasks.append(asyncio.create_task(sink(queues[-1])))
    began = time.perf_counter()
    for i in range(messages):
        await queues[0].put(i)
    await done.wait()
    elapsed = time.perf_counter() - began
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed


def best_of_interleaved(repeat: int, messages: int, length: int) -> tuple[float, float]:
    """Best time of the engine and of bare queues, runs alternating so that a burst of load
    from elsewhere on the machine hits both sides alike."""
    engine: list[float] = []
    bare: list[float] = []
    for _ in range(repeat):
        for runner, times in ((run_engine, engine), (run_bare, bare)):
            gc.collect()
            times.append(asyncio.run(runner(messages, length)))
    return min(engine), min(bare)


def best_durable_and_memory(
    repeat: int, messages: int, length: int, senders: int, concurrency: int
) -> tuple[float, float]:
    """Best time of the engine on the SQLite broker and on the in-memory one, alternating."""
    durable: list[float] = []
    memory: list[float] = []
    for _ in range(repeat):
        gc.collect()
        durable.append(asyncio.run(run_sqlite(messages, length, senders, concurrency)))
        gc.collect()
        memory.append(asyncio.run(run_engine(messages, length, concurrency)))
    return min(durable), min(memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--broker", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--senders", type=int, default=1, help="concurrent pushers (sqlite)")
    parser.add_argument("--concurrency", type=int, default=1, help="workers per component (sqlite)")
    args = parser.parse_args()

    if args.broker == "sqlite":
        durable, memory = best_durable_and_memory(
            args.repeat, args.messages, args.chain, args.senders, args.concurrency
        )
        hops = args.messages * args.chain
        print(
            f"messages: {args.messages}, chain: {args.chain} components,"
            f" {args.senders} sender(s), {args.concurrency} worker(s) per component,"
            f" best of {args.repeat}"
        )
        for name, took in (("sqlite", durable), ("memory", memory)):
            print(
                f"{name} : {args.messages / took:>10,.0f} messages/s  {hops / took:>12,.0f} hops/s"
            )
        print(f"ratio sqlite/memory: {memory / durable:.3f}")
        return

    engine, bare = best_of_interleaved(args.repeat, args.messages, args.chain)
    hops = args.messages * args.chain
    print(f"messages: {args.messages}, chain: {args.chain} components, best of {args.repeat}")
    print(f"engine : {args.messages / engine:>10,.0f} messages/s  {hops / engine:>12,.0f} hops/s")
    print(f"bare   : {args.messages / bare:>10,.0f} messages/s  {hops / bare:>12,.0f} hops/s")
    print(f"ratio engine/bare: {bare / engine:.2f} (target >= 0.45)")


if __name__ == "__main__":
    main()
