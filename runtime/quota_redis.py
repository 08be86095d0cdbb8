"""Quota state on a Redis server, shared by every process that names it (``--redis URL``).

Each bucket (per service, rule, app and, for account rules, account) and each gate's window
(what the service's answers said, holds after a 429, the calls in flight) are Redis keys that
atomic Lua scripts (:mod:`runtime.quota_scripts`) read and change on the server's clock. An
acquire asks the server whether its call may go now; when not, the script says for how long
the quota stays closed and the caller sleeps exactly that long here, then asks again (another
process may have taken the capacity meanwhile). Callers of one gate in one process are served in
arrival order (a fair lock, as in memory). ``observe``, ``hold`` and ``release`` are not awaited
by their callers: they are sent in order in the background, and this process's next acquire
waits until they have reached the server, so that its own holds apply to it at once; other
processes see them a round trip later.

When the server cannot be reached, an acquire waits and asks again with growing pauses (never
falling back to buckets of its own, which would let every process spend the whole limit); past
the rules' ``maxWait`` it raises :class:`~runtime.quota.QuotaWaitError` and the engine delivers
the message again later. Background writes are kept and sent once the server is back.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import structlog

from runtime.errors import ConfigurationError
from runtime.quota import NOTICEABLE_WAIT, GateKey, QuotaGate, QuotaWaitError
from runtime.quota_scripts import ACQUIRE, HOLD, OBSERVE, script
from runtime.quota_writes import FIRST_PAUSE, LONGEST_PAUSE, UNREACHABLE, Writes

if TYPE_CHECKING:
    import redis.asyncio

    from runtime.manifest import QuotaRule

PREFIX: Final = "flowmixer:quota"
STALE: Final = 300.0
"""Seconds after which a call let through and never said to be over (its process ended) is no
longer counted in flight."""
KEEP: Final = 86_400.0
"""Seconds a gate's window is kept after it last changed."""
CONNECT_TIMEOUT: Final = 2.0
COMMAND_TIMEOUT: Final = 5.0

_log = structlog.get_logger("flowmixer.quota")


def redis_client(url: str) -> redis.asyncio.Redis:
    """A client of the server at ``url`` that fails fast (the callers pause and retry), or a
    :class:`ConfigurationError` naming the extra to install."""
    try:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise ConfigurationError(
            "quotas shared on a Redis server need the redis client: pip install 'flowmixer[redis]'"
        ) from None
    # One immediate retry: a pooled connection the server dropped (say, on its restart) fails
    # the first command sent on it.
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
    )


def _key(service: str, *parts: object) -> str:
    # The service in braces: all of a service's keys hash to one slot of a Redis Cluster, as
    # its scripts touch several of them at once.
    return f"{PREFIX}:{{{service}}}:{json.dumps(parts, separators=(',', ':'))}"


class _Line:
    """The callers of one gate, served one at a time in the order they joined. Unlike an
    :class:`asyncio.Lock`, joining is a plain call: a caller keeps its place while it awaits
    something else (the foreseen wait) before its turn."""

    __slots__ = ("_busy", "_waiters")

    def __init__(self) -> None:
        self._busy = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def join(self) -> asyncio.Future[None] | None:
        """None when it is the caller's turn now, else what is done when it comes."""
        if not self._busy:
            self._busy = True
            return None
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        return turn

    def leave(self, turn: asyncio.Future[None] | None) -> None:
        """The caller is done (or gives up): the next one's turn, if it had the turn."""
        if turn is not None and (turn.cancelled() or not turn.done()):
            turn.cancel()  # left before its turn: skipped when the turn is passed on
            return
        while self._waiters:
            following = self._waiters.popleft()
            if not following.done():
                following.set_result(None)
                return
        self._busy = False


