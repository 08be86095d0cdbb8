"""What the emulator saw, for assertions: token requests, calls per operation and per window."""

from __future__ import annotations

from collections import Counter

from components.pinterest.emulator.clock import Clock


class Stats:
    """Counters of one emulator.

    ``token_requests`` counts ``POST /v5/oauth/token`` calls by ``grant_type`` (failed ones
    too); ``operations`` counts API calls by operation id. :meth:`in_window` and :meth:`peak`
    count authenticated calls (refused ones included) in the rate-limit windows.
    """

    def __init__(self, clock: Clock, window_seconds: float) -> None:
        self.token_requests: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        self._clock = clock
        self._window_seconds = window_seconds
        self._windows: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._peaks: Counter[tuple[str, str, str]] = Counter()

    def record_call(self, category: str, client_id: str, user_id: str | None) -> None:
        window = int(self._clock() // self._window_seconds)
        keys = [("app", client_id, category)]
        if user_id is not None:
            keys.append(("user", user_id, category))
        for key in keys:
            seen_window, count = self._windows.get(key, (window, 0))
            count = count + 1 if seen_window == window else 1
            self._windows[key] = (window, count)
            self._peaks[key] = max(self._peaks[key], count)

    def in_window(self, category: str, *, user: str | None = None, app: str | None = None) -> int:
        """Calls in ``category`` during the current window, by user id or by app client id."""
        seen_window, count = self._windows.get(self._key(category, user, app), (-1, 0))
        return count if seen_window == int(self._clock() // self._window_seconds) else 0

    def peak(self, category: str, *, user: str | None = None, app: str | None = None) -> int:
        """The most calls in ``category`` seen in any one window, by user id or app client id."""
        return self._peaks[self._key(category, user, app)]

    @staticmethod
    def _key(category: str, user: str | None, app: str | None) -> tuple[str, str, str]:
        if (user is None) == (app is None):
            raise ValueError("name exactly one of user= or app=")
        return ("user", user, category) if user is not None else ("app", str(app), category)
