"""The durable SQLite broker: the channel contract, what survives a restart, group commit, and
a polling tick's state and messages committed together."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.brokers.group_commit import GroupCommit
from runtime.brokers.sqlite import SQLiteBroker, SQLiteChannel
from runtime.cli import build_parser, main
from runtime.component import Component, Context
from runtime.engine import Engine, Output
from runtime.envelope import Envelope
from runtime.logging import reset_logging
from runtime.manifest import ComponentManifest, QuotaRule
from runtime.plan import FlowPlan, NodePlan, Route
from runtime.quota import Quotas
from runtime.registry import Registry
from runtime.server import control
from runtime.server.assemble import assemble
from runtime.stores.sqlite import SQLiteStore
from tests import kit
from tests.server_kit import ORDERS

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "flows" / "webhook-filter-log.json"
ORDER = REPO / "examples" / "events" / "order.json"


def envelope(n: int, flow: str = "f", component: str = "c") -> Envelope:
    return Envelope(flow, component, "in", n, f"corr-{n}")


class Opened:
    """A store and a broker over one file that a test can close and open again (a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store: SQLiteStore
        self.broker: SQLiteBroker
        self.is_open = False

    async def open(self) -> Opened:
        self.store = await SQLiteStore.open(self.path)
        self.broker = SQLiteBroker(self.store)
        self.is_open = True
        return self

    async def close(self) -> None:
        await self.broker.close()
        await self.store.close()
        self.is_open = False

    async def crash(self) -> None:
        """Drop everything held in memory: only what is committed is left."""
        await self.store.close()
        self.is_open = False

    async def restart(self) -> Opened:
        await self.close()
        return await self.open()

    def rows(self) -> list[tuple[Any, ...]]:
        """The ``messages`` table, read over a connection of its own."""
        with sqlite3.connect(self.path) as conn:
            return conn.execute(
                "SELECT flow_id, component_id, parked, error, envelope_json FROM messages"
                " ORDER BY seq"
            ).fetchall()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Opened]:
    opened = await Opened(tmp_path / "flowmixer.db").open()
    yield opened
    if opened.is_open:
        await opened.close()


def channel(db: Opened, maxsize: int = 10, component: str = "c") -> SQLiteChannel:
    return db.broker.channel("f", component, maxsize=maxsize)


# -- the channel contract -------------------------------------------------------------------


async def test_items_come_out_in_the_order_they_went_in(db: Opened) -> None:
    queue = channel(db)
    for n in range(5):
        await queue.put(envelope(n))
    assert [(await queue.get()).payload for _ in range(5)] == [0, 1, 2, 3, 4]
    assert queue.get_nowait() is None


async def test_offer_always_declines_and_put_waits_for_room(db: Opened) -> None:
    queue = channel(db, maxsize=2)
    assert not queue.offer(envelope(0))  # a durable publish waits for its commit
    await queue.put(envelope(0))
    await queue.put(envelope(1))
    waiting = asyncio.ensure_future(queue.put(envelope(2)))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert (await queue.get()).payload == 0
    await asyncio.wait_for(waiting, 1)
    assert queue.depth() == 2


async def test_a_waiting_get_is_woken_by_a_put(db: Opened) -> None:
    queue = channel(db, maxsize=1)
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    await queue.put(envelope(9))
    assert (await asyncio.wait_for(getter, 1)).payload == 9


async def test_a_cancelled_getter_passes_its_wake_up_to_the_next_one(db: Opened) -> None:
    await channel(db).put(envelope(1))
    db.broker.release("f")
    queue = channel(db)
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    await queue.restore()  # the kept envelope is ready again and wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert (await asyncio.wait_for(second, 1)).payload == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_delayed_retry_comes_back_after_its_delay_with_its_attempt_recorded(
    db: Opened,
) -> None:
    queue = channel(db)
    await queue.put(envelope(1))
    taken = await queue.get()
    taken.attempt = 2
    await queue.retry_later(taken, 0.05)
    assert queue.depth() == 1
    assert queue.get_nowait() is None
    assert '"attempt":2' in db.rows()[0][4]
    assert await asyncio.wait_for(queue.get(), 1) is taken
    assert queue.depth() == 0


