"""The summary of ``flowmixer run``: messages counted once however often they were tried, and
what was sent on ports no wire leaves."""

from __future__ import annotations

import re
from pathlib import Path

from runtime.cli import main
from runtime.cli.run import summary_text
from runtime.engine import Engine
from runtime.logging import reset_logging
from runtime.stores.memory import MemoryStore
from tests import kit

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "flows" / "webhook-filter-log.json"
EVENTS = REPO / "examples" / "events"


def row(summary: str, component: str) -> list[int]:
    [line] = [x for x in summary.splitlines() if re.match(rf"\s+{re.escape(component)}\s+\d", x)]
    return [int(n) for n in line.split()[1:]]


async def test_a_message_tried_three_times_is_counted_once_with_its_two_retries() -> None:
    flow = kit.plan(
        "f", {"hook": "Hook", "a": "Flaky"}, [("hook", "a")], properties={"a": {"failures": 2}}
    )
    async with Engine(MemoryStore()) as engine:
        await engine.start_flow(flow)
        await engine.push("f", "hook", {"n": 1})
        await engine.push("f", "hook", {"n": 2})
        await engine.wait_idle("f")
        stats = engine.stats("f")
    summary = summary_text(flow, stats, 0)

    assert "messages  sent  retries  deferrals  dead-lettered" in summary
    # messages, sent, retries, deferrals, dead-lettered
    assert row(summary, "a") == [2, 2, 4, 0, 0]
    assert stats["a"].received == 6  # the deliveries, which the summary does not show
    assert "left the flow (printed on standard output): a.out 2" in summary


async def test_deferred_deliveries_do_not_count_as_more_messages() -> None:
    flow = kit.plan(
        "f",
        {"hook": "Hook", "a": "Flaky"},
        [("hook", "a")],
        properties={"a": {"failures": 3, "kind": "defer"}},
    )
    async with Engine(MemoryStore()) as engine:
        await engine.start_flow(flow)
        await engine.push("f", "hook", {"n": 1})
        await engine.wait_idle("f")
        stats = engine.stats("f")
    assert row(summary_text(flow, stats, 0), "a") == [1, 1, 0, 3, 0]


def test_run_says_which_messages_were_dropped_on_a_port_no_wire_leaves(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    try:
        code = main(
            [
                "run",
                str(EXAMPLE),
                "--push",
                f"hook={EVENTS / 'order.json'}",
                "--push",
                f"hook={EVENTS / 'small-order.json'}",
                "--until-idle",
            ]
        )
    finally:
        reset_logging()
    err = capsys.readouterr().err
    assert code == 0
    assert row(err, "big-orders") == [2, 2, 0, 0, 0]
    assert row(err, "log") == [1, 0, 0, 0, 0]
    assert "dropped (sent on ports no wire leaves; wire a port to pass its messages on):" in err
    assert err.rstrip().endswith("big-orders.rejected 1")
    assert "left the flow" not in err  # the Log sink sends nothing
