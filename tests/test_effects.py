"""The effects ledger: one record per (flow, component, event, input), in every store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.component import Component, Context
from runtime.effects import (
    PRUNE_INTERVAL,
    RETENTION,
    SETTLE,
    UNCERTAIN_RETENTION,
    EffectLedger,
    input_digest,
)
from runtime.engine import Engine, Output
from runtime.errors import EngineError
from runtime.stores import MemoryStore, SQLiteStore, Store
from runtime.stores.base import EffectRecord
from tests import kit

DAY = 86_400.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"], ids=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "memory":
        opened = MemoryStore()
    else:
        opened = await SQLiteStore.open(tmp_path / "flowmixer.db")
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ledger(store: Store, clock: Clock, component_id: str = "pin") -> EffectLedger:
    return EffectLedger(store, "repin", component_id, clock=clock)


PIN = {"boardId": "2002", "title": "Soup", "imageUrl": "https://images.example/soup.jpg"}


# -- the life of one effect ---------------------------------------------------------------------


async def test_a_new_effect_is_neither_done_nor_uncertain_and_was_never_sent(store, clock):
    effect = await ledger(store, clock).begin("event-1", PIN)

    assert (effect.done, effect.uncertain, effect.sent_before, effect.first_sent_at) == (
        False,
        False,
        0,
        None,
    )
    assert effect.result is None


async def test_an_effect_sent_without_an_outcome_is_uncertain_when_delivered_again(store, clock):
    first = await ledger(store, clock).begin("event-1", PIN)
    await first.sending()  # ... and the process dies here
    clock.now += 30

    again = await ledger(store, clock).begin("event-1", PIN)

    assert (again.done, again.uncertain, again.sent_before) == (False, True, 1)
    assert again.first_sent_at == clock.now - 30


async def test_an_attempt_that_surely_sent_nothing_leaves_the_effect_certain(store, clock):
    first = await ledger(store, clock).begin("event-1", PIN)
    await first.sending()
    await first.sent_nothing()

    again = await ledger(store, clock).begin("event-1", PIN)

    # Nothing went out: no send is counted, and no lookup window starts there.
    assert (again.uncertain, again.sent_before, again.first_sent_at) == (False, 0, None)


async def test_an_earlier_uncertain_attempt_stays_uncertain_after_a_later_clean_failure(
    store, clock
):
    effects = ledger(store, clock)  # one process
    first = await effects.begin("event-1", PIN)
    await first.sending()  # dropped: may have taken effect
    first.landed()
    clock.now += 5
    second = await effects.begin("event-1", PIN)
    await second.sending()
    await second.sent_nothing()  # refused: this one surely did nothing

    third = await effects.begin("event-1", PIN)

    assert (third.uncertain, third.sent_before) == (True, 1)
    assert third.first_sent_at == clock.now - 5  # the window starts at the first sending


async def test_a_completed_effect_is_done_with_its_result_and_claims_its_object(store, clock):
    effect = await ledger(store, clock).begin("event-1", PIN)
    await effect.sending()
    await effect.complete({"id": "p1", "title": "Soup"}, ref="p1")

    again = await ledger(store, clock).begin("event-1", PIN)

    assert (again.done, again.result) == (True, {"id": "p1", "title": "Soup"})
    assert await again.claimed(["p1", "p2"]) == {"p1"}
    with pytest.raises(EngineError, match="already complete"):
        await again.sending()


async def test_notes_are_kept_for_later_attempts(store, clock):
    first = await ledger(store, clock).begin("event-1", PIN)
    await first.note(media_id="m1")
    await first.note(upload="done")

    again = await ledger(store, clock).begin("event-1", PIN)

    assert again.notes == {"media_id": "m1", "upload": "done"}
    assert (again.uncertain, again.sent_before) == (False, 0)


async def test_an_uncompleted_effect_claims_nothing(store, clock):
    effect = await ledger(store, clock).begin("event-1", PIN)
    await effect.sending()

    assert await effect.claimed(["p1"]) == set()
    assert await effect.claimed([]) == set()


# -- what names an effect -----------------------------------------------------------------------


async def test_other_events_inputs_components_and_flows_are_other_effects(store, clock):
    done = await ledger(store, clock).begin("event-1", PIN)
    await done.complete({"id": "p1"}, ref="p1")

    others = [
        await ledger(store, clock).begin("event-2", PIN),
        await ledger(store, clock).begin("event-1", {**PIN, "title": "Stew"}),
        await ledger(store, clock, component_id="other").begin("event-1", PIN),
        await EffectLedger(store, "other-flow", "pin", clock=clock).begin("event-1", PIN),
    ]

    assert [effect.done for effect in others] == [False, False, False, False]


json_inputs = st.dictionaries(
    st.text(max_size=6),
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.lists(st.integers()),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(payload=json_inputs, data=st.data())
def test_the_same_input_in_any_key_order_has_the_same_digest(payload, data):
    shuffled = dict(data.draw(st.permutations(list(payload.items()))))

    assert input_digest(shuffled) == input_digest(payload)
    assert input_digest({**payload, "\x00extra": 1}) != input_digest(payload)


def test_an_input_that_is_not_json_data_is_refused_with_what_was_wrong():
    with pytest.raises(EngineError, match="an effect's input must be JSON data"):
        input_digest({"when": object()})


async def test_an_effect_outside_an_event_is_refused(store, clock):
    with pytest.raises(EngineError, match="an effect belongs to an event"):
        await ledger(store, clock).begin(None, PIN)


# -- lasting and pruning ------------------------------------------------------------------------


async def test_the_sqlite_ledger_survives_reopening_the_store(tmp_path, clock):
    path = tmp_path / "flowmixer.db"
    async with await SQLiteStore.open(path) as first:
        effect = await ledger(first, clock).begin("event-1", PIN)
        await effect.sending()
        await effect.complete({"id": "p1"}, ref="p1")
        pending = await ledger(first, clock).begin("event-2", PIN)
        await pending.sending()
    clock.now += SETTLE  # the restart took that long: its send is no longer awaited

    async with await SQLiteStore.open(path) as reopened:
        done = await ledger(reopened, clock).begin("event-1", PIN)
        uncertain = await ledger(reopened, clock).begin("event-2", PIN)

    assert (done.done, done.result) == (True, {"id": "p1"})
    assert (uncertain.done, uncertain.uncertain) == (False, True)


async def test_the_first_use_prunes_records_unchanged_for_the_retention(store, clock):
    old = await ledger(store, clock).begin("event-old", PIN)
    await old.complete({"id": "p1"}, ref="p1")
    clock.now += RETENTION - DAY
    recent = await ledger(store, clock).begin("event-recent", PIN)
    await recent.complete({"id": "p2"}, ref="p2")
    clock.now += 2 * DAY  # the first record is now 8 days old, the second 2 days

    fresh = ledger(store, clock)
    gone = await fresh.begin("event-old", PIN)
    kept = await fresh.begin("event-recent", PIN)

    assert (gone.done, kept.done) == (False, True)
    assert await kept.claimed(["p1", "p2"]) == {"p2"}


async def test_a_ledger_prunes_again_only_after_the_interval(store, clock):
    old = await ledger(store, clock).begin("event-old", PIN)
    await old.complete({"id": "p1"})
    clock.now += RETENTION - 10
    running = ledger(store, clock)
    assert (await running.begin("event-old", PIN)).done  # pruned: the record is young enough
    clock.now += 20

    assert (await running.begin("event-old", PIN)).done  # too old now, but pruned 20 s ago
    clock.now += PRUNE_INTERVAL
    assert not (await running.begin("event-old", PIN)).done


async def test_prune_says_how_many_records_went(store, clock):
    for n in range(3):
        await (await ledger(store, clock).begin(f"event-{n}", PIN)).complete({"id": f"p{n}"})
    clock.now += RETENTION + 1

    assert await ledger(store, clock).prune() == 3
    assert await ledger(store, clock).prune() == 0


async def test_an_uncertain_record_outlives_the_retention_so_a_late_retry_still_looks_first(
    store, clock
):
    await (await ledger(store, clock).begin("event-uncertain", PIN)).sending()  # no answer
    await (await ledger(store, clock).begin("event-done", PIN)).complete({"id": "p1"})
    clock.now += 30 * DAY  # a dead letter retried a month later

    month_later = ledger(store, clock)
    assert await month_later.prune() == 1  # the completed one
    assert (await month_later.begin("event-uncertain", PIN)).uncertain
    clock.now += UNCERTAIN_RETENTION
    assert await ledger(store, clock).prune() == 1
    assert not (await ledger(store, clock).begin("event-uncertain", PIN)).uncertain


def test_a_retention_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="retention must be a positive number of seconds"):
        EffectLedger(MemoryStore(), "f", "c", retention=0)


async def test_records_read_back_are_copies(store, clock):
    record = EffectRecord("f", "c", "e", "d", 1.0, result={"id": "p1"}, notes={"a": [1]})
    await store.put_effect(record)
    read = await store.get_effect("f", "c", "e", "d")
    assert read is not None
    read.result["id"] = "changed"
    read.notes["a"].append(2)

    assert await store.get_effect("f", "c", "e", "d") == record


# -- in a running flow ----------------------------------------------------------------------------


class Split(Component):
    """Sends each item of the input's ``items`` as its own message (one event, many inputs)."""

    async def receive(self, context: Context) -> None:
        for item in context.message["items"]:
            await context.send(item)


