"""The ledger behind polling triggers: which listed items are new, each emitted once.

A service without webhooks is watched by listing its items on every tick and diffing them
against what was seen before; the order of a listing is often not promised. The state of one
trigger is one JSON value (saved in one write, so it is never half updated):

``baselineDone``
    whether the first listing has been recorded. The first tick records every listed item and
    emits nothing (or, with ``emitExisting``, emits them all).
``watermark``
    the newest ``created_at`` of any item recorded so far.
``floor``
    ``[created_at, id]``: items at or below it (ordered by created_at, then id) are out of
    reach and never emitted. It rises to ``watermark - lookback`` after every tick, and past
    the entries the ledger drops when it is full.
``ids`` / ``times``
    the ledger: ids of the items recorded above the floor and their ``created_at`` (at most
    ``capacity`` of them, the newest kept).

An item is *new* when its id is not in the ledger and it lies above the cutoff, the higher of
the floor and ``watermark - lookback`` (the watermark as the tick found it). So an item that shows
up late (listed only after newer ones were seen) is still emitted once, as long as its
``created_at`` is within the look-back of the watermark; a deleted item simply stops being listed;
an item seen twice in one listing (a new item pushed it onto the next page) counts once, and one
skipped (a deletion pulled it onto a page already read) is found on the next tick. Ids leave the
ledger only when they fall to or below the floor, which never sinks, so an emitted item can
never become new again. Not emitted, by design: a late item already out of the look-back and,
once the ledger has been full, a late item older than the last id it dropped. An item without
``created_at`` counts as created at the Unix epoch.

New items are handed out oldest first (created_at, then id). The caller sends each one and then
saves :meth:`Scan.state_after` with the number it sent: the state only ever records items that
were handed to the engine, so after a failure the next tick finds the rest again: none is lost.

Paging may stop early, before the end of the listing, only when everything read so far came
newest first and the last whole page lies at or below the cutoff: then the rest is older still.
A listing seen in any other order (a list a person sorts by hand) is read to the end. Callers
can ask for a full listing now and then (``early_stop=False``) in case a listing only looked
sorted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: ``(created_at, len(id), id)``: orders items by time, then decimal ids numerically.
Stamp = tuple[float, int, str]

STATE_VERSION = 1


def stamp(created_at: float, item_id: str) -> Stamp:
    """The ordering key of an item."""
    return (created_at, len(item_id), item_id)


def epoch_seconds(value: object) -> float | None:
    """``created_at`` as Unix seconds: a datetime or an ISO-8601 string (naive means UTC), or
    already a number of seconds; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How far back late items are still emitted, how many ids are kept, the page length.

    ``lookback`` is in seconds of ``created_at`` behind the newest item seen. ``page_size`` is
    the length of the pages early stopping looks at (the listing's own page length is best).
    """

    lookback: float = 86_400.0
    capacity: int = 5_000
    page_size: int = 250

    def __post_init__(self) -> None:
        if self.lookback < 0:
            raise ValueError(f"lookback must not be negative, not {self.lookback}")
        if self.capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {self.capacity}")
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {self.page_size}")


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What one trigger remembers between ticks (see the module docstring)."""

    baseline_done: bool = False
    watermark: float | None = None
    floor: Stamp | None = None
    ledger: Mapping[str, float] = field(default_factory=dict)

    def cutoff(self, lookback: float) -> Stamp | None:
        """Items at or below this stamp are not new; ``None`` when nothing is out of reach."""
        if self.watermark is None:
            return self.floor
        by_time = stamp(self.watermark - lookback, "")
        return by_time if self.floor is None else max(self.floor, by_time)

    def to_json(self) -> dict[str, Any]:
        """The state as JSON data (what :meth:`from_json` reads back)."""
        ordered = sorted(self.ledger.items(), key=lambda entry: stamp(entry[1], entry[0]))
        return {
            "v": STATE_VERSION,
            "baselineDone": self.baseline_done,
            "watermark": _number(self.watermark),
            "floor": None if self.floor is None else [_number(self.floor[0]), self.floor[2]],
            "ids": [item_id for item_id, _ in ordered],
            "times": [_number(created) for _, created in ordered],
        }

    @classmethod
    def from_json(cls, data: Any) -> LedgerState:
        """Read a state saved by :meth:`to_json`; ``None`` is the state before the first tick."""
        if data is None:
            return cls()
        if not isinstance(data, dict) or data.get("v") != STATE_VERSION:
            raise ValueError(
                f"the saved polling state is not version {STATE_VERSION} state; delete the"
                " component's state to start over with a new baseline"
            )
        try:
            floor = data["floor"]
            ids, times = data["ids"], data["times"]
            if len(ids) != len(times):
                raise ValueError("ids and times differ in length")
            return cls(
                baseline_done=bool(data["baselineDone"]),
                watermark=None if data["watermark"] is None else float(data["watermark"]),
                floor=None if floor is None else stamp(float(floor[0]), str(floor[1])),
                ledger={str(i): float(t) for i, t in zip(ids, times, strict=True)},
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the saved polling state is damaged ({exc})") from exc


def _number(value: float | None) -> float | int | None:
    return int(value) if value is not None and value.is_integer() else value


class Scan(Generic[T]):
    """One tick's pass over a listing: feed it every item with :meth:`add`, in listing order.

    With ``emit_existing`` the first listing's items are all new; otherwise they are only
    recorded. ``early_stop=False`` reads the listing to its end whatever its order.
    """

    def __init__(
        self,
        state: LedgerState,
        policy: PollPolicy,
        *,
        emit_existing: bool = False,
        early_stop: bool = True,
    ) -> None:
        self._state = state
        self._policy = policy
        self._baseline = not state.baseline_done
        self._emit_all = self._baseline and emit_existing
        self._cutoff = state.cutoff(policy.lookback)
        self._early_stop = early_stop and not self._baseline
        self._seen: set[str] = set()
        self._fresh: list[tuple[Stamp, T]] = []
        self._recorded: list[Stamp] = []  # baseline items that are recorded without being sent
        self._count = 0
        self._previous: float | None = None
        self._newest_first = True
        self._page_out_of_reach = True
        self._sorted = True

    def add(self, item_id: str, created_at: float | None, item: T) -> bool:
        """Take the next listed item; ``False`` once the rest of the listing can be skipped."""
        created = 0.0 if created_at is None else created_at
        if self._previous is not None and created > self._previous:
            self._newest_first = False
        self._previous = created
        key = stamp(created, item_id)
        cutoff = self._cutoff
        out_of_reach = cutoff is not None and key <= cutoff
        self._page_out_of_reach = self._page_out_of_reach and out_of_reach
        if item_id not in self._seen:
            self._seen.add(item_id)
            self._take(key, item, out_of_reach)
        self._count += 1
        if self._count % self._policy.page_size:
            return True
        page_was_old, self._page_out_of_reach = self._page_out_of_reach, True
        return not (self._early_stop and self._newest_first and page_was_old)

    def _take(self, key: Stamp, item: T, out_of_reach: bool) -> None:
        if self._emit_all:
            self._fresh.append((key, item))
            self._sorted = False
        elif self._baseline:
            self._recorded.append(key)
        elif not out_of_reach and key[2] not in self._state.ledger:
            self._fresh.append((key, item))
            self._sorted = False

    def new_items(self) -> list[T]:
        """The new items, oldest first (created_at, then id)."""
        if not self._sorted:
            self._fresh.sort(key=lambda entry: entry[0])
            self._sorted = True
        return [item for _, item in self._fresh]

    def state_after(self, handed: int) -> LedgerState:
        """The state to save once the first ``handed`` of :meth:`new_items` were sent."""
        self.new_items()  # sorts, so the first ``handed`` are the oldest
        added = self._recorded + [key for key, _ in self._fresh[:handed]]
        state = self._state
        watermark = state.watermark
        if added:
            newest = max(key[0] for key in added)
            watermark = newest if watermark is None else max(watermark, newest)
        ledger = dict(state.ledger)
        ledger.update((key[2], key[0]) for key in added)
        floor = LedgerState(watermark=watermark, floor=state.floor).cutoff(self._policy.lookback)
        return _bounded(watermark, floor, ledger, self._policy.capacity)


def _bounded(
    watermark: float | None, floor: Stamp | None, ledger: dict[str, float], capacity: int
) -> LedgerState:
    """The state with the ledger cut to entries above ``floor``, at most ``capacity`` of them."""
    entries = sorted(stamp(created, item_id) for item_id, created in ledger.items())
    if floor is not None:
        entries = [key for key in entries if key > floor]
    if len(entries) > capacity:
        # the newest entry dropped becomes the floor, so nothing dropped can come back as new
        floor = entries[-capacity - 1]
        entries = entries[-capacity:]
    return LedgerState(
        baseline_done=True,
        watermark=watermark,
        floor=floor,
        ledger={key[2]: key[0] for key in entries},
    )
