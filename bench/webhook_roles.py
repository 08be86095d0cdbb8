"""The child processes of ``bench/webhook_to_pin.py``, one role each.

python -m bench.webhook_roles standin
python -m bench.webhook_roles forwarder API_BASE
python -m bench.webhook_roles load URL SECRET CONNECTIONS SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
from aiohttp import web


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


def main() -> None:
    role, rest = sys.argv[1], sys.argv[2:]
    if role == "standin":
        asyncio.run(stand_in())
    elif role == "forwarder":
        asyncio.run(forwarder(rest[0]))
    elif role == "load":
        asyncio.run(load(rest[0], rest[1], int(rest[2]), float(rest[3])))
    else:
        raise SystemExit(f"unknown role {role!r}: standin, forwarder or load")


if __name__ == "__main__":
    main()
