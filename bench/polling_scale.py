"""Many polling flows in one server: its memory and what ``/metrics`` and ``/healthz`` cost.

Starts ``flowmixer serve`` (a child process over a temporary home), measures it with no flow
deployed (the baseline), then deploys and starts ``--flows`` flows, each a
``flowmixer.core.Schedule`` (an hour's interval: one tick as it starts, then idle) followed by a
``flowmixer.core.Log`` (a tick is what a polling flow costs at rest: a timer for its next
interval, its state, its channels and its components), and measures again: the server's RSS
(and its peak, ``VmHWM``), and the time (median and worst of ``--scrapes``, after one
unmeasured, each more than a second apart so that none is a kept answer) and size of
``GET /metrics``, ``GET /healthz`` and the first page of ``GET /api/flows``.

    python -m bench.polling_scale [--flows 10000] [--broker memory|sqlite] [--scrapes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.serve_child import ADMIN_TOKEN, ServeChild, deploy_and_start

RSS_TARGET_MIB = 250
METRICS_TARGET_S = 0.100


def polling_flow(n: int) -> dict[str, Any]:
    return {
        "id": f"poll-{n:05d}",
        "components": {
            "every-hour": {
                "type": "flowmixer.core.Schedule",
                "config": {"properties": {"interval": 3600}},
            },
            "log": {
                "type": "flowmixer.core.Log",
                "source": {"in": {"every-hour": ["out"]}},
                "config": {"properties": {"label": f"poll-{n}"}},
            },
        },
    }


async def timed_get(
    session: aiohttp.ClientSession, url: str, scrapes: int, *, admin: bool = False
) -> tuple[float, float, int]:
    """Median and worst seconds of ``scrapes`` GETs (after one not counted), and the size."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if admin else {}
    times: list[float] = []
    size = 0
    for i in range(scrapes + 1):
        # Apart by more than the server keeps an answer (runtime.server.metrics_render):
        # each scrape measured is a rendering, not a copy kept.
        await asyncio.sleep(1.1)
        began = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                raise SystemExit(f"GET {url} answered {response.status}: {body[:200]!r}")
        if i:
            times.append(time.perf_counter() - began)
        size = len(body)
    return statistics.median(times), max(times), size


async def measure(
    server: ServeChild, session: aiohttp.ClientSession, scrapes: int
) -> dict[str, Any]:
    figures: dict[str, Any] = {"rss": server.rss_mib()}
    for name, path, admin in (
        ("metrics", "/metrics", False),
        ("healthz", "/healthz", False),
        ("flows", "/api/flows", True),
    ):
        figures[name] = await timed_get(session, server.url + path, scrapes, admin=admin)
    figures["rss_after"] = server.rss_mib()
    figures["peak"] = server.rss_mib("VmHWM")
    return figures


async def deploy_all(session: aiohttp.ClientSession, url: str, flows: int, parallel: int) -> None:
    numbers = iter(range(flows))

    async def worker() -> None:
        for n in numbers:
            await deploy_and_start(session, url, polling_flow(n))

    await asyncio.gather(*(worker() for _ in range(parallel)))


def show(name: str, figures: dict[str, Any]) -> None:
    print(f"{name}:")
    rss, after = figures["rss"], figures["rss_after"]
    print(
        f"  RSS               {rss:8.1f} MiB (after the scrapes {after:.1f},"
        f" peak {figures['peak']:.1f})"
    )
    for key, label in (("metrics", "/metrics"), ("healthz", "/healthz"), ("flows", "/api/flows")):
        median, worst, size = figures[key]
        print(
            f"  {label:<17} {median * 1000:8.1f} ms median, {worst * 1000:7.1f} ms worst,"
            f" {size / 1024:9.1f} KiB"
        )


async def run(flows: int, broker: str, scrapes: int, parallel: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        server = ServeChild(Path(home), "--broker", broker)
        await server.start()
        timeout = aiohttp.ClientTimeout(total=600)
        connector = aiohttp.TCPConnector(limit=parallel + 2)
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                baseline = await measure(server, session, scrapes)
                print(f"baseline measured; deploying {flows} flows", flush=True)
                began = time.perf_counter()
                await deploy_all(session, server.url, flows, parallel)
                took = time.perf_counter() - began
            await asyncio.sleep(2)  # the first ticks, logged, settle
            # A connection of its own per request: the measure includes no kept-alive reuse.
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                loaded = await measure(server, session, scrapes)
        except aiohttp.ClientError as exc:
            tail = "".join(server.tail)
            raise SystemExit(f"{exc!r}; the server's last lines:\n{tail}") from None
        finally:
            await server.stop()
    print(f"flows: {flows} (Schedule -> Log), broker: {broker}, {scrapes} scrapes each")
    print(f"deployed and started in {took:.1f} s ({flows / took:,.0f} flows/s)")
    show("baseline (no flow)", baseline)
    show(f"{flows} flows", loaded)
    per_flow = (loaded["rss"] - baseline["rss"]) * 1024 / max(flows, 1)
    print(f"RSS per flow: {per_flow:.1f} KiB")
    rss_ok = loaded["rss"] <= RSS_TARGET_MIB
    metrics_ok = loaded["metrics"][0] <= METRICS_TARGET_S
    print(
        f"RSS {loaded['rss']:.0f} MiB"
        f" (target <= {RSS_TARGET_MIB}: {'met' if rss_ok else 'MISSED'}),"
        f" /metrics {loaded['metrics'][0] * 1000:.0f} ms"
        f" (target <= {METRICS_TARGET_S * 1000:.0f}: {'met' if metrics_ok else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--broker", choices=("memory", "sqlite"), default="memory")
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=8, help="deploys in flight at once")
    args = parser.parse_args()
    asyncio.run(run(args.flows, args.broker, args.scrapes, args.parallel))


if __name__ == "__main__":
    main()
