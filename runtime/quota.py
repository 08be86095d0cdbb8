"""Rate limits of the services that components call, per app and per account.

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

A gate serves its callers in arrival order and makes each wait for:

1. every rule that applies: a bucket per rule and key of ``limit`` calls that drains at
   ``limit / window`` per second. A fresh window is thus used fully at once (a burst of
   ``limit`` calls), and a steady stream gets ``limit`` per window;
2. what the service said: an answer whose remaining quota is 0 closes the gate until the reset
   it announced, and :meth:`QuotaGate.hold` (after a 429) closes it for the time the service
   asked. This is also what keeps a bucket, which cannot know where a service's fixed windows
   begin, from spending two windows' worth of calls within one: right after a burst the bucket
   fills again while the service's window still counts the burst.

Where the buckets and what the services said are kept is a :class:`QuotaState`: this
process's memory by default (:mod:`runtime.quota_memory`), or a Redis server shared by every
process of a scale-out (:mod:`runtime.quota_redis`, chosen by :func:`quota_state` when
``Settings.redis_url`` is set), so that all of them together keep within the limits.

A wait longer than the rules' ``maxWait`` is not waited: :class:`QuotaWaitError`, a
:class:`~runtime.errors.DeferError` whose ``delay`` is the wait, has the engine deliver the
message again then, without using one of its attempts, and nothing is lost.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Protocol

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

GateKey = tuple[str, str, str, str | None]
"""What a gate is for: (service, resource, app, account)."""


class QuotaWaitError(DeferError):
    """A call would wait longer than its quota rules allow (``maxWait``); ``delay`` is the wait."""

    def __init__(self, message: str, *, delay: float, service: str, resource: str) -> None:
        super().__init__(message, delay=delay)
        self.service = service
        self.resource = resource


class QuotaGate(ABC):
    """What one kind of call (a resource of a service, by one account of one app) waits for.

    Get one from :meth:`Quotas.gate`; every call is :meth:`acquire` then :meth:`release`, with
    :meth:`observe` in between when the service answered.
    """

    __slots__ = ("account", "max_wait", "resource", "rules", "service")

    def __init__(self, key: GateKey, rules: tuple[QuotaRule, ...], max_wait: float) -> None:
        self.service, self.resource, _, self.account = key
        self.rules = rules
        """The rules this gate applies (app-wide ones first)."""
        self.max_wait = max_wait
        """The longest wait a call accepts: the smallest ``maxWait`` of the rules that apply."""

    @abstractmethod
    async def acquire(self) -> float:
        """Wait for this call's turn; the seconds waited (0.0 for no noticeable wait).

        Raises :class:`QuotaWaitError` without waiting when the wait would exceed
        :attr:`max_wait`, and after waiting when a hold made it exceed that meanwhile.
        """

    @abstractmethod
    def release(self) -> None:
        """The call is over (answered or not)."""

    @abstractmethod
    def observe(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        """What an answer said of the quota: ``remaining`` calls of ``limit`` until the window
        resets in ``reset`` seconds. Call it before :meth:`release`."""

    @abstractmethod
    def hold(self, seconds: float) -> None:
        """Close the gate to every caller for ``seconds`` (the service refused a call, 429)."""

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


class QuotaState(Protocol):
    """Where the gates keep their buckets and what the services said."""

    def gate(
        self,
        key: GateKey,
        rules: tuple[QuotaRule, ...],
        max_wait: float,
        waiting: set[asyncio.Task[Any]],
    ) -> QuotaGate:
        """A new gate for ``key`` applying ``rules`` (app-wide ones first); it adds the tasks
        waiting in :meth:`QuotaGate.acquire` to ``waiting`` while they wait."""
        ...

    def forget(self, service: str) -> None:
        """``service`` has new rules: its buckets start afresh."""
        ...

    async def aclose(self) -> None:
        """Release connections; the gates are not used afterwards."""
        ...


def quota_state(redis_url: str | None) -> QuotaState:
    """The state of a process's quotas: shared by every process on the Redis server at
    ``redis_url`` (``Settings.redis_url``) when one is set, else in this process's memory."""
    if redis_url is None:
        from runtime.quota_memory import MemoryQuotaState

        return MemoryQuotaState()
    from runtime.quota_redis import RedisQuotaState  # needs the redis extra: only when used

    return RedisQuotaState(redis_url)


class Quotas:
    """The quota rules of every service and their gates, for one process (one engine).

    ``rules`` maps a service to its rules; a service it does not name has none (calls are
    held back only by what its answers say). Without ``rules``, the rules come from ``source``
    the first time a gate is asked for, by default the installed service manifests with the
    ``FLOWMIXER_<SERVICE>_QUOTA`` overrides of the environment
    (:func:`runtime.quota_rules.packaged_rules`). ``state`` keeps the buckets (default: this
    process's memory, see :func:`quota_state`); close it with :meth:`aclose`. Gates belong to
    the event loop that first uses them: use a Quotas in one loop only.
    """

    def __init__(
        self,
        rules: Mapping[str, Iterable[QuotaRule]] | None = None,
        *,
        source: RulesSource | None = None,
        state: QuotaState | None = None,
    ) -> None:
        self._rules: dict[str, tuple[QuotaRule, ...]] | None = None
        if rules is not None:
            self._rules = {service: tuple(found) for service, found in rules.items()}
        self._source = source
        self.state = state if state is not None else quota_state(None)
        """Where the buckets and the services' feedback are kept."""
        self._gates: dict[GateKey, QuotaGate] = {}
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
        self.state.forget(service)

    def gate(self, service: str, resource: str, *, app: str = "", account: str | None) -> QuotaGate:
        """The gate of calls in ``resource`` of ``service`` by ``account`` of ``app``.

        ``app`` tells apps of one service apart (its client id; one app per service when
        empty); ``account`` is the account's name (None for a token of no known account).
        """
        key = (service, resource, app, account)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = self._new_gate(key)
        return gate

    def _new_gate(self, key: GateKey) -> QuotaGate:
        applied = [r for r in self.rules(key[0]) if r.resource in (key[1], EVERY_CALL)]
        applied.sort(key=lambda r: (r.scope != "app", r.resource == EVERY_CALL, r.window))
        max_wait = min((rule.max_wait for rule in applied), default=DEFAULT_MAX_WAIT)
        return self.state.gate(key, tuple(applied), max_wait, self.waiting)

    async def aclose(self) -> None:
        """Close the state (a Redis state's connections); the gates are not used afterwards."""
        await self.state.aclose()
