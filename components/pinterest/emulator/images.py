"""``GET /images/{key}``: images the emulator holds (base64 uploads, placeholders)."""

from __future__ import annotations

import base64
from typing import Final

from aiohttp import web

from components.pinterest.emulator.context import emulator
from components.pinterest.emulator.state import State

PLACEHOLDER_PNG: Final = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGN4xqAMAALZAQqXY+/mAAAAAElFTkSuQmCC"
)
"""A 1x1 PNG, the picture of seeded Pins and of videos without a cover image."""


def placeholder(state: State, key: str) -> str:
    """Serve the placeholder under ``key``; answers the path to put in a Pin's media."""
    state.images.setdefault(key, ("image/png", PLACEHOLDER_PNG))
    return f"/images/{key}"


async def serve(request: web.Request) -> web.Response:
    found = emulator(request).state.images.get(request.match_info["key"])
    if found is None:
        return web.Response(status=404, text="No such image.")
    content_type, data = found
    return web.Response(body=data, content_type=content_type)
