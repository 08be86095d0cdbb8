"""What a request handler can reach: the emulator, the matched operation, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from components.pinterest.emulator.emulator import Emulator
    from components.pinterest.emulator.operations import Operation

EMULATOR: web.AppKey[Emulator] = web.AppKey("emulator")
OPERATION: web.RequestKey[Operation] = web.RequestKey("operation")
CALLER: web.RequestKey[Caller] = web.RequestKey("caller")
DROPPED: web.RequestKey[str] = web.RequestKey("dropped")
"""``before`` or ``after`` the effect, when fault injection closed the connection."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes an API call: the token's user (the app owner for app tokens) and app."""

    user_id: str
    client_id: str
    scopes: frozenset[str]


def emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def caller(request: web.Request) -> Caller:
    """The authenticated caller (set by the auth middleware before any API handler runs)."""
    return request[CALLER]


def root_url(request: web.Request) -> str:
    """This server's own origin, e.g. ``http://127.0.0.1:8080`` (no trailing slash)."""
    return f"{request.scheme}://{request.host}"
