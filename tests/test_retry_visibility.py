"""What a failing or filtering flow says in the log: retries at the default level, deferrals
summarized, a message a Filter rejects traceable at debug."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.engine import Engine
from runtime.envelope import Envelope
from runtime.flow import validate_flow
from runtime.logging import configure_logging, get_logger, reset_logging
from runtime.registry import Registry
from runtime.retry_log import DEFERRAL_SUMMARY_EVERY, DeferralLog
from runtime.stores.memory import MemoryStore
from tests import kit


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The process's log as JSON lines at the default level (info), written to a buffer."""
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", stream=stream)
    yield stream
    reset_logging()


def events(stream: io.StringIO, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["event"] == name]


async def test_each_retry_is_one_info_line_with_the_reason_and_the_delay(
    log_lines: io.StringIO,
) -> None:
    flow = kit.plan(
        "f", {"hook": "Hook", "a": "Flaky"}, [("hook", "a")], properties={"a": {"failures": 2}}
    )
    async with Engine(MemoryStore()) as engine:
        await engine.start_flow(flow)
        correlation = await engine.push("f", "hook", {"n": 1})
        await engine.wait_idle("f")

    retries = events(log_lines, "retrying message")
    assert [r["attempt"] for r in retries] == [1, 2]
    for number, line in enumerate(retries, start=1):
        assert line["level"] == "info"
        assert (line["flow_id"], line["component_id"]) == ("f", "a")
        assert line["correlation_id"] == correlation
        assert line["error"] == f"ConnectionError: attempt {number} failed"
        assert 0 <= line["delay"] <= 0.01


async def test_a_message_that_succeeds_at_once_logs_no_retry_line(log_lines: io.StringIO) -> None:
    flow = kit.plan("f", {"hook": "Hook", "a": "Flaky"}, [("hook", "a")])
    async with Engine(MemoryStore()) as engine:
        await engine.start_flow(flow)
        for n in range(20):
            await engine.push("f", "hook", {"n": n})
        await engine.wait_idle("f")
    assert events(log_lines, "retrying message") == []


async def test_deferrals_in_a_storm_are_summarized_at_info_not_logged_one_by_one(
    log_lines: io.StringIO,
) -> None:
    flow = kit.plan(
        "f",
        {"hook": "Hook", "a": "Flaky"},
        [("hook", "a")],
        properties={"a": {"failures": 3, "kind": "defer"}},
    )
    async with Engine(MemoryStore()) as engine:
        await engine.start_flow(flow)
        for n in range(10):
            await engine.push("f", "hook", {"n": n})
        await engine.wait_idle("f")
        stats = engine.stats("f")["a"]

    assert stats.deferred == 30
    [summary] = events(log_lines, "messages deferred")  # the first one, said at once
    assert summary["level"] == "info"
    assert (summary["component_id"], summary["deferred"]) == ("a", 1)
    assert summary["error"] == "rate limited"
    assert events(log_lines, "deferring message") == []  # debug: not at the default level
    assert events(log_lines, "retrying message") == []


def test_the_deferral_summary_counts_what_was_deferred_since_the_last_one() -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream)
    try:
        deferrals, logger = DeferralLog(), get_logger("test")
        envelope = Envelope("f", "a", "in", {}, "c-1")
        for second in (0.0, 1.0, 2.0, DEFERRAL_SUMMARY_EVERY + 0.5, DEFERRAL_SUMMARY_EVERY + 1):
            deferrals.deferred(logger, envelope, 5.0, "429", 1000.0 + second)
    finally:
        reset_logging()
    assert [s["deferred"] for s in events(stream, "messages deferred")] == [1, 3]
    each = events(stream, "deferring message")
    assert len(each) == 5
    assert {(line["level"], line["correlation_id"], line["delay"]) for line in each} == {
        ("debug", "c-1", 5.0)
    }


FILTER_FLOW = {
    "id": "orders",
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "big": {
            "type": "flowmixer.core.Filter",
            "source": {"in": {"hook": ["out"]}},
            "config": {"properties": {"field": "total", "operator": "greaterThan", "value": 100}},
        },
    },
}


@pytest.mark.parametrize(
    ("event", "actual"),
    [({"total": 20}, 20), ({"sum": 20}, "(missing)"), ({"total": [1, 2]}, "(an array of 2 items)")],
    ids=["too-small", "missing", "array"],
)
async def test_a_message_a_filter_rejects_is_traced_at_debug_with_its_ids_and_why(
    event: dict[str, Any], actual: Any
) -> None:
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream)
    try:
        async with Engine(MemoryStore()) as engine:
            await engine.start_flow(validate_flow(FILTER_FLOW, Registry.load()))
            passed = await engine.push("orders", "hook", {"total": 500})
            rejected = await engine.push("orders", "hook", event)
            await engine.wait_idle("orders")
    finally:
        reset_logging()

    [line] = events(stream, "message rejected")
    assert line["level"] == "debug"
    assert (line["flow_id"], line["component_id"]) == ("orders", "big")
    assert line["correlation_id"] == rejected != passed
    assert (line["field"], line["operator"], line["value"], line["actual"]) == (
        "total",
        "greaterThan",
        100,
        actual,
    )


async def test_a_filter_says_nothing_about_rejections_at_the_default_level(
    log_lines: io.StringIO,
) -> None:
    async with Engine(MemoryStore()) as engine:
        await engine.start_flow(validate_flow(FILTER_FLOW, Registry.load()))
        await engine.push("orders", "hook", {"total": 20})
        await engine.wait_idle("orders")
        stats = engine.stats("orders")["big"]
    assert stats.unwired == {"rejected": 1}
    assert events(log_lines, "message rejected") == []