class Ticket(Component):
    """Opens a ticket per effect in ``Ticket.opened``; the first ``Ticket.crashes`` deliveries
    fail after the ticket was recorded, as a process dying before the acknowledgement."""

    opened: list[Any]
    crashes: int

    async def receive(self, context: Context) -> None:
        effect = await context.effects.begin(context.correlation_id, context.message)
        if not effect.done:
            await effect.sending()
            Ticket.opened.append(context.message)
            number = str(len(Ticket.opened))
            await effect.complete({"ticket": number, "for": context.message}, ref=number)
        if Ticket.crashes > 0:
            Ticket.crashes -= 1
            raise ConnectionError("the process died before the acknowledgement")
        await context.send(effect.result)


class CountingStore(MemoryStore):
    """A memory store that counts the calls made to its effects ledger."""

    def __init__(self) -> None:
        super().__init__()
        self.effect_calls = 0

    async def get_effect(self, *args: Any) -> EffectRecord | None:
        self.effect_calls += 1
        return await super().get_effect(*args)

    async def prune_effects(self, before: float) -> int:
        self.effect_calls += 1
        return await super().prune_effects(before)


@pytest.fixture
def ticket_kit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kit.HANDLERS, "Split", Split)
    monkeypatch.setitem(kit.HANDLERS, "Ticket", Ticket)
    Ticket.opened = []
    Ticket.crashes = 0


