"""The effects ledger: an effect that must not happen twice, recorded around each attempt.

Delivery is at least once, so a component whose handler creates something (a Pin, a board)
may be called again for the same message: after a failure that left it unknown whether the
request took effect, or after a crash between the effect and the acknowledgement. For APIs
without idempotency keys, the ledger lets such a component tell the cases apart. An effect is
named by the flow, the component, the event's correlation id and a digest of the component's
input (one event may bring several different inputs to a component, each its own effect; the
same input under the same event is the same effect). A component uses it like this::

    effect = await context.effects.begin(context.correlation_id, context.message)
    if effect.done:                  # made before (e.g. crash before the ack): send it again
        return await context.send(effect.result)
    if effect.uncertain:             # an earlier attempt may have made it: look it up first
        ...                          # reuse what is found: await effect.complete(found, ref=id)
    await effect.sending()           # just before the request
    try:
        made = await create()
    except Exception as exc:
        if <exc proves nothing was made>:
            await effect.sent_nothing()
        raise                        # (or look it up at once, see below)
    finally:
        effect.landed()              # the request is over, whatever its outcome
    await effect.complete(made, ref=made["id"])

A lookup that read everything the effect could have made and found nothing records
:meth:`Effect.found_nothing`: the next attempt creates without looking again. While an effect of
the same input (another event's) is being sent in this process, a lookup cannot tell its object
from the one looked for: :attr:`Effect.twin_in_flight` says so.

Records live in the store (:class:`~runtime.stores.base.EffectStore`), reached through
:class:`~runtime.effect_writes.EffectWrites` (a durable broker in the store's database queues
the calls with its own commits: ``Broker.effect_writes``), and are pruned when
older than ``retention`` (7 days by default; uncertain ones after 90 days, so that a dead
letter of one retried within that time still looks before it creates): the first ``begin`` of
each ledger prunes, and again at most once an hour. A redelivery later than that is a new
effect. Components that never
call ``begin`` cost nothing: the ledger does no I/O until then.

**One sender per attempt.** Two deliveries of the same message may run at once, in two
processes sharing a database (or one process and the run before its restart): each attempt is
claimed in the store (``EffectStore.claim_effect``, atomic on every backend) before it is sent,
so of two deliveries one sends and the other raises :class:`EffectClaimedError` (a deferral:
it comes back without using an attempt). A delivery that finds an attempt claimed less than
:data:`SETTLE` seconds ago by another delivery waits, for at most that long, for its outcome
(done: it sends the recorded result; sent nothing: it claims the next attempt) before it
treats the effect as uncertain and looks for what it made. Two deliveries may also run at once
in one process (a dead letter retried while its message is still queued, a hop redelivered
after a restart next to its restored copy): one that finds the effect being sent by the other
waits for its outcome the same way, a lookup never proves an effect absent while the other
still sends it, and :meth:`Effect.found_nothing` never overwrites what the other recorded
meanwhile (it defers instead).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Final

from runtime.effect_writes import EffectWrites
from runtime.errors import DeferError, EngineError
from runtime.stores.base import EffectRecord

if TYPE_CHECKING:
    from runtime.stores.base import EffectStore

RETENTION: Final = 7 * 86_400.0
"""Seconds an effect's record is kept after its last change (7 days)."""

UNCERTAIN_RETENTION: Final = 90 * 86_400.0
"""Seconds an uncertain effect's record is kept after its last change (90 days)."""

PRUNE_INTERVAL: Final = 3_600.0
"""Seconds between two prunings by one ledger."""

SETTLE: Final = 5.0
"""Seconds after another delivery's last write of an uncertain effect during which a delivery
waits for its outcome rather than looking for what it made: its request may be in flight, and
a lookup that misses the object would make a second one."""

OWN_WRITES: Final = 4_096
"""The most effects whose last write a ledger remembers as its own (the oldest are forgotten)."""

_Name = tuple[str, str]  # (correlation id, digest) within one ledger


class EffectClaimedError(DeferError):
    """Another delivery of this message claimed this attempt first: this one sent nothing and
    comes back (without using an attempt) to find that delivery's outcome."""