async def test_a_retry_that_falls_due_while_the_channel_is_full_waits_for_room(
    db: Opened,
) -> None:
    queue = channel(db, maxsize=1)
    await queue.put(envelope(0))
    taken = await queue.get()
    await queue.put(envelope(1))
    await queue.retry_later(taken, 0.0)
    await asyncio.sleep(0.01)
    assert queue.depth() == 2
    assert (await queue.get()).payload == 1
    assert (await asyncio.wait_for(queue.get(), 1)).payload == 0


async def test_drain_takes_queued_and_delayed_envelopes_out_of_the_table_too(db: Opened) -> None:
    queue = channel(db)
    await queue.put(envelope(0))
    await queue.put(envelope(1))
    await queue.retry_later(await queue.get(), 10)
    held = queue.drain()
    await db.broker.flush()
    assert sorted(e.payload for e in held) == [0, 1]
    assert queue.depth() == 0
    assert db.rows() == []


async def test_acknowledged_envelopes_leave_the_table(db: Opened) -> None:
    queue = channel(db)
    await queue.put(envelope(0))
    await queue.put(envelope(1))
    await queue.ack(await queue.get())
    await db.broker.flush()
    assert [row[4].count('"payload":1') for row in db.rows()] == [1]


async def test_a_channel_needs_room_for_at_least_one_message(db: Opened) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        channel(db, maxsize=0)


async def test_the_broker_gives_the_same_channel_until_released_and_keeps_the_rows(
    db: Opened,
) -> None:
    first = channel(db)
    assert channel(db) is first
    await first.put(envelope(5))
    db.broker.release("f")
    again = channel(db)
    assert again is not first
    assert await again.restore() == []
    assert (await again.get()).payload == 5


@settings(max_examples=25, deadline=None)
@given(
    maxsize=st.integers(1, 8),
    producers=st.lists(st.lists(st.integers(), max_size=15), min_size=1, max_size=4),
)
def test_concurrent_producers_and_one_consumer_lose_and_duplicate_nothing(maxsize, producers):
    async def scenario() -> tuple[list[int], int]:
        async with await SQLiteStore.open(":memory:") as store, SQLiteBroker(store) as broker:
            queue = broker.channel("f", "c", maxsize=maxsize)
            total = sum(len(p) for p in producers)

            async def produce(items: list[int]) -> None:
                for item in items:
                    await queue.put(envelope(item))

            async def consume() -> list[int]:
                got = []
                for _ in range(total):
                    taken = await queue.get()
                    await queue.ack(taken)
                    got.append(taken.payload)
                return got

            consumer = asyncio.ensure_future(consume())
            await asyncio.gather(*(produce(p) for p in producers))
            got = await asyncio.wait_for(consumer, 5)
            await broker.flush()
            left = await store.with_connection(
                lambda conn: conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            )
        return got, left

    got, left = asyncio.run(scenario())
    assert sorted(got) == sorted(item for p in producers for item in p)
    assert left == 0


# -- durability -----------------------------------------------------------------------------


async def test_a_put_that_returned_is_committed_to_the_file(db: Opened) -> None:
    await channel(db).put(envelope(3))
    assert [row[:2] for row in db.rows()] == [("f", "c")]


async def test_envelopes_taken_but_not_acknowledged_are_delivered_again_after_a_crash(
    db: Opened,
) -> None:
    queue = channel(db)
    for n in range(4):
        await queue.put(envelope(n))
    await queue.ack(await queue.get())  # 0 is done
    await queue.get()  # 1 is taken and never acknowledged
    await db.broker.flush()
    await db.crash()

    await db.open()
    again = channel(db)
    assert await again.restore() == []
    assert again.depth() == 3
    assert [(await again.get()).payload for _ in range(3)] == [1, 2, 3]


