"""Webhook -> CreatePin through ``flowmixer serve`` against a bare aiohttp forwarder.

Three kinds of child process on 127.0.0.1: a minimal Pinterest stand-in (``POST /v5/pins``
answers 201 with a new id and counts it), the load (``--connections`` aiohttp connections
posting events for ``--duration`` seconds, each waiting for its answer before the next), and
the server under test. The baseline, measured in the same run, is a bare aiohttp forwarder
(``POST /hook`` -> ``POST`` the stand-in -> answer), run before and after the servers (the
better run counts). Then ``flowmixer serve`` runs the flow
``Webhook -> acme.pinterest.CreatePin`` on each backend, its quota raised so that it never
waits (``FLOWMIXER_PINTEREST_QUOTA``), with the same load. ``--postgres`` starts a throwaway
PostgreSQL cluster (``tests/postgres_server.py``) for the postgres backend; ``--redis`` starts a
throwaway ``redis-server`` (``tests/redis_server.py``) and runs each backend once more with its
queues on Redis Streams (``FLOWMIXER_REDIS_URL``; the backend's database keeps the rest).

Per run it prints accepted requests/s (202), pins/s at the stand-in during the load,
latency p50/p99, store round trips per accepted event (every call the SQLite store makes on
its thread, or every statement sent through asyncpg, counted by ``bench/counted_serve.py``)
and the ratio of pins/s to the forwarder's requests/s. Targets: memory >= 0.5, sqlite >= 0.35.
``--hook-concurrency 1,8`` runs each backend once per Webhook worker count; ``--against
NAME=VALUE`` once more with that variable set for the server (paired runs, alternating
when ``--rounds`` is above 1).

    python bench/webhook_to_pin.py [--duration 15] [--connections 32]
        [--backends memory,sqlite] [--database postgresql://... | --postgres] [--redis]
        [--hook-concurrency N,...] [--against NAME=VALUE] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet

from bench.counted_serve import EVENT, REDIS_EVENT
from bench.serve_child import REPO, ServeChild, admin, deploy_and_start

TARGETS = {"memory": 0.5, "sqlite": 0.35}
WORKERS = 32  # CreatePin's concurrency: as many as the load has connections in flight
FLOW: dict[str, Any] = {
    "id": "pins",
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "pin": {
            "type": "acme.pinterest.CreatePin",
            "source": {"in": {"hook": ["out"]}},
            "concurrency": WORKERS,
            "config": {
                "transform": {
                    "in": {
                        "boardId": "600000000000000001",
                        "title": "{{{$.hook.out.title}}}",
                        "link": "https://shop.example.test/{{{$.hook.out.title}}}",
                        "imageUrl": "https://images.example.test/pin.png",
                    }
                }
            },
        },
    },
}
QUOTA = {
    "*": {"limit": 1_000_000, "window": 1},
    "org_write": {"limit": 1_000_000, "window": 1},
}


# -- the run --------------------------------------------------------------------------------


class Child:
    """A child process of this script in one of its roles; ``port`` once it listens."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> int:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.webhook_roles",
            *self.args,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = (await self.process.stdout.readline()).decode()
        if not line.startswith("PORT "):
            raise SystemExit(f"{self.args[0]} did not start: {line!r}")
        return int(line.split()[1])

    async def result(self) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        out, _ = await self.process.communicate()
        return dict(json.loads(out.decode().strip().splitlines()[-1]))

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def pins_now(session: aiohttp.ClientSession, api_port: int) -> int:
    async with session.get(f"http://127.0.0.1:{api_port}/count") as response:
        return int((await response.json())["pins"])


async def measure(
    url: str, secret: str, api_port: int, connections: int, duration: float
) -> dict[str, Any]:
    """Run the load against ``url``; its figures and the pins the stand-in made meanwhile."""
    async with aiohttp.ClientSession() as session:
        before = await pins_now(session, api_port)
        loader = Child("load", url, secret, str(connections), str(duration))
        assert loader.process is None
        loader.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.webhook_roles",
            *loader.args,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=asyncio.subprocess.PIPE,
        )
        figures = await loader.result()
        figures["pins"] = await pins_now(session, api_port) - before
    accepted = figures["statuses"].get("202", 0)
    figures["accepted"] = accepted
    figures["rps"] = accepted / figures["took"]
    figures["pins_per_s"] = figures["pins"] / figures["took"]
    return figures


