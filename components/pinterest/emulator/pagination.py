"""Bookmark pagination: ``page_size`` 1..250 (default 25) and opaque ``bookmark`` cursors.

A bookmark is URL-safe base64 of ``{"o": offset, "l": listing}``, where ``listing`` is a short
hash of what is being listed (operation, filters, caller); a bookmark that does not decode, or
that belongs to another listing, is refused with 400. Listings are re-read on every page, so
items added while a client pages may shift the offsets, as with the real cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from aiohttp import web

from components.pinterest.emulator.errors import invalid

T = TypeVar("T")

DEFAULT_PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 250


def page_size(request: web.Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    raw = request.query.get("page_size")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise invalid(
            f"Invalid parameter: page_size must be a whole number from 1 to {MAX_PAGE_SIZE},"
            f" not {raw!r}."
        )
    return int(raw)


def listing_key(*parts: object) -> str:
    """A short fingerprint of a listing, for binding bookmarks to it."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode_bookmark(offset: int, listing: str) -> str:
    raw = json.dumps({"o": offset, "l": listing}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_bookmark(bookmark: str, listing: str) -> int:
    """The offset a bookmark points at; 400 when it is not one of this listing's bookmarks."""
    try:
        raw = base64.urlsafe_b64decode(bookmark + "=" * (-len(bookmark) % 4))
        data = json.loads(raw)
        offset = data["o"]
        ok = isinstance(offset, int) and offset > 0 and data["l"] == listing
    except (binascii.Error, ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise invalid(
            "Invalid parameter: bookmark is not a bookmark of this listing; send back the"
            " bookmark of the previous page unchanged, with the same filters."
        )
    return int(offset)


def paginate(
    request: web.Request,
    items: Sequence[T],
    render: Callable[[T], dict[str, Any]],
    listing: str,
    size: int,
) -> dict[str, Any]:
    """One page of ``items`` as ``{"items": [...], "bookmark": str | None}``."""
    bookmark = request.query.get("bookmark")
    offset = decode_bookmark(bookmark, listing) if bookmark else 0
    page = items[offset : offset + size]
    end = offset + len(page)
    return {
        "items": [render(item) for item in page],
        "bookmark": encode_bookmark(end, listing) if end < len(items) else None,
    }