async def test_a_delayed_retry_keeps_its_attempt_and_its_due_time_across_a_restart(
    db: Opened,
) -> None:
    queue = channel(db)
    await queue.put(envelope(1))
    taken = await queue.get()
    taken.attempt = 3
    await queue.retry_later(taken, 0.3)
    await db.restart()

    again = channel(db)
    await again.restore()
    assert again.depth() == 1
    assert again.get_nowait() is None  # not due yet
    back = await asyncio.wait_for(again.get(), 2)
    assert (back.payload, back.attempt) == (1, 3)


async def test_a_parked_envelope_survives_a_restart_and_is_delivered_when_unparked(
    db: Opened,
) -> None:
    queue = channel(db)
    await queue.put(envelope(7))
    await queue.park(await queue.get(), "needs its account connected again")
    assert queue.depth() == 0
    await db.crash()

    await db.open()
    again = channel(db)
    parked = await again.restore()
    assert [(e.payload, why) for e, why in parked] == [(7, "needs its account connected again")]
    assert again.depth() == 0
    envelope_7 = parked[0][0]
    envelope_7.attempt = 1
    await again.unpark(envelope_7)
    assert await again.get() is envelope_7
    await again.ack(envelope_7)
    await db.broker.flush()
    assert db.rows() == []


async def test_restore_reads_after_the_writes_queued_before_it(db: Opened) -> None:
    queue = channel(db)
    await queue.put(envelope(1))
    await queue.ack(await queue.get())  # not awaited by ack: still queued
    db.broker.release("f")
    again = channel(db)
    await again.restore()
    assert again.depth() == 0


async def test_deleting_a_flow_drops_its_messages_only(db: Opened) -> None:
    await channel(db).put(envelope(1))
    await db.broker.channel("g", "c", maxsize=5).put(envelope(2, flow="g"))
    assert await db.broker.delete_flow("f") == 1
    assert [row[0] for row in db.rows()] == ["g"]


# -- group commit ---------------------------------------------------------------------------


async def test_concurrent_puts_share_transactions(db: Opened) -> None:
    queues = [channel(db, maxsize=100, component=f"c{i}") for i in range(4)]
    before = db.broker.transactions
    await channel(db, component="lone").put(envelope(0))
    assert db.broker.transactions == before + 1  # a lone write goes at once, alone

    before = db.broker.transactions
    await asyncio.gather(*(q.put(envelope(n)) for n in range(50) for q in queues))
    used = db.broker.transactions - before
    assert len(db.rows()) == 201
    assert used <= 10, f"200 concurrent puts took {used} transactions"


async def test_a_failing_write_fails_alone_and_the_rest_of_its_batch_commits(
    db: Opened,
) -> None:
    writes = GroupCommit(db.store, logger=structlog.get_logger("test"))
    await db.store.with_connection(lambda conn: conn.execute("CREATE TABLE t (n INTEGER UNIQUE)"))

    def insert(n: int) -> Any:
        return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (n,)).rowcount

    results = await asyncio.gather(
        *(writes.submit(insert(n)) for n in (1, 2, 2, 3)), return_exceptions=True
    )
    assert [type(r).__name__ for r in results] == ["int", "int", "IntegrityError", "int"]
    stored = await db.store.with_connection(
        lambda conn: [r[0] for r in conn.execute("SELECT n FROM t ORDER BY n")]
    )
    assert stored == [1, 2, 3]


# -- the engine on the SQLite broker -------------------------------------------------------


class SetThenSend(Component):
    """Polling trigger: writes state, reads it back, sends; ``hang`` blocks after that,
    ``fail`` raises after that."""

    reached: asyncio.Event

    async def tick(self, context: Context) -> None:
        count = await context.state.get("count", 0) + 1
        await context.state.set("count", count)
        assert await context.state.get("count") == count  # a tick reads its own writes
        await context.state.delete("scratch")
        await context.send({"count": count})
        SetThenSend.reached.set()
        if context.properties.get("hang"):
            await asyncio.Event().wait()
        if context.properties.get("fail"):
            raise RuntimeError("the listing broke half way")