@pytest.mark.usefixtures("ticket_kit")
async def test_a_delivery_after_a_crash_past_the_effect_sends_the_recorded_result_only():
    Ticket.crashes = 2
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "t": "Ticket"}, [("hook", "t")]))
        event = await engine.push("f", "hook", {"subject": "refund"})
        await engine.wait_idle("f")
        stats = engine.stats("f")["t"]

    assert Ticket.opened == [{"subject": "refund"}]
    assert outputs == [
        Output("f", "t", "out", event, {"ticket": "1", "for": {"subject": "refund"}})
    ]
    assert (stats.received, stats.retried, stats.dead_lettered) == (3, 2, 0)


@pytest.mark.usefixtures("ticket_kit")
async def test_each_different_input_of_one_event_is_its_own_effect_and_a_repeated_one_is_not():
    Ticket.crashes = 1
    outputs: list[Output] = []
    items = [{"n": 1}, {"n": 2}, {"n": 1}, {"n": 3}]
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(
            kit.plan(
                "f",
                {"hook": "Hook", "split": "Split", "t": "Ticket"},
                [("hook", "split"), ("split", "t")],
            )
        )
        await engine.push("f", "hook", {"items": items})
        await engine.wait_idle("f")

    assert sorted(t["n"] for t in Ticket.opened) == [1, 2, 3]
    tickets = {o.payload["for"]["n"]: o.payload["ticket"] for o in outputs}
    assert sorted(tickets) == [1, 2, 3]
    assert len(set(tickets.values())) == 3
    assert len(outputs) == 4  # the repeated input gets the same ticket again
    assert len({o.correlation_id for o in outputs}) == 1


