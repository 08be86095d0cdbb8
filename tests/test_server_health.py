"""``/healthz`` and ``/metrics`` over a real socket, and the metrics' typed API."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.registry import Registry
from runtime.server import Metrics
from tests.server_kit import serving


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_healthz_answers_ok_with_the_running_flows_and_needs_no_token(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        async with served.session.get(served.url + "/healthz") as response:
            empty = response.status, await response.json()
        await served.deploy()
        async with served.session.get(served.url + "/healthz") as response:
            one = await response.json()

    assert empty == (200, {"status": "ok", "flowsRunning": []})
    assert one == {"status": "ok", "flowsRunning": ["orders"]}


async def test_metrics_count_messages_queue_depth_and_dead_letters_per_component(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy()
        for total in (150, 5, "lots"):  # pushed past the hook, which would refuse "lots" (422)
            await served.ctx.engine.push("orders", "hook", {"total": total})
        await served.ctx.engine.wait_idle("orders")
        async with served.session.get(served.url + "/metrics") as response:
            status, kind, text = response.status, response.content_type, await response.text()

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
