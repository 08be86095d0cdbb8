"""Webhook -> CreatePin through ``flowmixer serve`` against a bare aiohttp forwarder.

Three kinds of child process on 127.0.0.1: a minimal Pinterest stand-in (``POST /v5/pins``
answers 201 with a new id and counts it), the load (``--connections`` aiohttp connections
posting events for ``--duration`` seconds, each waiting for its answer before the next), and
the server under test. The baseline, measured in the same run, is a bare aiohttp forwarder
(``POST /hook`` -> ``POST`` the stand-in -> answer), run before and after the servers (the
better run counts). Then ``flowmixer serve`` runs the flow
``Webhook -> acme.pinterest.CreatePin`` on each backend, its quota raised so that it never
waits (``FLOWMIXER_PINTEREST_QUOTA``), with the same load.

Per backend it prints accepted requests/s (202), pins/s at the stand-in during the load,
latency p50/p99, store round trips per accepted event (every call the SQLite store makes on
its thread, counted by ``bench/counted_serve.py``) and the ratio of pins/s to the forwarder's
requests/s. Targets: memory >= 0.5, sqlite >= 0.35.

    python bench/webhook_to_pin.py [--duration 15] [--connections 32]
        [--backends memory,sqlite] [--database postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.serve_child import REPO, ServeChild, deploy_and_start

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


# -- the child processes --------------------------------------------------------------------


async def serve_app(app: web.Application) -> None:
    """Listen on a free loopback port, print it, and serve until killed."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


async def stand_in() -> None:
    """Pinterest's ``POST /v5/pins``, reduced to counting; ``GET /count`` tells the count."""
    pins = 0

    async def create(request: web.Request) -> web.Response:
        nonlocal pins
        body = await request.json()
        pins += 1
        return web.json_response({"id": str(pins), "title": body.get("title")}, status=201)

    async def count(_: web.Request) -> web.Response:
        return web.json_response({"pins": pins})

    app = web.Application()
    app.router.add_post("/v5/pins", create)
    app.router.add_get("/count", count)
    await serve_app(app)


async def forwarder(api: str) -> None:
    """The baseline: ``POST /hook`` -> ``POST`` the stand-in -> 202, nothing kept."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def hook(request: web.Request) -> web.Response:
        event = await request.json()
        pin = {"board_id": "600000000000000001", "title": event.get("title")}
        async with session.post(api + "/pins", json=pin) as answer:
            created = await answer.json()
        return web.json_response({"eventId": created["id"]}, status=202)

    app = web.Application()
    app.router.add_post("/hook", hook)
    await serve_app(app)


async def load(url: str, secret: str, connections: int, duration: float) -> None:
    """``connections`` posters for ``duration`` seconds; prints one JSON line of figures."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"X-Flowmixer-Hook-Secret": secret, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + duration

        async def poster(number: int) -> None:
            sent = 0
            while time.perf_counter() < deadline:
                sent += 1
                body = json.dumps({"title": f"event-{number}-{sent}"})
                began = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(poster(n) for n in range(connections)))
        took = time.perf_counter() - began
    latencies.sort()
    figures = {
        "took": took,
        "statuses": statuses,
        "p50": latencies[len(latencies) // 2] if latencies else 0.0,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0,
    }
    print(json.dumps(figures), flush=True)


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
            "bench.webhook_to_pin",
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
            "bench.webhook_to_pin",
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


async def run_server(
    backend: str, database: str | None, api_port: int, connections: int, duration: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        args = ["--broker", "sqlite" if backend in ("sqlite", "postgres") else "memory"]
        if database is not None:
            args += ["--database", database]
        server = ServeChild(
            Path(home),
            *args,
            module="bench.counted_serve",
            env={
                "PINTEREST_ACCESS_TOKEN": "bench-token",
                "PINTEREST_API_BASE": f"http://127.0.0.1:{api_port}/v5",
                "FLOWMIXER_PINTEREST_QUOTA": json.dumps(QUOTA),
                "FLOWMIXER_LOG_LEVEL": "info",
            },
        )
        server.watch = ("store round trips",)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                deployed = await deploy_and_start(session, server.url, FLOW)
            secret = deployed["hooks"][0]["secret"]
            figures = await measure(
                server.url + "/hooks/pins/hook", secret, api_port, connections, duration
            )
        finally:
            await server.stop()
        trips = server.events.get("store round trips", {}).get("count")
        figures["trips"] = None if trips is None else trips / max(figures["accepted"], 1)
        return figures


def show(name: str, figures: dict[str, Any], baseline: float | None) -> None:
    trips = figures.get("trips")
    ratio = "" if baseline is None else f"  ratio {figures['pins_per_s'] / baseline:.2f}"
    target = TARGETS.get(name)
    verdict = ""
    if baseline is not None and target is not None:
        met = figures["pins_per_s"] / baseline >= target
        verdict = f" (target >= {target}: {'met' if met else 'MISSED'})"
    others = {k: v for k, v in figures["statuses"].items() if k != "202"}
    print(
        f"{name:<9} {figures['rps']:8,.0f} req/s accepted  {figures['pins_per_s']:8,.0f} pins/s"
        f"  p50 {figures['p50'] * 1000:6.1f} ms  p99 {figures['p99'] * 1000:6.1f} ms"
        + ("" if trips is None else f"  store trips/event {trips:.2f}")
        + ratio
        + verdict
        + (f"  other answers {others}" if others else "")
    )


async def run(args: argparse.Namespace) -> None:
    standin = Child("standin")
    api_port = await standin.start()
    forward = Child("forwarder", f"http://127.0.0.1:{api_port}/v5")
    try:
        forward_port = await forward.start()
        url = f"http://127.0.0.1:{forward_port}/hook"
        first = await measure(url, "", api_port, args.connections, args.duration)
        backends = [b for b in args.backends.split(",") if b]
        if args.database:
            backends.append("postgres")
        results: dict[str, dict[str, Any] | str] = {}
        for backend in backends:
            database = args.database if backend == "postgres" else None
            try:
                results[backend] = await run_server(
                    backend, database, api_port, args.connections, args.duration
                )
            except SystemExit as exc:
                results[backend] = str(exc).strip().splitlines()[-1]
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
        show("forwarder", baseline, None)
        for backend, figures in results.items():
            if isinstance(figures, str):
                print(f"{backend:<9} did not run: {figures}")
            else:
                show(backend, figures, baseline["rps"])
    finally:
        await forward.stop()
        await standin.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("standin", "forwarder", "load"):
        role, rest = sys.argv[1], sys.argv[2:]
        if role == "standin":
            asyncio.run(stand_in())
        elif role == "forwarder":
            asyncio.run(forwarder(rest[0]))
        else:
            asyncio.run(load(rest[0], rest[1], int(rest[2]), float(rest[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", default="memory,sqlite")
    parser.add_argument("--database", help="postgresql://... to run the postgres backend too")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
