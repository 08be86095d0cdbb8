"""The process-wide shared HTTP session, created on first use inside the running loop."""

from __future__ import annotations

import aiohttp

from runtime import __version__

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10, sock_read=30)


class HttpSessions:
    """Owns one :class:`aiohttp.ClientSession` for every component of a process."""

    def __init__(
        self,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        user_agent: str = f"flowmixer/{__version__}",
        limit: int = 100,
    ) -> None:
        self._timeout = timeout
        self._user_agent = user_agent
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The shared session (made on first call; must be called inside the event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"User-Agent": self._user_agent},
                connector=aiohttp.TCPConnector(limit=self._limit),
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