def _manifest(name: str, handler: str, *, tick: bool) -> ComponentManifest:
    return ComponentManifest.model_validate(
        {
            "name": f"test.durable.{name}",
            "label": name,
            "description": "test component",
            "handler": handler,
            "inPorts": [] if tick else [{"name": "in"}],
            "outPorts": [{"name": "out"}],
            "tick": {"interval": 60} if tick else None,
        }
    )


def ticking_plan(flow_id: str = "t", **properties: Any) -> FlowPlan:
    """``poll`` (SetThenSend, ticking every 10 ms) wired to ``sink`` (Echo)."""
    poll = _manifest("SetThenSend", "tests.test_sqlite_broker:SetThenSend", tick=True)
    echo = _manifest("Echo", "tests.kit:Echo", tick=False)
    return FlowPlan(
        id=flow_id,
        name=flow_id,
        nodes={
            "poll": NodePlan(
                id="poll",
                type=poll.name,
                manifest=poll,
                handler=SetThenSend,
                properties=properties,
                routes={"out": (Route("sink", "in"),)},
                tick_interval=0.01,
            ),
            "sink": NodePlan(
                id="sink",
                type=echo.name,
                manifest=echo,
                handler=kit.Echo,
                properties={},
                routes={"out": ()},
            ),
        },
    )


@pytest.fixture
def reached() -> asyncio.Event:
    SetThenSend.reached = asyncio.Event()
    return SetThenSend.reached


async def test_a_tick_commits_its_state_and_its_messages_together(
    db: Opened, reached: asyncio.Event
) -> None:
    outputs: list[Output] = []
    async with Engine(db.store, broker=db.broker, on_output=outputs.append) as engine:
        await engine.start_flow(ticking_plan())
        await kit.eventually(lambda: len(outputs) >= 3)
        await engine.stop_flow("t")
    counts = [o.payload["count"] for o in outputs]
    assert counts == list(range(1, len(counts) + 1))
    assert await db.store.get_state("t", "poll", "count") == counts[-1]