@dataclass(frozen=True)
class Variant:
    """One way to run ``flowmixer serve``: the backend, the Webhook's workers, extra variables."""

    backend: str
    database: str | None = None
    hook_workers: int | None = None  # None: the Webhook manifest's default
    env: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        hook = "" if self.hook_workers is None else f" hook x{self.hook_workers}"
        env = "".join(f" {key}={value}" for key, value in self.env)
        return self.backend + hook + env


def flow_for(variant: Variant) -> dict[str, Any]:
    flow = copy.deepcopy(FLOW)
    if variant.hook_workers is not None:
        flow["components"]["hook"]["concurrency"] = variant.hook_workers
    return flow


async def run_server(
    variant: Variant, api_port: int, connections: int, duration: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        args = ["--broker", "memory" if variant.backend == "memory" else "sqlite"]
        if variant.database is not None:
            args += ["--database", variant.database]
        server = ServeChild(
            Path(home),
            *args,
            module="bench.counted_serve",
            env={
                "PINTEREST_ACCESS_TOKEN": "bench-token",
                "PINTEREST_API_BASE": f"http://127.0.0.1:{api_port}/v5",
                "FLOWMIXER_PINTEREST_QUOTA": json.dumps(QUOTA),
                "FLOWMIXER_LOG_LEVEL": "info",
                # PostgreSQL may be shared between machines: the server wants the key given.
                "FLOWMIXER_SECRET_KEY": Fernet.generate_key().decode(),
                **dict(variant.env),
            },
        )
        server.watch = (EVENT, REDIS_EVENT)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                deployed = await deploy_and_start(session, server.url, flow_for(variant))
                secret = deployed["hooks"][0]["secret"]
                began = cpu_seconds(server.pid)
                figures = await measure(
                    server.url + "/hooks/pins/hook", secret, api_port, connections, duration
                )
                # Every accepted event pinned (or no progress for a while): the CPU the
                # server spent on them, which the machine's other load hardly changes.
                await drained(session, api_port)
                figures["cpu_ms"] = (cpu_seconds(server.pid) - began) * 1000
                # A database outlives the server (PostgreSQL): the next run deploys afresh.
                await admin(session, server.url, "DELETE", "/api/flows/pins")
        finally:
            await server.stop()
        trips = server.events.get(EVENT, {}).get("count")
        figures["trips"] = None if trips is None else trips / max(figures["accepted"], 1)
        if "FLOWMIXER_REDIS_URL" in dict(variant.env):
            redis_trips = server.events.get(REDIS_EVENT, {}).get("count")
            if redis_trips is not None:
                figures["redis_trips"] = redis_trips / max(figures["accepted"], 1)
        return figures


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` (all its threads) so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drained(session: aiohttp.ClientSession, api_port: int, quiet: float = 1.0) -> None:
    """Wait until the stand-in's count stops growing for ``quiet`` seconds (at most 60 s)."""
    last, still = -1, 0.0
    for _ in range(int(60 / 0.1)):
        count = await pins_now(session, api_port)
        still = still + 0.1 if count == last else 0.0
        if still >= quiet:
            return
        last = count
        await asyncio.sleep(0.1)


def show(name: str, figures: dict[str, Any], baseline: float | None, width: int = 9) -> None:
    trips = figures.get("trips")
    ratio = "" if baseline is None else f"  ratio {figures['pins_per_s'] / baseline:.2f}"
    target = TARGETS.get(name.split()[0])
    verdict = ""
    if baseline is not None and target is not None:
        met = figures["pins_per_s"] / baseline >= target
        verdict = f" (target >= {target}: {'met' if met else 'MISSED'})"
    others = {k: v for k, v in figures["statuses"].items() if k != "202"}
    print(
        f"{name:<{width}} {figures['rps']:8,.0f} req/s accepted"
        f"  {figures['pins_per_s']:8,.0f} pins/s"
        f"  p50 {figures['p50'] * 1000:6.1f} ms  p99 {figures['p99'] * 1000:6.1f} ms"
        + ("" if trips is None else f"  store trips/event {trips:.2f}")
        + (f"  redis trips/event {figures['redis_trips']:.2f}" if "redis_trips" in figures else "")
        + (
            f"  CPU {figures['cpu_ms'] / max(figures['accepted'], 1):.2f} ms/event"
            if "cpu_ms" in figures
            else ""
        )
        + ratio
        + verdict
        + (f"  other answers {others}" if others else ""),
        flush=True,
    )


def variants(args: argparse.Namespace, postgres: str | None) -> list[Variant]:
    """Every backend, Webhook worker count and environment asked for, in the order they run."""
    backends = [b for b in args.backends.split(",") if b]
    databases: dict[str, str | None] = {b: None for b in backends}
    if postgres is not None:
        databases["postgres"] = postgres
    workers: list[int | None] = [int(n) for n in args.hook_concurrency.split(",") if n]
    envs = [(), *(tuple(sorted(e.items())) for e in args.against)]
    return [
        Variant(backend, database, hook, env)
        for backend, database in databases.items()
        for hook in workers or [None]
        for env in envs
    ]


async def run(args: argparse.Namespace, postgres: str | None) -> None:
    standin = Child("standin")
    api_port = await standin.start()
    forward = Child("forwarder", f"http://127.0.0.1:{api_port}/v5")
    try:
        forward_port = await forward.start()
        url = f"http://127.0.0.1:{forward_port}/hook"
        first = await measure(url, "", api_port, args.connections, args.duration)
        todo = variants(args, postgres)
        width = max(9, *(len(v.name) for v in todo))
        results: list[tuple[str, dict[str, Any] | str]] = []
        for round_ in range(args.rounds):
            # Paired variants alternate within a round, so that both meet the same machine.
            for variant in todo if round_ % 2 == 0 else todo[::-1]:
                try:
                    figures: dict[str, Any] | str = await run_server(
                        variant, api_port, args.connections, args.duration
                    )
                except SystemExit as exc:
                    lines = str(exc).strip().splitlines()
                    figures = next(line for line in reversed(lines) if EVENT not in line)
                results.append((variant.name, figures))
        # The forwarder again after the backends: the better of its two runs is the baseline,
        # so that load from elsewhere on the machine during one of them cannot flatter a ratio.
        second = await measure(url, "", api_port, args.connections, args.duration)
        await forward.stop()
        baseline = max(first, second, key=lambda figures: float(figures["rps"]))
        print(
            f"load: {args.connections} connections for {args.duration:g} s each;"
            f" CreatePin with {WORKERS} workers; forwarder runs {first['rps']:,.0f} and"
            f" {second['rps']:,.0f} req/s, the better is the baseline"
        )
        show("forwarder", baseline, None, width)
        for name, figures in sorted(results, key=lambda result: todo_order(todo, result[0])):
            if isinstance(figures, str):
                print(f"{name:<{width}} did not run: {figures}")
            else:
                show(name, figures, baseline["rps"], width)
    finally:
        await forward.stop()
        await standin.stop()


def todo_order(todo: list[Variant], name: str) -> int:
    return next(i for i, variant in enumerate(todo) if variant.name == name)


def environment(text: str) -> dict[str, str]:
    pairs = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
    if not pairs:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,NAME=VALUE], not {text!r}")
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", default="memory,sqlite")
    parser.add_argument("--database", help="postgresql://... to run the postgres backend too")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster and run the postgres backend on it too",
    )
    parser.add_argument(
        "--hook-concurrency",
        default="",
        metavar="N[,N...]",
        help="the Webhook's workers, each value a run of its own (default: its manifest's)",
    )
    parser.add_argument(
        "--against",
        type=environment,
        action="append",
        default=[],
        metavar="NAME=VALUE[,...]",
        help="also run each backend with these variables set for the server (paired runs)",
    )
    parser.add_argument(
        "--redis",
        action="store_true",
        help="start a throwaway redis-server and run each backend with its queues there too",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every variant this many times, alternating"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.redis:
            args.against.append({"FLOWMIXER_REDIS_URL": stack.enter_context(throwaway_redis())})
        if not args.postgres:
            asyncio.run(run(args, args.database))
            return
        url = stack.enter_context(throwaway_postgres())
        asyncio.run(run(args, url))


@contextlib.contextmanager
def throwaway_redis() -> Iterator[str]:
    """A new ``redis-server`` on a free loopback port (append-only file on); its URL."""
    import pytest

    from tests.redis_server import start_server

    try:
        server = start_server()
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise SystemExit(f"no Redis server: {exc}") from None
    try:
        yield server.url()
    finally:
        server.stop()


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new cluster (``tests/postgres_server.py``: ``initdb`` as ``postgres`` when root) and
    the URL of an empty database on it; the cluster is removed afterwards."""
    import pytest

    from tests.postgres_server import create_database, start_cluster

    try:
        cluster = start_cluster()
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise SystemExit(f"no PostgreSQL cluster: {exc}") from None
    try:
        yield asyncio.run(create_database(cluster))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
