"""``/healthz`` and ``/metrics`` over a real socket, and the metrics' typed API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.registry import Registry
from runtime.server import Metrics
from runtime.server.metrics_engine import FlowSelection
from runtime.server.metrics_render import ScrapeCache
from tests.server_kit import Served, serving


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


NO_FLOWS = {"starting": 0, "running": 0, "paused": 0, "stopping": 0}


async def test_healthz_answers_ok_with_counts_of_flows_by_state_and_needs_no_token(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        async with served.session.get(served.url + "/healthz") as response:
            empty = response.status, await response.json()
        await served.deploy()
        async with served.session.get(served.url + "/healthz") as response:
            one = await response.json()

    assert empty == (200, {"status": "ok", "flows": NO_FLOWS})
    assert one == {"status": "ok", "flows": {**NO_FLOWS, "running": 1}}


async def orders_scraped(served: Served, query: str) -> tuple[int, str, str]:
    """Three events through ``orders`` (one dead-lettered), then ``/metrics`` + ``query``."""
    await served.deploy()
    for total in (150, 5, "lots"):  # pushed past the hook, which would refuse "lots" (422)
        await served.ctx.engine.push("orders", "hook", {"total": total})
    await served.ctx.engine.wait_idle("orders")
    async with served.session.get(served.url + "/metrics" + query) as response:
        return response.status, response.content_type, await response.text()


async def test_metrics_sum_messages_and_queue_depth_by_component_type_without_per_flow_series(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, _, text = await orders_scraped(served, "")

    assert status == 200
    found = samples(text)
    webhook = (("type", "flowmixer.core.Webhook"),)
    filter_ = (("type", "flowmixer.core.Filter"),)
    assert found["flowmixer_messages_by_type_received_total", webhook] == 3
    assert found["flowmixer_messages_by_type_sent_total", webhook] == 2
    assert found["flowmixer_messages_by_type_dead_lettered_total", webhook] == 1
    assert found["flowmixer_messages_by_type_received_total", filter_] == 2
    assert found["flowmixer_queue_depth_by_type", filter_] == 0
    assert found["flowmixer_flows", (("state", "running"),)] == 1
    assert found["flowmixer_flows_running", ()] == 1
    assert not [key for key in found if key[0].startswith("flowmixer_messages_received")]
    assert not [key for key in found if key[0] == "flowmixer_queue_depth"]


@pytest.mark.parametrize("query", ["?flows=1", "?flow=orders"], ids=["every-flow", "named-flow"])
async def test_metrics_count_messages_queue_depth_and_dead_letters_per_component_on_request(
    tmp_path: Path, registry: Registry, query: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, kind, text = await orders_scraped(served, query)

    assert (status, kind) == (200, "text/plain")
    found = samples(text)
    hook = (("component", "hook"), ("flow", "orders"))
    big = (("component", "big"), ("flow", "orders"))
    assert found["flowmixer_messages_received_total", hook] == 3
    assert found["flowmixer_messages_sent_total", hook] == 2
    assert found["flowmixer_messages_dead_lettered_total", hook] == 1
    assert found["flowmixer_messages_received_total", big] == 2
    assert found["flowmixer_messages_failed_total", big] == 0
    assert found["flowmixer_queue_depth", big] == 0
    assert found["flowmixer_flows_running", ()] == 1
    assert found["flowmixer_dead_letters", hook] == 1


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.api_call("acme:pinterest", "error")

    assert 'status="error"' in first.render().decode()
    assert "acme:pinterest" not in second.render().decode()


async def test_metrics_name_only_the_flows_asked_for(tmp_path: Path, registry: Registry) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, _, text = await orders_scraped(served, "?flow=elsewhere")

    assert status == 200
    assert 'flow="orders"' not in text.split("flowmixer_dead_letters")[0]


@pytest.mark.parametrize(
    ("query", "named"),
    [("?flowz=1", "flowz"), ("?flows=yes", "flows"), ("?flows=1&flows=0", "flows")],
    ids=["unknown-parameter", "flows-not-0-or-1", "flows-twice"],
)
async def test_metrics_refuse_a_query_they_cannot_read_naming_the_parameter(
    tmp_path: Path, registry: Registry, query: str, named: str
) -> None:
    async with (
        serving(tmp_path / "db", registry) as served,
        served.session.get(served.url + "/metrics" + query) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 400
    assert named in body["error"]


async def test_scrapes_that_arrive_together_share_one_rendering() -> None:
    cache = ScrapeCache()
    builds = 0
    release = asyncio.Event()

    async def build() -> bytes:
        nonlocal builds
        builds += 1
        await release.wait()
        return b"metrics"

    waiting = [asyncio.create_task(cache.get(FlowSelection(), build)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    answers = await asyncio.gather(*waiting)
    again = await cache.get(FlowSelection(), build)

    assert answers == [b"metrics"] * 3
    assert again == b"metrics"
    assert builds == 1


async def test_a_scrape_of_another_flow_selection_is_rendered_on_its_own() -> None:
    cache = ScrapeCache()

    async def build_all() -> bytes:
        return b"all"

    async def build_one() -> bytes:
        return b"one"

    every = await cache.get(FlowSelection(every=True), build_all)
    one = await cache.get(FlowSelection(named=frozenset({"orders"})), build_one)

    assert (every, one) == (b"all", b"one")
