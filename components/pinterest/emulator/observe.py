"""Every exchange the emulator has, handed to observers (tests check them against the spec).

The outermost middleware: it reads the request body once (handlers read the cached bytes),
gives every answer an ``x-pinterest-rid`` request id, turns refusals raised anywhere into
Pinterest error bodies, and calls each observer with an :class:`Exchange`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from multidict import CIMultiDictProxy, MultiMapping

from components.pinterest.emulator.context import DROPPED, OPERATION
from components.pinterest.emulator.errors import ApiError, error_response


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its answer.

    ``dropped`` is ``"before"`` or ``"after"`` when fault injection closed the connection
    (before: ``status`` is 0 and nothing was done; after: the effect happened and ``status``
    and ``response_body`` are what the client never received), else ``None``.
    ``operation_id`` is ``None`` for non-API paths (authorize page, uploads, images).
    """

    method: str
    path: str
    query: MultiMapping[str]
    request_headers: CIMultiDictProxy[str]
    request_body: bytes
    status: int
    response_headers: CIMultiDictProxy[str]
    response_body: bytes
    operation_id: str | None
    dropped: str | None


Observer = Callable[[Exchange], None]


def middleware(observers: list[Observer]) -> Middleware:
    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = b""
        try:
            body = await request.read()
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            response = error_response(exc.status, exc.status, _http_message(exc))
        response.headers["x-pinterest-rid"] = secrets.token_hex(8)
        if observers:
            exchange = _exchange(request, body, response)
            for observer in list(observers):
                observer(exchange)
        return response

    return observe


def _http_message(exc: web.HTTPException) -> str:
    if exc.status == 404:
        return "Not found: there is no such endpoint."
    if exc.status == 405:
        return "Method not allowed on this endpoint."
    return exc.reason


def _exchange(request: web.Request, body: bytes, response: web.StreamResponse) -> Exchange:
    dropped = request.get(DROPPED)
    answer = response.body if isinstance(response, web.Response) else None
    sent = bytes(answer) if isinstance(answer, bytes | bytearray) and dropped != "before" else b""
    operation = request.get(OPERATION)
    return Exchange(
        method=request.method,
        path=request.path,
        query=request.query,
        request_headers=request.headers,
        request_body=body,
        status=0 if dropped == "before" else response.status,
        response_headers=CIMultiDictProxy(response.headers.copy()),
        response_body=sent,
        operation_id=operation.operation_id if operation is not None else None,
        dropped=dropped,
    )