def input_digest(payload: Any) -> str:
    """A digest of ``payload`` as canonical JSON (sorted keys): equal data, equal digest."""
    try:
        text = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise EngineError(f"an effect's input must be JSON data: {exc}") from exc
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Effect:
    """One attempt at an effect, as :meth:`EffectLedger.begin` found it.

    ``done`` and ``result``: an earlier attempt completed it (send ``result``, call nothing).
    ``uncertain``: an earlier attempt may have taken effect without its answer being known
    (look for what it made before making it again). ``sent_before`` counts the times earlier
    attempts sent it, ``first_sent_at`` is when it was first sent (epoch seconds, None: never),
    ``notes`` what earlier attempts noted of their progress.
    """

    __slots__ = (
        "_before",
        "_clock",
        "_flying",
        "_in_flight",
        "_own",
        "_record",
        "_sending",
        "_stored",
        "_writes",
        "adoption",
        "sent_before",
    )

    def __init__(
        self,
        writes: EffectWrites,
        record: EffectRecord,
        clock: Callable[[], float],
        adoption: asyncio.Lock | None = None,
        flying: Counter[str] | None = None,
        own: dict[_Name, float] | None = None,
        sending: Counter[_Name] | None = None,
        *,
        stored: bool = True,
    ) -> None:
        self._writes = writes
        self._record = record
        self._stored = stored  # False: begin found no record (a note then only inserts one)
        self._own: dict[_Name, float] = {} if own is None else own
        self._clock = clock
        self._before = record  # as the attempt found it: what sent_nothing goes back to
        self._flying: Counter[str] = Counter() if flying is None else flying
        self._sending: Counter[_Name] = Counter() if sending is None else sending
        self._in_flight = False
        self.sent_before = record.attempts
        #: Held while adopting an object (one at a time per component).
        self.adoption = adoption or asyncio.Lock()

    @property
    def done(self) -> bool:
        return self._record.done

    @property
    def result(self) -> Any:
        """The recorded result of a completed effect, else None."""
        return self._record.result

    @property
    def ref(self) -> str | None:
        """What names the object a completed effect made (None: not recorded)."""
        return self._record.ref

    @property
    def uncertain(self) -> bool:
        return self._before.uncertain

    @property
    def first_sent_at(self) -> float | None:
        return self._record.first_sent_at

    @property
    def notes(self) -> dict[str, Any]:
        return dict(self._record.notes)

    @property
    def twin_in_flight(self) -> bool:
        """Whether another effect of this component with the same input (another event's) is
        being sent now, in this process: what it makes cannot yet be told from this one's."""
        own = 1 if self._in_flight else 0
        return self._flying[self._record.digest] > own

    @property
    def sent_by_another(self) -> bool:
        """Whether another delivery of this very message is sending this effect now, in this
        process: until it lands, a lookup cannot prove that nothing was made."""
        own = 1 if self._in_flight else 0
        record = self._record
        return self._sending[(record.correlation_id, record.digest)] > own

    async def _save(self, record: EffectRecord) -> None:
        await self._writes.put(record)
        self._kept(record)

    def _kept(self, record: EffectRecord) -> None:
        # Remembered as this process's own write, so that its next delivery does not wait
        # for an outcome it knows already (see EffectLedger.begin).
        self._record, self._stored = record, True
        name = (record.correlation_id, record.digest)
        self._own.pop(name, None)
        if record.uncertain and not record.done:
            self._own[name] = record.updated_at
            if len(self._own) > OWN_WRITES:
                del self._own[next(iter(self._own))]

    async def sending(self) -> None:
        """Claim the attempt and record that its request is about to be sent: until
        :meth:`complete` or :meth:`sent_nothing`, the effect counts as uncertain (also across
        a crash). Raises :class:`EffectClaimedError` when another delivery of the message
        claimed it first: then send nothing."""
        if self.done:
            raise EngineError("this effect is already complete; send its result instead")
        now = self._clock()
        record = self._record
        first = now if record.first_sent_at is None else record.first_sent_at
        claim = record.changed(
            updated_at=now,
            attempts=record.attempts + 1,
            first_sent_at=first,
            uncertain=True,
        )
        if not await self._writes.claim(claim):
            raise EffectClaimedError(
                "another delivery of this message is sending this effect; waiting for its outcome",
                delay=0.0,
            )
        self._kept(claim)
        if not self._in_flight:
            self._in_flight = True
            self._flying[record.digest] += 1
            self._sending[(record.correlation_id, record.digest)] += 1

    def landed(self) -> None:
        """Note that the request :meth:`sending` announced is over (answered or failed);
        recording its outcome (:meth:`complete`, :meth:`sent_nothing`) implies it."""
        if self._in_flight:
            self._in_flight = False
            digest = self._record.digest
            self._flying[digest] -= 1
            if self._flying[digest] <= 0:
                del self._flying[digest]
            name = (self._record.correlation_id, digest)
            self._sending[name] -= 1
            if self._sending[name] <= 0:
                del self._sending[name]

    async def _unchanged(self) -> bool:
        """Whether the kept record is still the one this delivery last read or wrote; if
        another delivery of the message wrote it since, this one now holds that record."""
        record = self._record
        if not self._stored:
            return True
        name = (record.flow_id, record.component_id, record.correlation_id, record.digest)
        kept = await self._writes.get(name)
        if kept is None or kept == record:
            return True
        self._record = self._before = kept
        return False

    async def completed_elsewhere(self) -> bool:
        """Whether another delivery of this message completed the effect since this one read
        it (then :attr:`done` and :attr:`result` are that delivery's)."""
        return not await self._unchanged() and self.done

    async def found_nothing(self) -> None:
        """Record that a lookup covering everything since the first attempt found nothing this
        effect made: it is no longer uncertain (the time of the first send is kept).

        Raises :class:`EffectClaimedError` when another delivery of the message wrote the
        effect since this one read it (it may be sending it, or have made it): the message
        comes back to find that delivery's outcome, and nothing is overwritten."""
        if not await self._unchanged():
            raise EffectClaimedError(
                "another delivery of this message wrote this effect while it was looked up;"
                " coming back for its outcome",
                delay=0.0,
            )
        record = self._record.changed(updated_at=self._clock(), uncertain=False)
        await self._save(record)
        self._before = record

    async def sent_nothing(self) -> None:
        """Record that this attempt surely had no effect (e.g. the API refused it): the count
        of sends and the time of the first go back to what they were (notes are kept)."""
        self.landed()
        before = self._before
        record = self._record.changed(
            updated_at=self._clock(),
            uncertain=before.uncertain,
            attempts=before.attempts,
            first_sent_at=before.first_sent_at,
        )
        await self._save(record)

    async def note(self, **progress: Any) -> None:
        """Keep ``progress`` (JSON data) for later attempts, e.g. an uploaded file's id.

        Kept only for this attempt when another delivery wrote the effect since this one read
        it (a plain write would undo that delivery's claim)."""
        record = self._record
        noted = record.changed(updated_at=self._clock(), notes={**record.notes, **progress})
        if not self._stored:  # inserted only while no record exists: atomic on every store
            if await self._writes.claim(noted):
                self._kept(noted)
                return
        else:
            name = (record.flow_id, record.component_id, record.correlation_id, record.digest)
            if await self._writes.get(name) == record:
                await self._save(noted)
                return
        self._record = noted

    async def complete(self, result: Any, *, ref: str | None = None) -> None:
        """Record the effect as done with ``result`` (JSON data, what later attempts send);
        ``ref`` names the object made, so lookups of other effects never adopt it.

        Committed no later than the acknowledgement of the message being handled (with a
        durable broker in the store's database, in the same transaction or an earlier one),
        not necessarily when this returns: a crash before that commit loses the ack too."""
        self.landed()
        now = self._clock()
        record = self._record.changed(
            updated_at=now, completed_at=now, uncertain=False, result=result, ref=ref
        )
        await self._writes.put_before_ack(record)
        self._kept(record)

    async def claimed(self, refs: Collection[str]) -> set[str]:
        """Those of ``refs`` that completed effects made (not to be adopted by this one)."""
        return await self._writes.claimed(refs) if refs else set()


