"""The polling ledger: new items come out once each, oldest first, whatever the listing does."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.connector.polling import (
    LedgerState,
    PollPolicy,
    Scan,
    epoch_seconds,
    stamp,
)

LOOKBACK = 100.0


# -- a model of a listing that changes under the trigger ------------------------------------


@dataclass
class Source:
    """Items ``id -> (created_at, position)``, listed newest first or in a hand-made order."""

    newest_first: bool
    items: dict[str, tuple[float, float]] = field(default_factory=dict)
    next_id: int = 98  # ids cross from two to three digits: ids order by number, not text
    newest: float = 1_000.0  # the newest created_at of any item ever added
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def add(self, created_at: float) -> str:
        item_id = str(self.next_id)
        self.next_id += 1
        self.items[item_id] = (created_at, self.rng.random())
        self.newest = max(self.newest, created_at)
        return item_id

    def delete(self, pick: int) -> None:
        if self.items:
            del self.items[sorted(self.items)[pick % len(self.items)]]

    def listing(self) -> list[tuple[str, float]]:
        if self.newest_first:
            order = sorted(self.items, key=lambda i: stamp(self.items[i][0], i), reverse=True)
        else:
            order = sorted(self.items, key=lambda i: self.items[i][1])
        return [(i, self.items[i][0]) for i in order]


class ListingFailed(Exception):
    """The API failed while the trigger was paging (a 500, say)."""


@dataclass
class Tick:
    """One tick: what the trigger read and what it handed on."""

    read: list[tuple[str, float]]
    sent: list[tuple[str, float]]
    completed: bool


@dataclass
class Trigger:
    """The trigger's loop over the model, its state kept as JSON as in the component's store."""

    policy: PollPolicy
    emit_existing: bool = False
    state: Any = None
    ticks: list[Tick] = field(default_factory=list)

    def tick(
        self,
        source: Source,
        *,
        page_size: int,
        early_stop: bool = True,
        fail_listing_at: int | None = None,
        fail_send_at: int | None = None,
        shifts: tuple[tuple[int, str, int], ...] = (),
    ) -> Tick:
        """Page through ``source`` (offset paging, so changes between pages shift items)."""
        scan: Scan[tuple[str, float]] = Scan(
            LedgerState.from_json(self.state),
            self.policy,
            emit_existing=self.emit_existing,
            early_stop=early_stop,
        )
        read: list[tuple[str, float]] = []
        offset = page = 0
        try:
            while True:
                for at, op, value in shifts:
                    if at == page:
                        _mutate(source, op, value)
                if fail_listing_at == page:
                    raise ListingFailed
                items = source.listing()[offset : offset + page_size]
                more = len(items) == page_size
                for item_id, created in items:
                    read.append((item_id, created))
                    if not scan.add(item_id, created, (item_id, created)):
                        more = False
                        break
                if not more:
                    break
                offset += page_size
                page += 1
        except ListingFailed:
            done = Tick(read=[], sent=[], completed=False)
            self.ticks.append(done)
            return done
        fresh = scan.new_items()
        failed = fail_send_at is not None and fail_send_at < len(fresh)
        handed = fail_send_at if failed and fail_send_at is not None else len(fresh)
        if handed or not failed:
            saved = scan.state_after(handed).to_json()
            self.state = json.loads(json.dumps(saved))  # a restart reads back exactly this
        done = Tick(read=read, sent=fresh[:handed], completed=True)
        self.ticks.append(done)
        return done

    def read_ids(self) -> list[str]:
        return [item_id for t in self.ticks for item_id, _ in t.read]

    @property
    def sent(self) -> list[str]:
        return [item_id for t in self.ticks for item_id, _ in t.sent]


def _mutate(source: Source, op: str, value: int) -> None:
    if op == "add":
        source.add(source.newest + value)
    else:
        source.delete(value)


# -- hypothesis strategies -------------------------------------------------------------------

add_step = st.tuples(st.just("add"), st.sampled_from([0.0, 1.0, 5.0, 30.0]))
late_step = st.tuples(st.just("late"), st.floats(0.0, 0.999))
old_step = st.tuples(st.just("old"), st.floats(1.0, 3.0))
delete_step = st.tuples(st.just("delete"), st.integers(0, 1000))
shift = st.tuples(st.integers(0, 3), st.sampled_from(["add", "delete"]), st.integers(0, 1000))
tick_step = st.tuples(
    st.just("tick"),
    st.fixed_dictionaries(
        {
            "page_size": st.integers(1, 6),
            "early_stop": st.booleans(),
            "fail_listing_at": st.none() | st.integers(0, 2),
            "fail_send_at": st.none() | st.integers(0, 3),
            "shifts": st.lists(shift, max_size=2).map(tuple),
        }
    ),
)
steps = st.lists(
    st.one_of(add_step, late_step, old_step, delete_step, tick_step), min_size=1, max_size=40
)


def _apply(source: Source, step: tuple[str, Any]) -> str | None:
    kind, value = step
    if kind == "add":
        return source.add(source.newest + value)
    if kind == "late":
        return source.add(source.newest - value * LOOKBACK)
    if kind == "old":
        return source.add(source.newest - value * LOOKBACK - 1)
    source.delete(value)
    return None


def _final_tick(trigger: Trigger, source: Source) -> Tick:
    return trigger.tick(source, page_size=4, early_stop=False)


def _assert_each_tick_sent_oldest_first(trigger: Trigger) -> None:
    for t in trigger.ticks:
        keys = [stamp(created, item_id) for item_id, created in t.sent]
        assert keys == sorted(keys)


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    newest_first=st.booleans(),
    emit_existing=st.booleans(),
    before=st.lists(st.floats(0.0, 500.0), max_size=8),
    script=steps,
)
def test_whatever_the_listing_does_no_item_is_sent_twice_and_none_within_reach_is_lost(
    newest_first, emit_existing, before, script
):
    source = Source(newest_first=newest_first)
    for created in before:
        source.add(created)
    trigger = Trigger(PollPolicy(lookback=LOOKBACK, capacity=10_000, page_size=3), emit_existing)
    baseline: set[str] | None = None
    for step in [*script, ("tick", {"page_size": 4, "early_stop": False})]:
        if step[0] != "tick":
            _apply(source, step)
            continue
        state_before = trigger.state
        t = trigger.tick(source, **step[1])
        if state_before is None and trigger.state is not None:
            baseline = {item_id for item_id, _ in t.read}

    sent = trigger.sent
    assert len(sent) == len(set(sent)), "an item was sent twice"
    _assert_each_tick_sent_oldest_first(trigger)
    assert set(sent) <= set(trigger.read_ids()), "an item that was never listed was sent"
    if baseline is not None and not emit_existing:
        assert not set(sent) & baseline, "an item present before the first tick was sent"
    # Still listed at the end and within the look-back of the newest item ever read (the
    # watermark never passes that): it must have come out, whatever happened on the way.
    newest = max((created for t in trigger.ticks for _, created in t.read), default=None)
    within_reach = {
        item_id
        for item_id, (created, _) in source.items.items()
        if (newest is None or created >= newest - LOOKBACK)
        and (emit_existing or item_id not in (baseline or ()))
    }
    assert within_reach <= set(sent), "an item within reach was never sent"


@settings(max_examples=300, deadline=None)
@given(
    newest_first=st.booleans(),
    before=st.lists(st.floats(0.0, 500.0), max_size=6),
    script=st.lists(
        st.one_of(
            add_step,
            late_step,
            delete_step,
            st.tuples(st.just("tick"), st.integers(1, 5)),
            st.tuples(st.just("fail"), st.integers(0, 3)),
        ),
        max_size=40,
    ),
)
def test_every_item_added_within_the_look_back_is_sent_exactly_once(newest_first, before, script):
    source = Source(newest_first=newest_first)
    for created in before:
        source.add(created)
    trigger = Trigger(PollPolicy(lookback=LOOKBACK, capacity=10_000, page_size=2))
    trigger.tick(source, page_size=3)  # the baseline
    # A hand-sorted listing can look newest first by chance: only a sorted one stops early.
    early_stop = newest_first
    added: set[str] = set()
    for kind, value in script:
        if kind == "tick":
            trigger.tick(source, page_size=value, early_stop=early_stop)
        elif kind == "fail":
            trigger.tick(source, page_size=2, early_stop=early_stop, fail_send_at=value)
        else:
            item_id = _apply(source, (kind, value))
            if item_id is not None:
                added.add(item_id)
    trigger.tick(source, page_size=3, early_stop=early_stop)

    sent = trigger.sent
    assert len(sent) == len(set(sent))
    _assert_each_tick_sent_oldest_first(trigger)
    assert set(sent) <= added, "only items added after the baseline are sent"
    assert added & set(source.items) <= set(sent), "an added item still listed was not sent"


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 6),
    newest_first=st.booleans(),
    script=steps,
)
def test_the_ledger_stays_within_its_capacity_and_still_never_repeats(
    capacity, newest_first, script
):
    source = Source(newest_first=newest_first)
    trigger = Trigger(PollPolicy(lookback=LOOKBACK, capacity=capacity, page_size=2))
    for step in [*script, ("tick", {"page_size": 3})]:
        if step[0] == "tick":
            trigger.tick(source, **step[1])
            if trigger.state is not None:
                assert len(trigger.state["ids"]) <= capacity
        else:
            _apply(source, step)
    sent = trigger.sent
    assert len(sent) == len(set(sent))


# -- examples --------------------------------------------------------------------------------


def _policy(**kw: Any) -> PollPolicy:
    return PollPolicy(**{"lookback": LOOKBACK, "capacity": 100, "page_size": 250, **kw})


def test_the_first_tick_records_a_baseline_and_sends_nothing():
    source = Source(newest_first=True)
    for created in (10.0, 20.0, 30.0):
        source.add(created)
    trigger = Trigger(_policy())
    assert trigger.tick(source, page_size=2).sent == []
    assert trigger.state["baselineDone"] is True
    assert trigger.state["watermark"] == 30
    assert sorted(trigger.state["ids"]) == sorted(source.items)


def test_with_emit_existing_the_first_tick_sends_every_item_oldest_first():
    source = Source(newest_first=True)
    ids = [source.add(created) for created in (30.0, 10.0, 20.0, 10.0)]
    trigger = Trigger(_policy(), emit_existing=True)
    sent = trigger.tick(source, page_size=3).sent
    assert [item_id for item_id, _ in sent] == [ids[1], ids[3], ids[2], ids[0]]
    assert trigger.tick(source, page_size=3).sent == []


def test_new_items_are_sent_once_oldest_first_with_ties_broken_by_numeric_id():
    source = Source(newest_first=True)
    source.add(500.0)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=5)
    a = source.add(600.0)  # "99"
    b = source.add(600.0)  # "100": same time, the higher number goes second
    c = source.add(550.0)
    sent = trigger.tick(source, page_size=5).sent
    assert [item_id for item_id, _ in sent] == [c, a, b]
    assert trigger.tick(source, page_size=5).sent == []


def test_a_late_item_within_the_look_back_is_sent_and_one_beyond_it_is_not():
    source = Source(newest_first=True)
    source.add(1_000.0)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=10)
    inside = source.add(1_000.0 - LOOKBACK)  # exactly at the edge: still inside
    outside = source.add(1_000.0 - LOOKBACK - 0.5)
    sent = [item_id for item_id, _ in trigger.tick(source, page_size=10).sent]
    assert sent == [inside]
    assert outside not in sent


def test_a_deleted_item_is_never_sent_and_its_id_is_forgotten_once_out_of_reach():
    source = Source(newest_first=True)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=10)
    first = source.add(1_000.0)
    trigger.tick(source, page_size=10)
    doomed = source.add(1_001.0)
    source.delete(sorted(source.items).index(doomed))
    assert trigger.tick(source, page_size=10).sent == []
    assert first in trigger.state["ids"]
    source.add(1_000.0 + LOOKBACK + 1)  # moves the watermark on: the first one is out of reach
    trigger.tick(source, page_size=10)
    assert first not in trigger.state["ids"]
    assert trigger.state["floor"] == [1_001, ""]


def test_an_item_pushed_onto_the_next_page_while_paging_is_sent_once():
    source = Source(newest_first=True)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=2)
    ids = [source.add(1_000.0 + n) for n in range(4)]
    # after the first page a new item arrives on top: the next page starts with a repeat
    t = trigger.tick(source, page_size=2, shifts=((1, "add", 10),))
    assert [item_id for item_id, _ in t.read].count(ids[2]) == 2
    assert [item_id for item_id, _ in t.sent] == ids
    assert len(trigger.tick(source, page_size=2).sent) == 1  # the one that pushed it


def test_an_item_pulled_onto_a_page_already_read_is_sent_on_the_next_tick():
    source = Source(newest_first=True)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=2)
    ids = [source.add(1_000.0 + n) for n in range(5)]  # listed newest first: 4 3 | 2 1 | 0
    # after the first page the newest is deleted: 2 moves onto page one and is skipped
    newest = sorted(source.items).index(ids[4])
    t = trigger.tick(source, page_size=2, shifts=((1, "delete", newest),))
    assert ids[2] not in [item_id for item_id, _ in t.read]
    assert [i for i, _ in trigger.tick(source, page_size=2).sent] == [ids[2]]


def test_a_restart_continues_from_the_saved_state():
    source = Source(newest_first=False)
    trigger = Trigger(_policy())
    source.add(1.0)
    trigger.tick(source, page_size=1)
    first = source.add(2.0)
    assert [i for i, _ in trigger.tick(source, page_size=1).sent] == [first]
    restarted = Trigger(_policy(), state=json.loads(json.dumps(trigger.state)))
    second = source.add(3.0)
    assert [i for i, _ in restarted.tick(source, page_size=1).sent] == [second]


def test_items_not_sent_because_sending_failed_come_on_the_next_tick_and_sent_ones_do_not():
    source = Source(newest_first=True)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=10)
    ids = [source.add(1_000.0 + n) for n in range(4)]
    assert [i for i, _ in trigger.tick(source, page_size=10, fail_send_at=1).sent] == ids[:1]
    assert [i for i, _ in trigger.tick(source, page_size=10, fail_send_at=0).sent] == []
    assert [i for i, _ in trigger.tick(source, page_size=10).sent] == ids[1:]


def test_a_failed_listing_changes_nothing():
    source = Source(newest_first=True)
    trigger = Trigger(_policy())
    trigger.tick(source, page_size=1)
    saved = trigger.state
    source.add(1_000.0)
    source.add(1_001.0)
    assert not trigger.tick(source, page_size=1, fail_listing_at=1).completed
    assert trigger.state == saved
    assert len(trigger.tick(source, page_size=1).sent) == 2


def test_a_newest_first_listing_stops_after_a_whole_page_out_of_reach():
    source = Source(newest_first=True)
    for n in range(20):
        source.add(float(n))
    trigger = Trigger(_policy(page_size=3))
    trigger.tick(source, page_size=3)
    source.add(19.0 + LOOKBACK + 5)  # moves the watermark: everything older is out of reach
    assert len(trigger.tick(source, page_size=3).read) == 21
    new = source.add(19.0 + LOOKBACK + 6)
    t = trigger.tick(source, page_size=3)
    assert [i for i, _ in t.sent] == [new]
    assert len(t.read) == 6  # the page with the new items, then one page out of reach


@pytest.mark.parametrize(
    "early_stop", [True, False], ids=["early stop allowed", "full listing asked for"]
)
def test_a_listing_not_in_newest_first_order_is_read_to_its_end(early_stop):
    source = Source(newest_first=True)
    for n in range(20):
        source.add(float(n))
    trigger = Trigger(_policy(page_size=3))
    trigger.tick(source, page_size=3)
    source.add(19.0 + LOOKBACK + 5)
    trigger.tick(source, page_size=3)
    new = source.add(19.0 + LOOKBACK + 6)
    source.newest_first = False  # the same items in a hand-made order
    t = trigger.tick(source, page_size=3, early_stop=early_stop)
    assert [i for i, _ in t.sent] == [new]
    assert len(t.read) == 22


def test_the_state_survives_json_and_keeps_whole_numbers_whole():
    state = LedgerState(
        baseline_done=True,
        watermark=1_700_000_000.0,
        floor=stamp(1_699_913_600.5, ""),
        ledger={"12": 1_700_000_000.0, "9": 1_699_999_999.25},
    )
    data = state.to_json()
    assert data == {
        "v": 1,
        "baselineDone": True,
        "watermark": 1_700_000_000,
        "floor": [1_699_913_600.5, ""],
        "ids": ["9", "12"],
        "times": [1_699_999_999.25, 1_700_000_000],
    }
    assert LedgerState.from_json(json.loads(json.dumps(data))) == state
    assert LedgerState.from_json(None) == LedgerState()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"v": 7}, "not version 1"),
        ("ledger", "not version 1"),
        ({"v": 1, "baselineDone": True}, "damaged"),
        (
            {
                "v": 1,
                "baselineDone": True,
                "watermark": 1,
                "floor": None,
                "ids": ["1"],
                "times": [],
            },
            "damaged",
        ),
    ],
    ids=["other version", "not an object", "keys missing", "ids without times"],
)
def test_a_state_that_cannot_be_read_is_refused_with_a_clear_error(data, message):
    with pytest.raises(ValueError, match=message):
        LedgerState.from_json(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T12:00:00", datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp()),
        ("2024-03-01T12:00:00Z", datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp()),
        ("2024-03-01T13:00:00+01:00", datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp()),
        (
            datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=-2))),
            datetime(2024, 3, 1, 14, tzinfo=UTC).timestamp(),
        ),
        (1_709_294_400, 1_709_294_400.0),
        (1_709_294_400.5, 1_709_294_400.5),
        ("yesterday", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        ({"at": 1}, None),
    ],
    ids=[
        "naive is UTC",
        "Z suffix",
        "offset",
        "datetime",
        "epoch seconds",
        "fractional epoch seconds",
        "unreadable",
        "absent",
        "true/false",
        "not a number",
        "an object",
    ],
)
def test_created_at_is_read_as_unix_seconds(value, expected):
    assert epoch_seconds(value) == expected


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"lookback": -1}, "lookback"),
        ({"capacity": 0}, "capacity"),
        ({"page_size": 0}, "page_size"),
    ],
    ids=["negative look-back", "empty ledger", "empty page"],
)
def test_a_policy_that_cannot_work_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        PollPolicy(**kw)
