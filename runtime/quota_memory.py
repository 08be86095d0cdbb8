"""Quota state in this process's memory: the default, for one process.

Each rule applied to a key is an :class:`aiolimiter.AsyncLimiter` with a fair lock in front
(aiolimiter alone lets a newcomer take capacity freed for a waiter that has not resumed yet);
each gate keeps what the service said of its window (:class:`_Window`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiolimiter import AsyncLimiter

from runtime.manifest import QuotaRule
from runtime.quota import NOTICEABLE_WAIT, SAME_WINDOW, GateKey, QuotaGate


class _Bucket:
    """One rule applied to one key: a fair lock in front of a leaky bucket."""

    __slots__ = ("_checked", "_level", "_limiter", "_lock", "_rate", "pending", "rule")

    def __init__(self, rule: QuotaRule) -> None:
        self.rule = rule
        self._limiter = AsyncLimiter(rule.limit, rule.window)
        self._lock = asyncio.Lock()  # asyncio.Lock is fair: first come, first served
        self._rate = rule.limit / rule.window
        # A copy of the bucket's level (aiolimiter keeps its own private) to foresee waits.
        self._level = 0.0
        self._checked = 0.0
        self.pending = 0
        """Callers that will take capacity here and have not yet."""

    def _level_at(self, now: float) -> float:
        return max(0.0, self._level - (now - self._checked) * self._rate)

    def wait_for(self, ahead: int, now: float) -> float:
        """Seconds before a caller with ``ahead`` callers before it gets capacity."""
        excess = self._level_at(now) + ahead + 1 - self.rule.limit
        return max(0.0, excess / self._rate)

    async def take(self) -> None:
        async with self._lock:
            await self._limiter.acquire()
        now = asyncio.get_running_loop().time()
        self._level = self._level_at(now) + 1
        self._checked = now


class _Window:
    """What the service said of one key's quota: calls left before its window resets."""

    __slots__ = ("held_until", "in_flight", "limit", "remaining", "reset_at")

    def __init__(self) -> None:
        self.limit: int | None = None
        self.remaining: int | None = None  # None: unknown, only the buckets decide
        self.reset_at: float | None = None  # loop time
        self.held_until = 0.0  # loop time before which a 429 closed the key, whatever answers say
        self.in_flight = 0

    def closed_for(self, ahead: int, now: float) -> float:
        """Seconds the key stays closed to a caller with ``ahead`` callers before it."""
        if now < self.held_until:
            return self.held_until - now
        if self.reset_at is not None and now >= self.reset_at:
            # A new window: calls still unanswered may be counted in it.
            self.reset_at = None
            self.remaining = None if self.limit is None else max(0, self.limit - self.in_flight)
        if self.remaining is None or self.reset_at is None or self.remaining > ahead:
            return 0.0
        return self.reset_at - now

    def admit(self) -> None:
        self.in_flight += 1
        if self.remaining is not None:
            self.remaining -= 1

    def observe(
        self, limit: int | None, remaining: int | None, reset: float | None, now: float
    ) -> None:
        if limit is not None:
            self.limit = limit
        if reset is not None:
            until = now + reset
            if self.reset_at is None or until > self.reset_at + SAME_WINDOW:
                self.reset_at, self.remaining = until, None  # a later window than known
            elif until < self.reset_at - SAME_WINDOW:
                return  # an answer from an earlier window, overtaken by later ones
            else:
                self.reset_at = max(self.reset_at, until)
        if remaining is not None:
            # Calls still unanswered may have been counted after this one: assume they were not.
            left = max(0, remaining - max(0, self.in_flight - 1))
            self.remaining = left if self.remaining is None else min(self.remaining, left)

    def hold(self, seconds: float, now: float) -> None:
        # Kept apart from what answers say: one already in flight must not reopen the key.
        self.held_until = max(self.held_until, now + max(0.0, seconds))


class MemoryGate(QuotaGate):
    """A gate whose buckets and window are in this process's memory: a fair lock in front."""

    __slots__ = ("_buckets", "_lock", "_queued", "_waiting", "_window")

    def __init__(
        self,
        key: GateKey,
        buckets: tuple[_Bucket, ...],
        max_wait: float,
        waiting: set[asyncio.Task[Any]],
    ) -> None:
        super().__init__(key, tuple(bucket.rule for bucket in buckets), max_wait)
        self._buckets = buckets
        self._window = _Window()
        self._lock = asyncio.Lock()
        self._queued = 0
        self._waiting = waiting

    async def acquire(self) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        foreseen = self._window.closed_for(self._queued, start)
        for bucket in self._buckets:
            foreseen = max(foreseen, bucket.wait_for(bucket.pending, start))
        if foreseen > self.max_wait:
            raise self._too_long(foreseen)
        buckets = self._buckets
        for bucket in buckets:
            bucket.pending += 1
        taken = 0
        self._queued += 1
        task = asyncio.current_task()
        if task is not None:  # a stop need not wait for a call that has sent nothing yet
            self._waiting.add(task)
        try:
            async with self._lock:
                for bucket in buckets:
                    await bucket.take()
                    bucket.pending -= 1
                    taken += 1
                await self._opened(loop, start)
                self._window.admit()
        finally:
            self._queued -= 1
            self._waiting.discard(task)
            for bucket in buckets[taken:]:
                bucket.pending -= 1
        waited = loop.time() - start
        return waited if waited >= NOTICEABLE_WAIT else 0.0

    async def _opened(self, loop: asyncio.AbstractEventLoop, start: float) -> None:
        while True:
            now = loop.time()
            closed = self._window.closed_for(0, now)
            if closed <= 0:
                return
            if now + closed - start > self.max_wait:
                raise self._too_long(closed)  # deliver again when it opens, not later
            await asyncio.sleep(closed)

    def release(self) -> None:
        self._window.in_flight -= 1

    def observe(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        self._window.observe(limit, remaining, reset, asyncio.get_running_loop().time())

    def hold(self, seconds: float) -> None:
        self._window.hold(seconds, asyncio.get_running_loop().time())


class MemoryQuotaState:
    """Buckets in this process's memory, shared by the gates whose rules and keys they are."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, QuotaRule, str, str | None], _Bucket] = {}

    def gate(
        self,
        key: GateKey,
        rules: tuple[QuotaRule, ...],
        max_wait: float,
        waiting: set[asyncio.Task[Any]],
    ) -> QuotaGate:
        service, _, app, account = key
        buckets = []
        for rule in rules:
            at = (service, rule, app, account if rule.scope == "account" else None)
            bucket = self._buckets.get(at)
            if bucket is None:
                bucket = self._buckets[at] = _Bucket(rule)
            buckets.append(bucket)
        return MemoryGate(key, tuple(buckets), max_wait, waiting)

    def forget(self, service: str) -> None:
        self._buckets = {k: b for k, b in self._buckets.items() if k[0] != service}

    async def aclose(self) -> None:
        return None
