"""Rate limits of the services that components call, per app and per account, process-wide.

A service's quota rules (``quota`` in its ``service.json``, :class:`~runtime.manifest.QuotaRule`;
overridden per app through :mod:`runtime.quota_rules`) allow ``limit`` calls per ``window``
seconds in a resource (a rate-limit category, or ``*`` for every call), per app or per account
of an app. The engine keeps one :class:`Quotas` for all its flows (``context.quotas``); a
service's client asks it for the :class:`QuotaGate` of the call it is about to make and goes
through the gate before each request::

    gate = context.quotas.gate("acme:pinterest", "org_write", app=client_id, account="cook")
    waited = await gate.acquire()  # may wait; QuotaWaitError when the wait would be too long
    try:
        answer = await send()
        gate.observe(limit=..., remaining=..., reset=...)  # what the answer's headers said
    finally:
        gate.release()

A gate serves its callers in arrival order (a fair lock) and makes each wait for:

1. every rule that applies: one :class:`aiolimiter.AsyncLimiter` per rule and key, a bucket
   of ``limit`` calls that drains at ``limit / window`` per second. A fresh window is thus used
   fully at once (a burst of ``limit`` calls), and a steady stream gets ``limit`` per window.
   A fair lock in front of each bucket keeps its waiters in arrival order: aiolimiter alone
   lets a newcomer take capacity freed for a waiter that has not resumed yet;
2. what the service said: an answer whose remaining quota is 0 closes the gate until the reset
   it announced, and :meth:`QuotaGate.hold` (after a 429) closes it for the time the service
   asked. This is also what keeps a bucket, which cannot know where a service's fixed windows
   begin, from spending two windows' worth of calls within one: right after a burst the bucket
   fills again while the service's window still counts the burst.

A wait longer than the rules' ``maxWait`` is not waited: :class:`QuotaWaitError`, a
:class:`~runtime.errors.DeferError` whose ``delay`` is the wait, has the engine deliver the
message again then, without using one of its attempts, and nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from aiolimiter import AsyncLimiter

from runtime.errors import DeferError
from runtime.manifest import EVERY_CALL, QuotaRule

DEFAULT_MAX_WAIT: Final = 60.0
"""How long a call waits at most when no rule of its service applies (feedback alone)."""

SAME_WINDOW: Final = 1.5
"""Seconds by which two resets announced in one window may differ: services announce whole
seconds, and answers take a while to arrive. Resets further apart belong to different windows."""

NOTICEABLE_WAIT: Final = 0.001
"""Shorter waits are the event loop's turns, not the quota's: reported as 0."""

RulesSource = Callable[[], Mapping[str, tuple[QuotaRule, ...]]]


class QuotaWaitError(DeferError):
    """A call would wait longer than its quota rules allow (``maxWait``); ``delay`` is the wait."""

    def __init__(self, message: str, *, delay: float, service: str, resource: str) -> None:
        super().__init__(message, delay=delay)
        self.service = service
        self.resource = resource


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


class QuotaGate:
    """What one kind of call (a resource of a service, by one account of one app) waits for.

    Get one from :meth:`Quotas.gate`; every call is :meth:`acquire` then :meth:`release`, with
    :meth:`observe` in between when the service answered.
    """

    __slots__ = (
        "_buckets",
        "_lock",
        "_queued",
        "_waiting",
        "_window",
        "account",
        "max_wait",
        "resource",
        "service",
    )

    def __init__(
        self,
        service: str,
        resource: str,
        account: str | None,
        buckets: tuple[_Bucket, ...],
        max_wait: float,
        waiting: set[asyncio.Task[Any]] | None = None,
    ) -> None:
        self.service = service
        self.resource = resource
        self.account = account
        self.max_wait = max_wait
        """The longest wait a call accepts: the smallest ``maxWait`` of the rules that apply."""
        self._buckets = buckets
        self._window = _Window()
        self._lock = asyncio.Lock()
        self._queued = 0
        self._waiting = waiting if waiting is not None else set()

    @property
    def rules(self) -> tuple[QuotaRule, ...]:
        """The rules this gate applies (app-wide ones first)."""
        return tuple(bucket.rule for bucket in self._buckets)

    async def acquire(self) -> float:
        """Wait for this call's turn; the seconds waited (0.0 for no noticeable wait).

        Raises :class:`QuotaWaitError` without waiting when the wait would exceed
        :attr:`max_wait`, and after waiting when a hold made it exceed that meanwhile.
        """
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
        """The call is over (answered or not)."""
        self._window.in_flight -= 1

    def observe(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        """What an answer said of the quota: ``remaining`` calls of ``limit`` until the window
        resets in ``reset`` seconds. Call it before :meth:`release`."""
        self._window.observe(limit, remaining, reset, asyncio.get_running_loop().time())

    def hold(self, seconds: float) -> None:
        """Close the gate to every caller for ``seconds`` (the service refused a call, 429)."""
        self._window.hold(seconds, asyncio.get_running_loop().time())

    def _too_long(self, wait: float) -> QuotaWaitError:
        who = f" of account {self.account!r}" if self.account else ""
        return QuotaWaitError(
            f"the {self.resource} quota of {self.service}{who} lets the next call go in"
            f" {wait:.3g} s, longer than its rules wait (maxWait {self.max_wait:g} s);"
            " the message is delivered again then",
            delay=wait,
            service=self.service,
            resource=self.resource,
        )


class Quotas:
    """The quota rules of every service and their limiters, for one process (one engine).

    ``rules`` maps a service to its rules; a service it does not name has none (calls are
    held back only by what its answers say). Without ``rules``, the rules come from ``source``
    the first time a gate is asked for, by default the installed service manifests with the
    ``FLOWMIXER_<SERVICE>_QUOTA`` overrides of the environment
    (:func:`runtime.quota_rules.packaged_rules`). Limiters belong to the event loop that first
    uses them: use a Quotas in one loop only.
    """

    def __init__(
        self,
        rules: Mapping[str, Iterable[QuotaRule]] | None = None,
        *,
        source: RulesSource | None = None,
    ) -> None:
        self._rules: dict[str, tuple[QuotaRule, ...]] | None = None
        if rules is not None:
            self._rules = {service: tuple(found) for service, found in rules.items()}
        self._source = source
        self._gates: dict[tuple[str, str, str, str | None], QuotaGate] = {}
        self._buckets: dict[tuple[str, QuotaRule, str, str | None], _Bucket] = {}
        self.waiting: set[asyncio.Task[Any]] = set()
        """The tasks waiting at a gate now: their calls have not been sent, so a flow's stop
        on a durable broker need not wait for them (:mod:`runtime.flow_runner`)."""

    def rules(self, service: str) -> tuple[QuotaRule, ...]:
        """The rules applied to calls to ``service``."""
        if self._rules is None:
            if self._source is None:
                from runtime.quota_rules import packaged_rules  # reads files: only when used

                self._source = packaged_rules
            self._rules = dict(self._source())
        return self._rules.get(service, ())

    def configure(self, service: str, rules: Iterable[QuotaRule]) -> None:
        """Apply ``rules`` to ``service`` from now on (its limiters start afresh)."""
        self.rules(service)  # the other services keep their rules
        assert self._rules is not None
        self._rules[service] = tuple(rules)
        self._gates = {k: g for k, g in self._gates.items() if k[0] != service}
        self._buckets = {k: b for k, b in self._buckets.items() if k[0] != service}

    def gate(self, service: str, resource: str, *, app: str = "", account: str | None) -> QuotaGate:
        """The gate of calls in ``resource`` of ``service`` by ``account`` of ``app``.

        ``app`` tells apps of one service apart (its client id; one app per service when
        empty); ``account`` is the account's name (None for a token of no known account).
        """
        key = (service, resource, app, account)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = self._new_gate(service, resource, app, account)
        return gate

    def _new_gate(self, service: str, resource: str, app: str, account: str | None) -> QuotaGate:
        applied = [r for r in self.rules(service) if r.resource in (resource, EVERY_CALL)]
        applied.sort(key=lambda r: (r.scope != "app", r.resource == EVERY_CALL, r.window))
        buckets = []
        for rule in applied:
            key = (service, rule, app, account if rule.scope == "account" else None)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(rule)
            buckets.append(bucket)
        max_wait = min((rule.max_wait for rule in applied), default=DEFAULT_MAX_WAIT)
        return QuotaGate(service, resource, account, tuple(buckets), max_wait, self.waiting)
