"""Pinterest error answers: ``{"code": int, "message": str}`` with the matching HTTP status.

Handlers raise :class:`ApiError`; one middleware turns it into the response. The factories below
carry the codes the real API uses (see the table in the module's design notes): 1 invalid
parameter, 2 authentication failed, 3 missing scopes, 8 rate limited, 29 not permitted,
30 user, 40 board, 50 pin, 2031 section not found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An API call refused with ``status`` and the Pinterest error ``code`` and ``message``."""

    def __init__(
        self, status: int, code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, self.headers)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``data`` as compact UTF-8 JSON (the body is bytes, so observers can read it back)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


def error_response(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return json_response({"code": code, "message": message}, status, headers)


def invalid(message: str) -> ApiError:
    """400 code 1: a parameter or body field is wrong; ``message`` names it."""
    return ApiError(400, 1, message)


def authentication_failed() -> ApiError:
    return ApiError(401, 2, "Authentication failed.")


def missing_scopes(message: str) -> ApiError:
    return ApiError(401, 3, message)


def not_permitted() -> ApiError:
    return ApiError(403, 29, "You are not permitted to access that resource.")


def rate_limited(message: str, headers: Mapping[str, str]) -> ApiError:
    return ApiError(429, 8, message, headers)


def board_not_found() -> ApiError:
    return ApiError(404, 40, "Board not found.")


def pin_not_found() -> ApiError:
    return ApiError(404, 50, "Pin not found.")


def section_not_found() -> ApiError:
    return ApiError(404, 2031, "Sorry! We couldn't find this board section.")


def media_not_found() -> ApiError:
    return ApiError(404, 404, "Media upload not found.")
