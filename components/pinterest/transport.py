"""One HTTP exchange with Pinterest: the request sent, the answer read, parsed and classified.

This is the boundary where aiohttp's exceptions become
:class:`~components.pinterest.errors.TransportError` and error answers become the errors of
:func:`~components.pinterest.errors.classify`. Messages and logs name the method and the path
only: never a query string, a header or a body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json import loads
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from components.pinterest.errors import (
    PinterestInputError,
    ServerError,
    TransportError,
    classify,
)
from components.pinterest.models import RateLimit
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.telemetry import Telemetry

SERVICE = "acme:pinterest"


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A successful answer: ``body`` is the parsed JSON, or None when there was no body."""

    status: int
    headers: dict[str, str]
    body: Any
    rate_limit: RateLimit = field(default_factory=RateLimit)


def query_pairs(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query pairs: None dropped, lists repeated (``a=1&a=2``), booleans as true/false."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    return pairs


def _parse_json(raw: bytes) -> tuple[bool, Any]:
    """(parsed, body): an empty body is parsed as None; unreadable JSON gives (False, None)."""
    if not raw.strip():
        return True, None
    try:
        return True, loads(raw)
    except ValueError:
        return False, None


def _without_secret(body: Any, secret: str | None) -> Any:
    """An error body whose message cannot repeat the token (a server may echo what it got)."""
    message = body.get("message") if isinstance(body, Mapping) else None
    if secret and isinstance(message, str) and secret in message:
        return {**body, "message": message.replace(secret, "***")}
    return body


def _reason(exc: BaseException, elapsed: float) -> str:
    """A short sentence saying why there was no answer."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {elapsed:.1f} s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut off"
    return f"the connection failed ({type(exc).__name__})"


class Transport:
    """Sends requests over a shared session; ``timeout`` (seconds) replaces the session's.

    Every exchange is counted in ``telemetry`` by status (``error`` when no answer came).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        logger: FilteringBoundLogger,
        *,
        timeout: float | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._session = session
        self._log = logger
        self._telemetry = telemetry
        self._options: dict[str, Any] = (
            {} if timeout is None else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        expect_json: bool = True,
        on_rate_limit: Callable[[RateLimit], None] | None = None,
    ) -> ApiResponse:
        """Send one request (with ``Authorization: Bearer <token>`` when a token is given).

        Raises the classified error for a status of 400 or more, :class:`TransportError` when
        there was no answer, and :class:`ServerError` when ``expect_json`` and the success
        body is not JSON. ``on_rate_limit`` is given the rate-limit headers of every answer,
        error answers included, before anything is raised.
        """
        parts = urlsplit(url)
        label = f"{method} {parts.path}"
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            async with self._session.request(
                method,
                url,
                params=query_pairs(params),
                json=json,
                data=data,
                headers=headers,
                **self._options,
            ) as response:
                raw = await response.read()
                status = response.status
                response_headers = dict(response.headers)
        except aiohttp.InvalidURL as exc:
            where = f"{parts.scheme}://{parts.netloc}{parts.path}"
            raise PinterestInputError("apiBase", f"{where} is not a valid URL") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._telemetry.api_call(SERVICE, "error")
            reason = _reason(exc, time.perf_counter() - started)
            self._log.debug("pinterest call failed", method=method, path=parts.path, reason=reason)
            raise TransportError(f"{label} failed: {reason}") from exc
        self._telemetry.api_call(SERVICE, status)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        self._log.debug(
            "pinterest call", method=method, path=parts.path, status=status, duration_ms=duration_ms
        )
        rate_limit = RateLimit.from_headers(response_headers)
        if on_rate_limit is not None:
            on_rate_limit(rate_limit)
        parsed, body = _parse_json(raw)
        if status >= 400:
            raise classify(status, _without_secret(body, token), response_headers, request=label)
        if expect_json and not parsed:
            raise ServerError(
                f"{label} failed: HTTP {status} with a body that is not JSON", status=status
            )
        return ApiResponse(status, response_headers, body, rate_limit)
