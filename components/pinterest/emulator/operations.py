"""The Pinterest API v5 operations the emulator serves: path, scopes and rate-limit category.

A hand-written table, not a copy of the OpenAPI description; a test compares it with the
description (``security`` and ``x-ratelimit-category`` of each operation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ORGANIC_SCOPES: Final = (
    "boards:read",
    "boards:read_secret",
    "boards:write",
    "boards:write_secret",
    "pins:read",
    "pins:read_secret",
    "pins:write",
    "pins:write_secret",
    "user_accounts:read",
    "user_accounts:write",
)
"""The scopes of organic content (the default scopes of tokens issued by tests)."""

ALL_SCOPES: Final = frozenset(
    (
        *ORGANIC_SCOPES,
        "ads:read",
        "ads:write",
        "billing:read",
        "billing:write",
        "biz_access:read",
        "biz_access:write",
        "catalogs:read",
        "catalogs:write",
        "msot:write",
    )
)
"""Every v5 scope; the authorize page and the token endpoint refuse any other."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One API operation; ``path`` is the template below ``/v5``.

    ``scopes`` must all be granted to a user token (one security requirement is an AND);
    ``client_credentials`` says whether an app token with the same scopes is accepted too.
    An empty ``scopes`` with ``basic=True`` means HTTP Basic client authentication instead.
    """

    method: str
    path: str
    operation_id: str
    scopes: frozenset[str]
    category: str
    client_credentials: bool = False
    basic: bool = False


def _op(
    method: str, path: str, operation_id: str, scopes: str, category: str, *, cc: bool = False
) -> Operation:
    return Operation(method, path, operation_id, frozenset(scopes.split()), category, cc)


_BOARDS_R = "boards:read"
_BOARDS_RW = "boards:read boards:write"
_PINS_R = "boards:read pins:read"
_PINS_RW = "boards:read boards:write pins:read pins:write"

OPERATIONS: Final = (
    Operation("POST", "/oauth/token", "oauth/token", frozenset(), "org_read", basic=True),
    Operation("POST", "/oauth/token/revoke", "token/revoke", frozenset(), "org_write", basic=True),
    _op("GET", "/user_account", "user_account/get", "user_accounts:read", "org_read", cc=True),
    _op("GET", "/boards", "boards/list", _BOARDS_R, "org_read", cc=True),
    _op("POST", "/boards", "boards/create", _BOARDS_RW, "org_write", cc=True),
    _op("GET", "/boards/{board_id}", "boards/get", _BOARDS_R, "org_read", cc=True),
    _op("PATCH", "/boards/{board_id}", "boards/update", _BOARDS_RW, "org_write", cc=True),
    _op("DELETE", "/boards/{board_id}", "boards/delete", _BOARDS_RW, "org_write"),
    _op("GET", "/boards/{board_id}/pins", "boards/list_pins", _PINS_R, "org_read", cc=True),
    _op(
        "GET", "/boards/{board_id}/sections", "board_sections/list", _BOARDS_R, "org_read", cc=True
    ),
    _op("POST", "/boards/{board_id}/sections", "board_sections/create", _BOARDS_RW, "org_write"),
    _op(
        "PATCH",
        "/boards/{board_id}/sections/{section_id}",
        "board_sections/update",
        _BOARDS_RW,
        "org_write",
    ),
    _op(
        "DELETE",
        "/boards/{board_id}/sections/{section_id}",
        "board_sections/delete",
        _BOARDS_RW,
        "org_write",
    ),
    _op(
        "GET",
        "/boards/{board_id}/sections/{section_id}/pins",
        "board_sections/list_pins",
        _PINS_R,
        "org_read",
        cc=True,
    ),
    _op("GET", "/pins", "pins/list", _PINS_R, "org_read", cc=True),
    _op("POST", "/pins", "pins/create", _PINS_RW, "org_write", cc=True),
    _op("GET", "/pins/{pin_id}", "pins/get", _PINS_R, "org_read", cc=True),
    _op("PATCH", "/pins/{pin_id}", "pins/update", _PINS_RW, "org_write", cc=True),
    _op("DELETE", "/pins/{pin_id}", "pins/delete", _PINS_RW, "org_write", cc=True),
    _op("POST", "/pins/{pin_id}/save", "pins/save", _PINS_RW, "org_write"),
    _op("GET", "/media", "media/list", "pins:read", "org_read"),
    _op("POST", "/media", "media/create", "pins:read pins:write", "org_write"),
    _op("GET", "/media/{media_id}", "media/get", "pins:read", "org_read"),
    _op(
        "GET",
        "/search/pins",
        "search_user_pins/list",
        "boards:read boards:read_secret pins:read pins:read_secret",
        "org_read",
    ),
    _op(
        "GET",
        "/search/boards",
        "search_user_boards/get",
        "boards:read boards:read_secret",
        "org_read",
        cc=True,
    ),
)
"""Every operation the emulator answers under ``/v5``."""
