"""Rate limits per ``x-ratelimit-category``, per user and per app, in fixed windows.

Every API answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (seconds until the window ends) of the tightest bucket that applies; a
call over a limit is refused with 429 ``{"code": 8}`` and ``Retry-After``, and is not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from components.pinterest.emulator.auth import basic_credentials
from components.pinterest.emulator.clock import Clock
from components.pinterest.emulator.config import RateLimits
from components.pinterest.emulator.context import CALLER, OPERATION, emulator
from components.pinterest.emulator.errors import ApiError, rate_limited


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one call, described by its tightest bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset: float
    level: str

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(max(1, math.ceil(self.reset))),
        }


class RateLimiter:
    """Fixed-window counters keyed by (level, who, category)."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._counts: dict[tuple[str, str, str], tuple[int, int]] = {}

    def admit(self, category: str, client_id: str, user_id: str | None) -> Verdict | None:
        """Count one call when every bucket has room; ``None`` when no limit applies."""
        now = self._clock()
        size = self.limits.window_seconds
        window = int(now // size)
        reset = (window + 1) * size - now
        buckets: list[tuple[tuple[str, str, str], int]] = []
        if user_id is not None and category in self.limits.per_user:
            buckets.append(
                (("user", f"{client_id}/{user_id}", category), self.limits.per_user[category])
            )
        if category in self.limits.per_app:
            buckets.append((("app", client_id, category), self.limits.per_app[category]))
        if not buckets:
            return None
        used = {key: self._used(key, window) for key, _ in buckets}
        full = [(key, limit) for key, limit in buckets if used[key] >= limit]
        if full:
            key, limit = full[0]
            return Verdict(False, limit, 0, reset, key[0])
        for key, _ in buckets:
            self._counts[key] = (window, used[key] + 1)
        key, limit = min(buckets, key=lambda b: b[1] - used[b[0]])
        return Verdict(True, limit, limit - used[key] - 1, reset, key[0])

    def _used(self, key: tuple[str, str, str], window: int) -> int:
        seen_window, count = self._counts.get(key, (window, 0))
        return count if seen_window == window else 0


def middleware(limiter: RateLimiter) -> Middleware:
    """Counts and limits API calls after authentication (unauthenticated calls are not counted)."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        operation = request.get(OPERATION)
        if operation is None:
            return await handler(request)
        caller = request.get(CALLER)
        if caller is not None:
            client_id, user_id = caller.client_id, caller.user_id
        else:
            client_id, user_id = (basic_credentials(request) or ("", ""))[0], None
            if client_id not in emulator(request).state.apps:
                return await handler(request)
        emulator(request).stats.record_call(operation.category, client_id, user_id)
        verdict = limiter.admit(operation.category, client_id, user_id)
        if verdict is None:
            return await handler(request)
        if not verdict.allowed:
            wait = str(max(1, math.ceil(verdict.reset)))
            per = "per user" if verdict.level == "user" else "per app"
            raise rate_limited(
                f"Rate limit exceeded: {operation.category} allows {verdict.limit} calls"
                f" {per} every {limiter.limits.window_seconds:g} seconds; retry in {wait} s.",
                {**verdict.headers(), "Retry-After": wait},
            )
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        response.headers.update(verdict.headers())
        return response

    return limit
