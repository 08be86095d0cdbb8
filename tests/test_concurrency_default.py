"""A manifest's default ``concurrency``: used when the flow sets none, the flow's value wins."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from runtime.brokers.sqlite import SQLiteBroker
from runtime.cli import main
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.logging import reset_logging
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore
from tests.test_registry import manifest, problems_of, write


@pytest.fixture(autouse=True)
def _fresh_logging():
    yield
    reset_logging()


def _registry(root: Path, concurrency: Any) -> Registry:
    write(root, "test/Hook.json", manifest(name="test.core.Hook", inPorts=[], webhook=True))
    write(root, "test/Thing.json", manifest(concurrency=concurrency))
    return Registry.load(root)


def _flow(**thing: Any) -> dict[str, Any]:
    return {
        "id": "workers",
        "components": {
            "hook": {"type": "test.core.Hook"},
            "thing": {"type": "test.core.Thing", "source": {"in": {"hook": ["out"]}}, **thing},
        },
    }


def test_a_manifests_concurrency_applies_when_the_flow_sets_none(tmp_path: Path):
    plan = validate_flow(_flow(), _registry(tmp_path, 6))
    assert (plan.nodes["thing"].concurrency, plan.nodes["hook"].concurrency) == (6, 1)


@pytest.mark.parametrize("flows", [1, 3, 12], ids=["one", "fewer", "more"])
def test_the_flows_concurrency_wins_over_the_manifests(tmp_path: Path, flows: int):
    plan = validate_flow(_flow(concurrency=flows), _registry(tmp_path, 6))
    assert plan.nodes["thing"].concurrency == flows


BAD = {
    "zero": (0, "must be greater than or equal to 1 (it is 0)"),
    "too many": (1001, "must be less than or equal to 1000 (it is 1001)"),
    "text": ("4", "must be a whole number, not a string"),
    "fraction": (2.5, "must be a whole number, not a number"),
    "boolean": (True, "must be a whole number, not a boolean"),
}


@pytest.mark.parametrize(("value", "expected"), BAD.values(), ids=BAD.keys())
def test_a_bad_manifest_concurrency_is_refused_at_its_file_and_path(
    tmp_path: Path, value: Any, expected: str
):
    write(tmp_path, "test/Thing.json", manifest(concurrency=value))
    assert problems_of(tmp_path) == [f"test/Thing.json $.concurrency: {expected}"]


def test_validate_names_a_bad_flow_concurrency_at_its_json_path(tmp_path: Path, capsys):
    flow = {
        "id": "workers",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook", "concurrency": 0},
            "log": {"type": "flowmixer.core.Log", "source": {"in": {"hook": ["out"]}}},
        },
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "$.components.hook.concurrency: must be greater than or equal to 1 (it is 0)" in out


def test_the_webhook_takes_several_events_at_once_unless_the_flow_keeps_order():
    registry = Registry.load()
    flow = {
        "id": "hooked",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "log": {"type": "flowmixer.core.Log", "source": {"in": {"hook": ["out"]}}},
        },
    }
    assert validate_flow(flow, registry).nodes["hook"].concurrency > 1
    flow["components"]["hook"]["concurrency"] = 1
    assert validate_flow(flow, registry).nodes["hook"].concurrency == 1


@pytest.mark.parametrize("broker", ["memory", "sqlite"])
async def test_a_webhook_with_one_worker_hands_events_on_in_the_order_they_came(
    tmp_path: Path, broker: str
):
    flow = {
        "id": "ordered",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook", "concurrency": 1},
            "pass": {
                "type": "flowmixer.core.Filter",
                "source": {"in": {"hook": ["out"]}},
                "config": {"properties": {"field": "n", "operator": "exists"}},
            },
        },
    }
    plan = validate_flow(flow, Registry.load())
    outputs: list[Output] = []
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(await SQLiteStore.open(tmp_path / "db"))
        durable = None
        if broker == "sqlite":
            durable = await stack.enter_async_context(SQLiteBroker(store))
        engine = await stack.enter_async_context(
            Engine(store, broker=durable, on_output=outputs.append)
        )
        await engine.start_flow(plan)
        for n in range(200):
            await engine.push("ordered", "hook", {"n": n})
        await engine.wait_idle("ordered")

    assert [o.payload["n"] for o in outputs] == list(range(200))