class RedisGate(QuotaGate):
    """A gate whose buckets and window are on the Redis server (see the module docstring)."""

    __slots__ = ("_buckets", "_calls", "_keys", "_line", "_queued", "_sleeps", "_state", "_waiting")

    def __init__(
        self,
        key: GateKey,
        rules: tuple[QuotaRule, ...],
        max_wait: float,
        waiting: set[asyncio.Task[Any]],
        state: RedisQuotaState,
    ) -> None:
        super().__init__(key, rules, max_wait)
        service, resource, app, account = key
        self._keys = [_key(service, "window", resource, app, account)]
        self._keys.append(_key(service, "calls", resource, app, account))
        buckets: list[str | int | float] = []
        for rule in rules:
            who = account if rule.scope == "account" else None
            limits = (rule.resource, rule.limit, rule.window, rule.scope)
            self._keys.append(_key(service, "bucket", *limits, app, who))
            buckets += [rule.limit, repr(float(rule.window))]
        self._buckets = buckets
        self._state = state
        self._waiting = waiting
        self._line = _Line()
        self._queued = 0
        self._sleeps = 0  # quota waits begun here: a turn that came after none was not one
        self._calls: list[str] = []  # ids of this process's calls in flight here

    async def acquire(self) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        other = 0.0  # round trips, and turns behind callers that did not wait: not the quota's
        sleeps = self._sleeps
        ahead = self._queued
        turn = self._line.join()  # at once, so that callers keep the order they came in
        self._queued += 1
        task = asyncio.current_task()
        if task is not None:  # a stop need not wait for a call that has sent nothing yet
            self._waiting.add(task)
        try:
            if turn is not None:  # foresee the wait behind the callers before this one
                foreseen, other = await self._ask(loop, start, ahead, "")
                if foreseen > self.max_wait:
                    raise self._too_long(foreseen)
                queued = loop.time()
                await turn
                if self._sleeps == sleeps:
                    other += loop.time() - queued
            call = self._state.new_call()
            try:
                while True:
                    wait, trip = await self._ask(loop, start, 0, call)
                    other += trip
                    if wait <= 0:
                        break
                    if loop.time() + wait - start > self.max_wait:
                        raise self._too_long(wait)  # deliver again when it opens, not later
                    self._sleeps += 1
                    await asyncio.sleep(wait)
            except asyncio.CancelledError:
                # The server may have let the call through before the answer was lost.
                self._state.writes.add(None, self._keys[1:2], [call])
                raise
            self._calls.append(call)
        finally:
            self._queued -= 1
            self._waiting.discard(task)
            self._line.leave(turn)
        waited = loop.time() - start - other
        return waited if waited >= NOTICEABLE_WAIT else 0.0

    async def _ask(
        self, loop: asyncio.AbstractEventLoop, start: float, ahead: int, call: str
    ) -> tuple[float, float]:
        """The server's wait for a caller with ``ahead`` before it (with a ``call`` id and no
        wait, the call is let through) and the seconds the answer took. Pauses and asks again
        while the server is unreachable."""
        pause = FIRST_PAUSE
        args: list[str | int | float] = [ahead, 1 if call else 0, call, STALE, KEEP]
        args += self._buckets
        while True:
            sent = loop.time()
            try:
                wait = await self._state.ask(self._keys, args)
            except UNREACHABLE as exc:
                if loop.time() + pause - start > self.max_wait:
                    raise self._unreachable(pause, exc) from None
                await asyncio.sleep(pause)
                pause = min(2 * pause, LONGEST_PAUSE)
            else:
                return wait, loop.time() - sent

    def release(self) -> None:
        if self._calls:
            self._state.writes.add(None, self._keys[1:2], [self._calls.pop()])

    def observe(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: float | None = None,
    ) -> None:
        given = ["" if v is None else repr(v) for v in (limit, remaining, reset)]
        self._state.writes.add(self._state.observe, self._keys[:2], [*given, STALE, KEEP])

    def hold(self, seconds: float) -> None:
        self._state.writes.add(self._state.hold, self._keys[:1], [repr(float(seconds)), KEEP])

    def _unreachable(self, pause: float, exc: BaseException) -> QuotaWaitError:
        return QuotaWaitError(
            f"the {self.resource} quota of {self.service} cannot be checked: its Redis server"
            f" is unreachable ({type(exc).__name__}); the message is delivered again in"
            f" {pause:g} s",
            delay=pause,
            service=self.service,
            resource=self.resource,
        )


class RedisQuotaState:
    """Quota state on the Redis server at ``url``, shared by every process using it."""

    def __init__(self, url: str) -> None:
        self._client = redis_client(url)
        self.acquire = self._client.register_script(script(ACQUIRE))
        self.observe = self._client.register_script(script(OBSERVE))
        self.hold = self._client.register_script(script(HOLD))
        self.writes = Writes(self._client, _log)
        """What the gates said (answers, holds, calls over), sent in order in the background."""
        self._process = f"{os.getpid()}.{secrets.token_hex(4)}"
        self._calls = itertools.count()

    def new_call(self) -> str:
        """An id of a call unique among every process's."""
        return f"{self._process}.{next(self._calls)}"

    async def ask(self, keys: list[str], args: list[str | int | float]) -> float:
        """Run the acquire script once this process's writes have reached the server."""
        await self.writes.flushed()
        return float(await self.acquire(keys=keys, args=args))

    def gate(
        self,
        key: GateKey,
        rules: tuple[QuotaRule, ...],
        max_wait: float,
        waiting: set[asyncio.Task[Any]],
    ) -> QuotaGate:
        return RedisGate(key, rules, max_wait, waiting, self)

    def forget(self, service: str) -> None:
        return None  # a bucket's key names its limit and window: new rules, new buckets

    async def aclose(self) -> None:
        try:
            await self.writes.close()
        finally:
            await self._client.aclose()