class EffectLedger:
    """The effects of one component of one flow (``Context.effects``); ``writes`` reaches
    the records (None: straight to ``store``, which prunes them)."""

    __slots__ = (
        "_adoption",
        "_clock",
        "_component_id",
        "_flow_id",
        "_flying",
        "_next_prune",
        "_own",
        "_retention",
        "_sending",
        "_settle",
        "_store",
        "_writes",
    )

    def __init__(
        self,
        store: EffectStore,
        flow_id: str,
        component_id: str,
        *,
        retention: float = RETENTION,
        settle: float = SETTLE,
        clock: Callable[[], float] = time.time,
        writes: EffectWrites | None = None,
    ) -> None:
        if retention <= 0:
            raise ValueError(f"retention must be a positive number of seconds, got {retention}")
        if settle < 0:
            raise ValueError(f"settle must not be negative, got {settle}")
        self._store = store
        # How records are read and written: straight to the store unless the broker queues
        # them with its own commits (Broker.effect_writes).
        self._writes = EffectWrites(store) if writes is None else writes
        self._flow_id = flow_id
        self._component_id = component_id
        self._retention = retention
        self._settle = settle
        self._clock = clock
        self._next_prune = 0.0
        self._adoption: asyncio.Lock | None = None  # made on first use, inside the loop
        self._flying: Counter[str] = Counter()  # digests of the effects being sent now
        self._own: dict[_Name, float] = {}  # the time of this ledger's last write, per effect
        self._sending: Counter[_Name] = Counter()  # the effects being sent now, in this process

    async def begin(self, correlation_id: str | None, payload: Any) -> Effect:
        """The effect of ``payload`` under event ``correlation_id``: new, uncertain or done.

        An uncertain effect another delivery wrote less than ``settle`` seconds ago is waited
        for (at most that long): its request may still be in flight."""
        if correlation_id is None:
            raise EngineError("an effect belongs to an event: call begin while handling one")
        now = self._clock()
        if now >= self._next_prune:
            await self.prune()
        digest = input_digest(payload)
        name = (self._flow_id, self._component_id, correlation_id, digest)
        record = await self._writes.get(name)
        if record is not None and (self._sent_here(record) or self._elsewhere(record)):
            record = await self._outcome(name, record)
        stored = record is not None
        if record is None:
            record = EffectRecord(*name, self._clock())
        if self._adoption is None:
            self._adoption = asyncio.Lock()
        return Effect(
            self._writes,
            record,
            self._clock,
            self._adoption,
            self._flying,
            self._own,
            self._sending,
            stored=stored,
        )

    def _sent_here(self, record: EffectRecord) -> bool:
        """Whether another delivery in this process is sending ``record``'s effect now."""
        return (record.correlation_id, record.digest) in self._sending

    def _elsewhere(self, record: EffectRecord) -> bool:
        """Whether ``record`` may be an attempt another delivery is sending now."""
        if not record.uncertain or record.done:
            return False
        if self._own.get((record.correlation_id, record.digest)) == record.updated_at:
            return False
        return self._clock() - record.updated_at < self._settle

    async def _outcome(
        self, name: tuple[str, str, str, str], record: EffectRecord | None
    ) -> EffectRecord | None:
        """``record`` once its sender recorded an outcome, or as it is after ``settle`` s."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._settle
        pause = 0.02
        while record is not None and (self._sent_here(record) or self._elsewhere(record)):
            left = give_up - loop.time()
            if left <= 0:
                break
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.5)
            record = await self._writes.get(name)
        return record

    async def prune(self) -> int:
        """Forget every record (of any flow) unchanged for ``retention`` seconds; an uncertain
        one (its dead letter may be retried: the retry must look before it creates) only after
        :data:`UNCERTAIN_RETENTION`, or ``retention`` if that is longer."""
        now = self._clock()
        self._next_prune = now + PRUNE_INTERVAL
        kept = max(self._retention, UNCERTAIN_RETENTION)
        return await self._store.prune_effects(now - self._retention, uncertain_before=now - kept)
