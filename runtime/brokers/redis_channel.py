"""One component's input on Redis Streams (see :mod:`runtime.brokers.redis`).

``get`` reads the stream through the component's consumer group (``XREADGROUP ... BLOCK``),
as many entries as workers wait; before a read it moves due retries into the stream and, now
and then, claims entries that another consumer left idle past the visibility timeout
(``XAUTOCLAIM``). A delivered entry stays pending for this consumer until its settlement
(:mod:`runtime.brokers.redis_hop`) acknowledges and deletes it in the same script that
publishes what the handler sent.

The bound counts what Redis holds for the component and no consumer has taken (stream entries
not pending, delayed retries, parked messages) plus the sends this process holds in open hops.
``put`` waits (polling, and woken by this process's own reads) while it is full; nothing is ever
trimmed. ``depth`` is the count last seen in Redis, kept current by this process's own moves;
``reported_depth`` (``/metrics``) is the whole cluster's, read every second while it is read.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from runtime.brokers import redelivery
from runtime.brokers import redis_held as held
from runtime.brokers import redis_letters as letters
from runtime.brokers import redis_scripts as scripts
from runtime.brokers.base import Channel
from runtime.brokers.redis_hop import CURRENT, Hop
from runtime.brokers.redis_link import cancel_pending
from runtime.brokers.waiters import Waiters, wait, wake_next
from runtime.redaction import redact_text
from runtime.stores import codec
from runtime.stores.base import DeadLetter

if TYPE_CHECKING:
    from runtime.brokers.redis_link import Link
    from runtime.brokers.redis_outbox import Outbox
    from runtime.envelope import Envelope
    from runtime.stores.base import IdempotencyKey, Store

LOOK_EVERY = 0.5  # seconds between looks at the counts (and due retries) while reading
BLOCK_MS = 1000  # the longest blocking read
ROOM_POLL = (0.02, 0.5)  # the first and the longest wait for room made by other processes


class RedisChannel(Channel):
    """The input of one component of one flow, on Redis Streams."""

    def __init__(
        self,
        link: Link,
        outbox: Outbox,
        store: object,
        flow_id: str,
        component_id: str,
        maxsize: int,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.flow_id = flow_id
        self.component_id = component_id
        self.keys = scripts.channel_keys(flow_id, component_id)
        self.group = component_id
        self._link = link
        self._outbox = outbox
        self._store = store
        self._maxsize = maxsize
        self._ready: collections.deque[tuple[str, Envelope]] = collections.deque()
        self._taken: dict[Envelope, str] = {}  # handed out, not settled -> its entry id
        self.held_ids: set[str] = set()  # entries pending for this consumer and held here
        self._putters: Waiters = collections.deque()
        self._reserved = 0  # sends held in open hops: the bound counts them
        self._held = 0  # the bound's count last seen in Redis (or moved since)
        self._depth = 0  # stream entries and delayed retries last seen (or moved since)
        self._look_at = 0.0  # monotonic time of the next look at the counts and due retries
        self.claim_at = 0.0  # monotonic time of the next claim of abandoned entries
        self.claim_from = "0-0"
        self._reading = asyncio.Lock()
        self._wanting = 0  # workers waiting in get
        self._group_made = False
        self.cluster_depth: int | None = None  # read by the broker's watch
        self.restored = False
        self.closed = False

    # -- in ----------------------------------------------------------------------------------

    async def put(self, envelope: Envelope) -> None:
        hop = CURRENT.get()
        text = codec.encode_envelope(envelope)
        if hop is not None and hop.open and hop.channel._link is self._link:
            await self.wait_for_room()
            self._reserved += 1
            hop.sends.append((self, text))
            return
        await self._publish(envelope, text)

    async def _publish(self, envelope: Envelope, text: str) -> None:
        await self._make_group()
        stream, delayed, parked, _ = self.keys
        # A dead letter's retry is marked apart from the envelope's first put (same id).
        letter = redelivery.LETTER.get()
        mark = envelope.id if letter is None else f"{envelope.id}:retry:{letter}"
        keys = [stream, delayed, parked, scripts.sent_key(self.flow_id, mark)]
        while True:
            args = [self.group, self._reserved, text, scripts.PUT_TTL, self._maxsize]
            added = await self._link.script(self._link.put_script, keys, args)
            if not isinstance(added, int):  # the new entry's id, or 'dup'
                self._held += 1
                self._depth += 1
                return
            self._held = added  # full: the count the script saw
            await self._wait_for_others()

    async def admit(
        self,
        envelope: Envelope,
        wait: float | None,
        *,
        key: IdempotencyKey | None = None,
        store: Store | None = None,
    ) -> bool:
        """With an idempotency ``key`` for the broker's store, the event and its key commit in
        the store first and are relayed (:mod:`runtime.brokers.redis_outbox`). A Redis server
        out of reach for the whole ``wait`` raises
        :class:`~runtime.errors.BrokerUnavailableError` (an event committed in the store by
        then is relayed by the outbox's sweep)."""
        with self._link.patience(wait):  # a server away for the whole wait: refused
            if key is None or store is not self._store:
                return await super().admit(envelope, wait, key=key, store=store)
            try:
                async with asyncio.timeout(wait):
                    await self.wait_for_room()
            except TimeoutError:
                return False
            await self._make_group()
            await self._outbox.admit_event(envelope, key)
        self._held += 1
        self._depth += 1
        return True

    async def wait_for_room(self) -> None:
        while not self._has_room():
            await self._wait_for_others()

    def _has_room(self) -> bool:
        return self._held + self._reserved < self._maxsize

    async def _wait_for_others(self) -> None:
        """Wait for a read here (it counts the room it made) or, failing one, a while, then
        look again (reads elsewhere are not told). A wake-up costs no round trip: putters
        woken one after another each looking in turn made a look per publish under load."""
        wait_for = ROOM_POLL[0] if not self._putters else ROOM_POLL[1]
        try:
            async with asyncio.timeout(wait_for):
                await wait(self._putters, self._has_room)
        except TimeoutError:
            await self._look()

    # -- out ---------------------------------------------------------------------------------

    def get_nowait(self) -> Envelope | None:
        if not self._ready or self.closed:
            return None
        entry, envelope = self._ready.popleft()
        self._taken[envelope] = entry
        CURRENT.set(Hop(self, envelope))
        return envelope

    async def get(self) -> Envelope:
        self._wanting += 1
        try:
            while True:
                envelope = self.get_nowait()
                if envelope is not None:
                    return envelope
                if self.closed:  # stopping: nothing more is handed out
                    await asyncio.get_running_loop().create_future()
                if cancel_pending():  # a cancel the client swallowed in a read
                    raise asyncio.CancelledError
                async with self._reading:
                    if not self._ready and not self.closed:
                        await self._fetch()
        finally:
            self._wanting -= 1

    async def _fetch(self) -> None:
        link = self._link
        try:
            await self._make_group()
            now = time.monotonic()
            if now >= self._look_at:
                await self._look()
            if now >= self.claim_at:
                self.claim_at = now + min(link.visibility_ms / 4000, 5.0)
                if await held.claim(self):
                    return
            until = min(self._look_at, self.claim_at) - time.monotonic()
            block = max(1, min(BLOCK_MS, int(until * 1000)))
            reply = await link.client.xreadgroup(
                self.group,
                link.consumer,
                {self.keys[0]: ">"},
                count=max(1, self._wanting),
                block=block,
            )
        except Exception as exc:
            if cancel_pending():  # a cancelled read may surface as a lost connection
                raise asyncio.CancelledError from exc
            if link.gone(exc):
                await link.run(link.client.ping)  # wait for the server
                return
            if "NOGROUP" in str(exc):  # the flow's messages were deleted meanwhile
                self._group_made = False
                return
            raise
        for _, entries in held.streams(reply):
            self.take_in(entries, read=True)

    def take_in(self, entries: Any, *, read: bool) -> bool:
        """Queue in ``ready`` the entries read (or claimed) for this consumer; whether any."""
        took = 0
        for entry, fields in entries:
            if entry in self.held_ids or not fields:
                continue
            # A read in a script answers the fields as a list: ['e', envelope].
            text = fields[scripts.ENTRY_FIELD] if isinstance(fields, dict) else fields[1]
            envelope = codec.decode_envelope(text)
            self.held_ids.add(entry)
            self._ready.append((entry, envelope))
            took += 1
            if read:
                self._held = max(0, self._held - 1)
        # A read of n entries made n places: as many putters go on (a claim made none, but
        # its putter looks again).
        for _ in range(min(took, len(self._putters))):
            wake_next(self._putters)
        return took > 0

    async def _look(self) -> None:
        """Move due retries into the stream and read the counts."""
        stream, delayed, parked, _ = self.keys
        args = [self.group, int(time.time() * 1000), 1000]
        held, depth, next_due = await self._link.script(
            self._link.promote, [stream, delayed, parked], args
        )
        self._held, self._depth = int(held), int(depth)
        now = time.monotonic()
        self._look_at = now + LOOK_EVERY
        if next_due >= 0:
            self._look_at = min(self._look_at, now + max(0.0, next_due / 1000 - time.time()))
        if self._putters and self._has_room():
            wake_next(self._putters)

    async def _make_group(self) -> None:
        if self._group_made:
            return
        try:
            await self._link.run(
                lambda: self._link.client.xgroup_create(
                    self.keys[0], self.group, "0", mkstream=True
                )
            )
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_made = True

    # -- settling ----------------------------------------------------------------------------

    async def _settle(self, envelope: Envelope, outcome: str, field: Any, value: str) -> bool:
        entry = self._taken.get(envelope, "")
        hop = CURRENT.get()
        sends = hop.close() if hop is not None and hop.envelope is envelope else []
        link = self._link
        keys = [*self.keys, *(target.keys[0] for target, _ in sends)]
        # The settling worker comes back for a message next: one comes with the answer when
        # none is ready here (a read of its own would cost a round trip per message).
        read_next = 0 if self._ready or self.closed else 1
        args = [self.group, link.consumer, entry, outcome, field, value, read_next]
        args.extend(text for _, text in sends)
        try:
            done = await link.script(link.settle_script, keys, args)
        finally:
            for target, _ in sends:
                target._reserved -= 1
        self._taken.pop(envelope, None)
        self.held_ids.discard(entry)
        if done:
            self.take_in(done[1], read=True)
        else:
            link.logger.warning(
                "a message was taken over by another consumer before it was settled here",
                flow_id=self.flow_id,
                component_id=self.component_id,
            )
            return False
        for target, _ in sends:
            target._held += 1
            target._depth += 1
        return True

    async def ack(self, envelope: Envelope) -> None:
        if await self._settle(envelope, "ack", "", ""):
            self._depth -= 1

    async def retry_later(self, envelope: Envelope, delay: float) -> None:
        due = int((time.time() + delay) * 1000)
        was_taken = envelope in self._taken
        if await self._settle(envelope, "retry", due, codec.encode_envelope(envelope)):
            self._held += 1
            self._depth += 0 if was_taken else 1
            self._look_at = min(self._look_at, time.monotonic() + delay)

    async def park(self, envelope: Envelope, error: str) -> None:
        record = json.dumps(
            {"error": redact_text(error), "envelope": codec.encode_envelope(envelope)}
        )
        if await self._settle(envelope, "park", envelope.id, record):
            self._held += 1
            self._depth -= 1

    async def unpark(self, envelope: Envelope) -> None:
        stream, _, parked, _ = self.keys
        args = [envelope.id, codec.encode_envelope(envelope)]
        if await self._link.script(self._link.unpark, [stream, parked], args):
            self._depth += 1  # still counted by the bound: now queued instead of parked

    async def dead_letter(self, envelope: Envelope, letter: DeadLetter, store: Store) -> None:
        """Move the message into the ``burying`` hash (with the hop's sends), write the letter
        in ``store``, then forget it: a crash in between is finished by the next restore."""
        text = letters.encode(letter)
        if await self._settle(envelope, "bury", letter.id, text):
            self._depth -= 1
            await store.add_dead_letter(letter)
            await self._link.run(lambda: self._link.client.hdel(self.keys[3], letter.id))

    def depth(self) -> int:
        return max(0, self._depth - len(self._taken))

    def reported_depth(self) -> int:
        """The whole cluster's count, read from Redis at most a second ago (see
        :mod:`runtime.brokers.redis_watch`); this process's own until it was first read."""
        self._link.depths_wanted_at = time.monotonic()
        found = self.cluster_depth
        return self.depth() if found is None else found

    def drain(self) -> list[Envelope]:
        """Take the messages read into this process and not handed out (the rest stays in
        Redis: the broker is durable), deleting them from the stream."""
        held = [envelope for _, envelope in self._ready]
        entries = [entry for entry, _ in self._ready]
        self._ready.clear()
        self.held_ids.difference_update(entries)
        if entries:
            self._link.spawn(self._delete(entries), "flowmixer:redis:drain")
            self._depth -= len(entries)
        return held

    async def _delete(self, entries: list[str]) -> None:
        stream = self.keys[0]
        client = self._link.client
        await self._link.run(lambda: client.xack(stream, self.group, *entries))
        await self._link.run(lambda: client.xdel(stream, *entries))

    def stopping(self) -> None:
        self.closed = True
        self._maxsize = sys.maxsize
        while self._putters:
            wake_next(self._putters)

    # -- restarting and letting go -----------------------------------------------------------

    async def restore(self) -> list[tuple[Envelope, str]]:
        if self.restored:
            return []
        self.restored = True
        await self._make_group()
        await self._outbox.relay_left(self.flow_id, self.component_id)
        await letters.finish_burials(self._link, self._store, self.keys[3])
        records = await self._link.run(lambda: self._link.client.hvals(self.keys[2]))
        parked = []
        for record in records:
            data = json.loads(record)
            parked.append((codec.decode_envelope(data["envelope"]), str(data["error"])))
        parked.sort(key=lambda item: item[0].created_at)
        await self._look()
        return parked

    async def let_go(self) -> None:
        """Make the entries held here claimable by any consumer at once (the flow stopped)."""
        await held.let_go(self)

    async def touch(self) -> None:
        """Keep the entries held here fresh, so no other consumer claims them; drop from
        ``ready`` those another consumer claimed anyway."""
        await held.touch(self)