async def test_a_tick_whose_commit_fails_leaves_neither_its_state_nor_its_messages(
    db: Opened, reached: asyncio.Event
) -> None:
    def refuse_messages(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages"
            " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        )

    await db.store.with_connection(refuse_messages)
    outputs: list[Output] = []
    with capture_logs() as logs:
        async with Engine(db.store, broker=db.broker, on_output=outputs.append) as engine:
            await engine.start_flow(ticking_plan())
            await kit.eventually(lambda: engine.stats("t")["poll"].ticks >= 2)
            await engine.wait_idle("t")
            assert await db.store.get_state("t", "poll", "count") is None
            assert (db.rows(), outputs) == ([], [])

            await db.store.with_connection(lambda conn: conn.execute("DROP TRIGGER refuse"))
            await kit.eventually(lambda: len(outputs) >= 1)
            await engine.stop_flow("t")
    assert outputs[0].payload == {"count": 1}  # the failed ticks wrote nothing
    assert any(
        "the disk is full" in str(e.get("error")) for e in logs if e["event"] == "tick failed"
    )


@pytest.mark.parametrize(
    "how", [{"hang": True}, {"fail": True}], ids=["cancelled mid-tick", "raised mid-tick"]
)
async def test_a_tick_that_does_not_finish_commits_nothing(
    db: Opened, reached: asyncio.Event, how: dict[str, bool]
) -> None:
    outputs: list[Output] = []
    async with Engine(db.store, broker=db.broker, on_output=outputs.append) as engine:
        await engine.start_flow(ticking_plan(**how))
        await asyncio.wait_for(reached.wait(), 5)
        await engine.stop_flow("t", timeout=0.05)
    await db.broker.flush()
    assert await db.store.get_state("t", "poll", "count") is None
    assert (db.rows(), outputs) == ([], [])


async def test_messages_queued_when_the_flow_stopped_are_delivered_at_its_next_start(
    db: Opened,
) -> None:
    kit.Gate.opened = asyncio.Event()
    flow = kit.plan("g", {"hook": "Hook", "gate": "Gate"}, [("hook", "gate")])
    async with Engine(db.store, broker=db.broker) as engine:
        await engine.start_flow(flow)
        ids = [await engine.push("g", "hook", {"n": n}) for n in range(5)]
        await kit.eventually(lambda: kit.Gate.active == 1)
        await engine.stop_flow("g", timeout=0.05)  # one interrupted, four queued
    assert await db.store.list_dead_letters() == []
    await db.restart()

    kit.Gate.opened.set()
    outputs: list[Output] = []
    async with Engine(db.store, broker=db.broker, on_output=outputs.append) as engine:
        await engine.start_flow(flow)
        await engine.wait_idle("g")
        await engine.stop_flow("g")
    assert sorted(o.correlation_id for o in outputs) == sorted(ids)
    await db.broker.flush()
    assert db.rows() == []


async def test_a_stop_does_not_wait_for_a_handler_held_at_its_quota_and_keeps_its_message(
    db: Opened,
) -> None:
    rules = {"test:svc": [QuotaRule(resource="writes", limit=1, window=3600, max_wait=7200)]}
    flow = kit.plan("q", {"hook": "Hook", "q": "Quoted"}, [("hook", "q")])
    quotas = Quotas(rules)
    async with Engine(db.store, broker=db.broker, quotas=quotas) as engine:
        await engine.start_flow(flow)
        await engine.push("q", "hook", {"n": 1})
        second = await engine.push("q", "hook", {"n": 2})
        await kit.eventually(lambda: engine.stats("q")["q"].sent == 1)  # the hour's one call
        await kit.eventually(lambda: len(quotas.waiting) == 1)  # the next waits for an hour
        async with asyncio.timeout(10):  # not the stop's 60 s, nor the quota's hour
            await engine.stop_flow("q", timeout=60)
    assert await db.store.list_dead_letters() == []
    await db.restart()

    outputs: list[Output] = []
    async with Engine(db.store, broker=db.broker, on_output=outputs.append) as engine:
        await engine.start_flow(flow)  # a new hour: its quota has room again
        await engine.wait_idle("q")
        await engine.stop_flow("q")
    assert [o.correlation_id for o in outputs] == [second]
    await db.broker.flush()
    assert db.rows() == []


async def test_parked_messages_stay_parked_across_a_restart_and_go_on_resume(
    db: Opened,
) -> None:
    kit.Locked.authorized = False
    kit.Locked.delivered = []
    flow = kit.plan("p", {"hook": "Hook", "l": "Locked"}, [("hook", "l")])
    async with Engine(db.store, broker=db.broker) as engine:
        await engine.start_flow(flow)
        event_id = await engine.push("p", "hook", {"n": 1})
        await kit.eventually(lambda: engine.status("p") == "paused")
        await engine.stop_flow("p")
    assert await db.store.list_dead_letters() == []
    assert [row[2] for row in db.rows()] == [1]
    await db.restart()

    outputs: list[Output] = []
    async with Engine(db.store, broker=db.broker, on_output=outputs.append) as engine:
        await engine.start_flow(flow)
        assert engine.status("p") == "paused"
        assert "connected again" in (engine.pause_reason("p") or "")
        assert [e.correlation_id for e in engine.parked("p")] == [event_id]
        kit.Locked.authorized = True
        assert await engine.resume_flow("p") == 1
        await engine.wait_idle("p")
        await engine.stop_flow("p")
    assert [o.correlation_id for o in outputs] == [event_id]
    await db.broker.flush()
    assert db.rows() == []


async def test_messages_for_a_component_the_flow_no_longer_has_are_dead_lettered(
    db: Opened,
) -> None:
    await db.broker.channel("s", "gone", maxsize=5).put(envelope(4, flow="s", component="gone"))
    db.broker.release("s")
    async with Engine(db.store, broker=db.broker) as engine:
        await engine.start_flow(kit.plan("s", {"hook": "Hook"}, []))
        await engine.stop_flow("s")
    [letter] = await db.store.list_dead_letters()
    assert (letter.component_id, letter.error_type) == ("gone", "Undeliverable")
    assert "no component 'gone'" in letter.error
    assert db.rows() == []


async def test_the_server_deletes_a_flows_queued_messages_with_the_flow(db: Opened) -> None:
    async with aiohttp.ClientSession() as session:
        ctx = await assemble(
            db.store,
            Registry.load(),
            SecretBox([generate_key()]),
            session,
            admin_token=None,
            public_url="",
            logger=structlog.get_logger("test"),
            environ={},
            broker=db.broker,
        )
        await control.deploy(ctx, ORDERS)
        await db.broker.channel("orders", "big", maxsize=5).put(envelope(1, "orders", "big"))
        await control.delete(ctx, "orders")
        await ctx.engine.close()
    assert db.rows() == []


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve"], "sqlite"),
        (["serve", "--broker", "memory"], "memory"),
        (["run", "flow.json"], "memory"),
        (["run", "flow.json", "--broker", "sqlite"], "sqlite"),
    ],
    ids=["serve is durable", "serve in memory", "run in memory", "run durable"],
)
def test_serve_queues_on_sqlite_and_run_in_memory_unless_told(argv, expected) -> None:
    assert build_parser().parse_args(argv).broker == expected