async def test_a_flow_whose_components_use_no_effects_never_touches_the_ledger():
    store = CountingStore()
    async with Engine(store) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "e": "Echo"}, [("hook", "e")]))
        for n in range(20):
            await engine.push("f", "hook", {"n": n})
        await engine.wait_idle("f")
        assert engine.stats("f")["e"].sent == 20

    assert store.effect_calls == 0


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(crashes=st.integers(min_value=0, max_value=2), count=st.integers(min_value=1, max_value=6))
@pytest.mark.usefixtures("ticket_kit")
async def test_crashes_after_the_effect_never_open_a_second_ticket(crashes, count):
    Ticket.opened = []
    Ticket.crashes = crashes
    outputs: list[Output] = []
    async with Engine(MemoryStore(), on_output=outputs.append) as engine:
        await engine.start_flow(kit.plan("f", {"hook": "Hook", "t": "Ticket"}, [("hook", "t")]))
        for n in range(count):
            await engine.push("f", "hook", {"n": n})
        await engine.wait_idle("f")

    assert sorted(t["n"] for t in Ticket.opened) == list(range(count))
    assert sorted(o.payload["for"]["n"] for o in outputs) == list(range(count))


async def test_a_refused_attempt_does_not_move_the_lookup_window_of_a_later_uncertain_one(
    store, clock
):
    effects = ledger(store, clock)  # one process
    first = await effects.begin("event-1", PIN)
    await first.sending()
    await first.sent_nothing()  # e.g. a 400: nothing was made
    clock.now += 3600
    second = await effects.begin("event-1", PIN)
    await second.sending()  # this one times out: uncertain

    third = await effects.begin("event-1", PIN)

    assert third.uncertain
    assert third.first_sent_at == clock.now  # not an hour earlier, when nothing went out


async def test_two_uncertain_effects_with_the_same_input_never_adopt_the_same_object(store, clock):
    import asyncio

    import structlog

    from components.pinterest.models import Pin
    from runtime.connector.idempotent import made_since, reuse
    from runtime.connector.resolution import Lookup

    pins = [
        Pin(id="1", title="Soup", created_at="2025-01-01T00:00:01"),
        Pin(id="2", title="Soup", created_at="2025-01-01T00:00:02"),
    ]

    class Logged:
        log = structlog.get_logger()
        properties: dict[str, object] = {}

    async def listing():
        for pin in pins:
            await asyncio.sleep(0)  # other lookups may run meanwhile
            yield pin

    shared = ledger(store, clock)

    async def adopt(event: str) -> str:
        sent = await shared.begin(event, PIN)
        await sent.sending()  # timed out: uncertain
        sent.landed()
        effect = await shared.begin(event, PIN)

        async def find() -> list[Pin]:
            return await made_since(listing(), None, lambda pin: pin.title == "Soup")

        found = await reuse(Logged(), effect, Lookup(find, "board 1"))  # type: ignore[arg-type]
        assert found is not None
        return str(found["id"])

    adopted = await asyncio.gather(adopt("event-a"), adopt("event-b"))

    assert sorted(adopted) == ["1", "2"]


async def test_a_lookup_that_found_nothing_ends_the_uncertainty_and_keeps_the_first_send_time(
    store, clock
):
    first = await ledger(store, clock).begin("event-1", PIN)
    await first.sending()  # no answer: uncertain
    sent_at = clock.now
    clock.now += 60
    again = await ledger(store, clock).begin("event-1", PIN)
    await again.found_nothing()
    clock.now += 60
    third = await ledger(store, clock).begin("event-1", PIN)

    assert (again.uncertain, third.uncertain, third.done) == (False, False, False)
    assert (third.first_sent_at, third.sent_before) == (sent_at, 1)


async def test_an_effect_knows_when_another_event_sends_the_same_input_in_this_process(
    store, clock
):
    shared = ledger(store, clock)
    mine = await shared.begin("event-a", PIN)
    twin = await shared.begin("event-b", PIN)
    other = await shared.begin("event-c", {**PIN, "title": "Stew"})

    await mine.sending()
    assert (mine.twin_in_flight, twin.twin_in_flight, other.twin_in_flight) == (
        False,
        True,
        False,
    )
    await twin.sending()
    assert (mine.twin_in_flight, twin.twin_in_flight) == (True, True)
    mine.landed()
    mine.landed()  # once is what counts
    assert (mine.twin_in_flight, twin.twin_in_flight) == (True, False)
    twin.landed()
    assert not mine.twin_in_flight
    # Another ledger (another component or process) does not see these.
    assert not (await ledger(store, clock, "board").begin("event-a", PIN)).twin_in_flight
