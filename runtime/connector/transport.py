"""One HTTP exchange: the request sent, the answer read, parsed and classified.

This is the boundary where aiohttp's exceptions become :class:`~.errors.TransportError` and
error answers become the errors of the connector's table (:func:`~.answers.classify`).
Messages and logs name the method and the path only: never a query string, a header or a
body, and a secret the server echoes in its error answer is replaced by ``***``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp

from runtime.connector.answers import DEFAULT_ERRORS, ErrorTable, classify
from runtime.connector.errors import (
    InputError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from runtime.connector.rate_limit import RateLimit
from runtime.connector.response import ApiResponse
from runtime.stores import json_text
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.telemetry import Telemetry

_NOT_SENT: Final = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""No connection was opened: nothing reached the service."""


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


def _parse_json(text: str) -> tuple[bool, Any]:
    """(parsed, body): an empty body is parsed as None; unreadable JSON gives (False, None)."""
    if not text.strip():
        return True, None
    try:
        return True, json_text.loads(text)
    except ValueError:
        return False, None


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


async def _read(response: aiohttp.ClientResponse, max_bytes: int | None) -> bytes:
    """The whole body, or :class:`ResponseTooLargeError` as soon as it passes ``max_bytes``
    (nothing more is read: a huge answer costs no more memory than the cap)."""
    if max_bytes is None:
        return await response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLargeError(
                f"HTTP {response.status}: the answer is longer than {max_bytes} bytes",
                status=response.status,
            )
        chunks.append(chunk)
    return b"".join(chunks)


class Transport:
    """Sends requests of one service over a shared session; ``timeout`` (seconds) replaces the
    session's. ``label`` names the service in messages (e.g. ``Widgets``), ``table``
    classifies its error answers.

    Every exchange is counted in ``telemetry`` by service and status (``error``: no answer).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        logger: FilteringBoundLogger,
        *,
        service: str,
        label: str,
        table: ErrorTable = DEFAULT_ERRORS,
        timeout: float | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        self._session = session
        self._log = logger
        self._service = service
        self._label = label
        self._table = table
        self._telemetry = telemetry
        self._options: dict[str, Any] = (
            {} if timeout is None else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        )

    @property
    def service(self) -> str:
        return self._service

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secret: str | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        expect_json: bool = True,
        allow_redirects: bool = True,
        max_bytes: int | None = None,
        on_rate_limit: Callable[[RateLimit], None] | None = None,
    ) -> ApiResponse:
        """Send one request with ``headers`` (``secret`` is the credential they carry: it is
        scrubbed from an error answer that repeats it).

        Raises the classified error for a status of 400 or more, :class:`TransportError` when
        there was no answer, and :class:`ServerError` when ``expect_json`` and the success
        body is not JSON. ``on_rate_limit`` is given the rate-limit headers of every answer,
        error answers included, before anything is raised. A body longer than ``max_bytes``
        raises :class:`ResponseTooLargeError` once that many bytes were read.
        """
        parts = urlsplit(url)
        request = f"{method} {parts.path}"
        sent_headers = {"Accept": "application/json", **(headers or {})}
        if json is not None:
            if data is not None:
                raise ValueError("a request has a JSON body or data, not both")
            # orjson (through json_text) rather than aiohttp's json.dumps: a few microseconds
            # per call on the hot path.
            data = json_text.dumps_bytes(json)
            sent_headers.setdefault("Content-Type", "application/json")
        started = time.perf_counter()
        try:
            async with self._session.request(
                method,
                url,
                params=query_pairs(params),
                data=data,
                headers=sent_headers,
                allow_redirects=allow_redirects,
                **self._options,
            ) as response:
                raw = await _read(response, max_bytes)
                status = response.status
                response_headers = dict(response.headers)
        except ResponseTooLargeError as exc:
            self._telemetry.api_call(self._service, "error")
            exc.service = self._service
            exc.args = (f"{request} failed: {exc}",)
            raise
        except aiohttp.InvalidURL as exc:
            where = f"{parts.scheme}://{parts.netloc}{parts.path}"
            raise InputError("apiBase", f"{where} is not a valid URL") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._telemetry.api_call(self._service, "error")
            reason = _reason(exc, time.perf_counter() - started)
            self._log.debug(
                "api call failed",
                service=self._service,
                method=method,
                path=parts.path,
                reason=reason,
            )
            raise TransportError(
                f"{request} failed: {reason}",
                sent=not isinstance(exc, _NOT_SENT),
                service=self._service,
            ) from exc
        self._telemetry.api_call(self._service, status)
        self._log.debug(
            "api call",
            service=self._service,
            method=method,
            path=parts.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        rate_limit = RateLimit.from_headers(response_headers)
        if on_rate_limit is not None:
            on_rate_limit(rate_limit)
        text = raw.decode(errors="replace")
        if status >= 400 and secret and secret in text:
            # A server may echo what it got: the secret must not reach a message or a port.
            text = text.replace(secret, "***")
        parsed, body = _parse_json(text)
        answer = ApiResponse(status, response_headers, body, text, rate_limit)
        if status >= 400:
            raise classify(
                status,
                body,
                response_headers,
                table=self._table,
                label=self._label,
                service=self._service,
                request=request,
                response=answer,
            )
        if expect_json and not parsed:
            raise ServerError(
                f"{request} failed: HTTP {status} with a body that is not JSON",
                status=status,
                service=self._service,
                response=answer,
            )
        return answer