def test_an_unknown_broker_is_refused_on_the_command_line(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--broker", "redis"])
    assert exited.value.code == 2
    assert "invalid choice: 'redis'" in capsys.readouterr().err


def test_run_with_the_sqlite_broker_handles_its_pushes_and_leaves_no_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    try:
        code = main(
            ["run", str(EXAMPLE), "--push", f"hook={ORDER}", "--until-idle", "--broker", "sqlite"]
        )
    finally:
        reset_logging()
    assert code == 0
    [line] = [json.loads(out) for out in capsys.readouterr().out.splitlines()]
    assert line["message"]["orderId"] == "ord-1042"
    with sqlite3.connect(tmp_path / "home" / "flowmixer.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
    conn.close()


# -- restarts, stops and failures in the middle of things ---------------------------------------


async def test_a_push_accepted_while_the_flow_restores_its_channels_is_delivered_once(
    db: Opened,
) -> None:
    kit.Locked.authorized = False
    kit.Locked.delivered = []
    # `l` (with a parked message) is restored before `hook`, whose channel the push goes to.
    flow = kit.plan("p", {"l": "Locked", "x": "Echo", "hook": "Hook"}, [("hook", "x"), ("x", "l")])
    async with Engine(db.store, broker=db.broker) as engine:
        await engine.start_flow(flow)
        await engine.push("p", "hook", {"n": "parked"})
        await kit.eventually(lambda: engine.status("p") == "paused")
        await engine.stop_flow("p")
    await db.restart()

    kit.Locked.authorized = True
    async with Engine(db.store, broker=db.broker) as engine:
        starting = asyncio.ensure_future(engine.start_flow(flow))
        while engine.status("p") != "paused":  # noqa: ASYNC110 - the first moment it accepts
            await asyncio.sleep(0)
        await engine.push("p", "hook", {"n": "during start"})
        await starting
        assert await engine.resume_flow("p") == 1
        await asyncio.wait_for(engine.wait_idle("p"), 5)
        await engine.stop_flow("p")
    assert sorted(m["n"] for m in kit.Locked.delivered) == ["during start", "parked"]
    await db.broker.flush()
    assert db.rows() == []


async def test_a_resume_that_cannot_write_keeps_the_messages_parked_and_can_be_retried(
    db: Opened,
) -> None:
    kit.Locked.authorized = False
    kit.Locked.delivered = []
    async with Engine(db.store, broker=db.broker) as engine:
        await engine.start_flow(kit.plan("p", {"hook": "Hook", "l": "Locked"}, [("hook", "l")]))
        for n in range(3):
            await engine.push("p", "hook", n)
        await kit.eventually(lambda: len(engine.parked("p")) == 3)
        reason = engine.pause_reason("p")
        kit.Locked.authorized = True
        await db.store.with_connection(
            lambda conn: conn.execute(
                "CREATE TRIGGER refuse BEFORE UPDATE ON messages WHEN NEW.parked = 0"
                " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
            )
        )
        with pytest.raises(sqlite3.IntegrityError, match="the disk is full"):
            await engine.resume_flow("p")
        assert (engine.status("p"), engine.pause_reason("p")) == ("paused", reason)
        assert [e.payload for e in engine.parked("p")] == [0, 1, 2]
        await engine.wait_idle("p")

        await db.store.with_connection(lambda conn: conn.execute("DROP TRIGGER refuse"))
        assert await engine.resume_flow("p") == 3
        await asyncio.wait_for(engine.wait_idle("p"), 5)
        await engine.stop_flow("p")
    assert kit.Locked.delivered == [0, 1, 2]
    await db.broker.flush()
    assert db.rows() == []


@pytest.mark.parametrize(
    ("refused", "letters_after_failure"),
    [("INSERT ON dead_letters", 0), ("DELETE ON messages", 1)],
    ids=["the dead letter cannot be written", "the message cannot be deleted"],
)
async def test_a_stray_message_is_dropped_only_after_its_dead_letter_is_written(
    db: Opened, refused: str, letters_after_failure: int
) -> None:
    await db.broker.channel("s", "gone", maxsize=5).put(envelope(4, flow="s", component="gone"))
    db.broker.release("s")
    flow = kit.plan("s", {"hook": "Hook"}, [])
    await db.store.with_connection(
        lambda conn: conn.execute(
            f"CREATE TRIGGER refuse BEFORE {refused}"
            " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        )
    )
    async with Engine(db.store, broker=db.broker) as engine:
        with pytest.raises(sqlite3.IntegrityError, match="the disk is full"):
            await engine.start_flow(flow)
        assert len(db.rows()) == 1
        assert len(await db.store.list_dead_letters()) == letters_after_failure

        await db.store.with_connection(lambda conn: conn.execute("DROP TRIGGER refuse"))
        await engine.start_flow(flow)
        await engine.stop_flow("s")
    [letter] = await db.store.list_dead_letters()  # written again, not twice
    assert (letter.component_id, letter.envelope.payload) == ("gone", 4)
    assert db.rows() == []


async def test_a_dead_letter_and_the_removal_of_its_message_commit_together(db: Opened) -> None:
    await db.store.with_connection(
        lambda conn: conn.execute(
            "CREATE TRIGGER keep BEFORE DELETE ON messages WHEN OLD.component_id = 'no'"
            " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
        )
    )
    with capture_logs() as logs:
        async with Engine(db.store, broker=db.broker) as engine:
            await engine.start_flow(
                kit.plan("r", {"hook": "Hook", "no": "Reject"}, [("hook", "no")])
            )
            await engine.push("r", "hook", {"n": 1})
            failed = "could not settle a failed message; retrying later"
            await kit.eventually(lambda: sum(e["event"] == failed for e in logs) >= 2)
            # Refused as a whole: no letter beside the message that stays to be delivered again.
            assert await db.store.list_dead_letters() == []
            assert [row[1] for row in db.rows()] == ["no"]

            await db.store.with_connection(lambda conn: conn.execute("DROP TRIGGER keep"))
            await asyncio.wait_for(engine.wait_idle("r"), 5)
            await engine.stop_flow("r")
    [letter] = await db.store.list_dead_letters()
    assert (letter.component_id, letter.error_type) == ("no", "CancelError")
    await db.broker.flush()
    assert db.rows() == []
