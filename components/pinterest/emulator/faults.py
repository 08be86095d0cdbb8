"""Fault injection: added latency, error answers and dropped connections, on demand.

A :class:`FaultPlan` says what to do; :class:`Faults` holds the current plan, its seeded random
source and counts of what it injected. Each matching call draws once: with probability
``error_rate`` it is answered with one of ``error_statuses`` (500/503 by default; 429 is a
"rate limit storm" answered with ``Retry-After: retry_after`` and no effect), with
``drop_before_rate`` the connection is closed before the call has any effect, with
``drop_after_rate`` the call takes effect (a Pin is created) and then the connection is closed
without an answer — the case idempotent retries must survive.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from components.pinterest.emulator.context import DROPPED, OPERATION
from components.pinterest.emulator.errors import error_response
from runtime.errors import ConfigurationError

RATE_LIMITED_CODE = 8

_MESSAGES = {
    429: "You have exceeded your rate limit. Try again later.",
    500: "Something went wrong on our end; please try again later.",
    502: "Bad gateway; please try again later.",
    503: "The service is temporarily unavailable; please try again later.",
    504: "The request timed out; please try again later.",
}


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to inject. The default plan injects nothing.

    ``latency_ms`` is added to every matching call, plus a random share of ``jitter_ms``.
    ``operations`` limits the plan to these operation ids (e.g. ``{"pins/create"}``);
    ``max_faults`` stops errors and drops after that many (latency continues);
    ``seed`` makes the draws repeatable.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    drop_before_rate: float = 0.0
    drop_after_rate: float = 0.0
    operations: AbstractSet[str] | None = None
    max_faults: int | None = None
    seed: int = 0
    retry_after: int = 1
    """Seconds a refused call is told to wait (``Retry-After`` of injected 429s)."""

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.drop_before_rate, self.drop_after_rate)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0:
            raise ConfigurationError(
                "fault rates (error_rate, drop_before_rate, drop_after_rate) must each be"
                f" between 0 and 1 and add up to at most 1; got {rates}"
            )
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ConfigurationError("latency_ms and jitter_ms must not be negative")
        if self.retry_after < 0:
            raise ConfigurationError(f"retry_after must not be negative, not {self.retry_after}")
        if not self.error_statuses or any(s not in _MESSAGES for s in self.error_statuses):
            raise ConfigurationError(
                f"error_statuses must be chosen from {sorted(_MESSAGES)}; got {self.error_statuses}"
            )
        if self.operations is not None:
            object.__setattr__(self, "operations", frozenset(self.operations))


class Faults:
    """The fault plan in force; change it at run time with :meth:`set` or :meth:`clear`."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.injected: Counter[str] = Counter()
        self.set(plan or FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force, restarting its random sequence and the ``injected`` counts."""
        self._plan = plan
        self._random = random.Random(plan.seed)
        self.injected.clear()

    def clear(self) -> None:
        self.set(FaultPlan())

    def draw(self, operation_id: str) -> tuple[float, str | None]:
        """``(delay in seconds, fault or None)`` for one call; fault is ``error``,
        ``drop_before`` or ``drop_after``."""
        plan = self._plan
        if plan.operations is not None and operation_id not in plan.operations:
            return 0.0, None
        delay = (plan.latency_ms + self._random.random() * plan.jitter_ms) / 1000
        if plan.max_faults is not None and self.injected.total() >= plan.max_faults:
            return delay, None
        roll = self._random.random()
        fault = None
        for name, rate in (
            ("error", plan.error_rate),
            ("drop_before", plan.drop_before_rate),
            ("drop_after", plan.drop_after_rate),
        ):
            if roll < rate:
                fault = name
                break
            roll -= rate
        if fault is not None:
            self.injected[fault] += 1
        return delay, fault

    def error_status(self) -> int:
        return self._random.choice(self._plan.error_statuses)


def middleware(faults: Faults) -> Middleware:
    """Applies the plan to every API call (requests that matched an operation)."""

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation = request.get(OPERATION)
        if operation is None:
            return await handler(request)
        delay, fault = faults.draw(operation.operation_id)
        if delay:
            await asyncio.sleep(delay)
        if fault == "error":
            status = faults.error_status()
            if status == 429:  # Pinterest's rate-limit code, and when to come back
                headers = {"Retry-After": str(faults.plan.retry_after)}
                return error_response(429, RATE_LIMITED_CODE, _MESSAGES[429], headers)
            return error_response(status, status, _MESSAGES[status])
        if fault == "drop_before":
            return _drop(request, web.Response(status=204), "before")
        response = await handler(request)
        return _drop(request, response, "after") if fault == "drop_after" else response

    return inject


def _drop(request: web.Request, response: web.StreamResponse, when: str) -> web.StreamResponse:
    # Aborting the transport makes aiohttp fail to write the answer and close quietly; the
    # response still travels back through the middlewares, so observers see what was lost.
    request[DROPPED] = when
    if request.transport is not None:
        request.transport.abort()
    return response
