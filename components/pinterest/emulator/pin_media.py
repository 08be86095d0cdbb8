"""``PinCreate.media_source``: every ``source_type`` checked and turned into a Pin's media.

Base64 images must be JPEG or PNG data matching their ``content_type``; they are stored and
served by the emulator under ``/images/``. A ``video_id`` source needs a media upload of the
caller that has ``succeeded``. Carousels take 2 to 5 images.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from aiohttp import web

from components.pinterest.emulator import validation
from components.pinterest.emulator.context import caller, emulator
from components.pinterest.emulator.errors import invalid
from components.pinterest.emulator.images import placeholder
from components.pinterest.emulator.state import PinMedia, Slide

SOURCE_TYPES: Final = (
    "image_url",
    "image_base64",
    "video_id",
    "multiple_image_urls",
    "multiple_image_base64",
    "pin_url",
)
CONTENT_TYPES: Final = ("image/jpeg", "image/png")
BASE64: Final = re.compile(r"^[a-zA-Z0-9+/=]+$")
_MAGIC: Final = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
_WHERE: Final = "media_source."


def media_from_source(request: web.Request, body: dict[str, Any]) -> tuple[PinMedia, bool]:
    """``(media, is_standard)`` for the ``media_source`` of a Pin being created."""
    source = body.get("media_source")
    if source is None:
        raise invalid("Invalid parameter: media_source is required.")
    if not isinstance(source, dict):
        raise invalid("Invalid parameter: media_source must be an object.")
    kind = validation.choice(source, "source_type", SOURCE_TYPES, where=_WHERE)
    if kind is None:
        raise invalid("Invalid parameter: media_source.source_type is required.")
    standard = validation.flag(source, "is_standard", True, where=_WHERE)
    if kind == "image_url":
        url = validation.text(source, "url", where=_WHERE, required=True, min_length=1)
        return PinMedia("image", image_url=url), standard
    if kind == "image_base64":
        return PinMedia("image", image_url=_stored_image(request, source, _WHERE)), standard
    if kind == "video_id":
        return _video(request, source), standard
    if kind == "pin_url":
        raise invalid("Invalid parameter: media_source.source_type pin_url is not supported here.")
    validation.whole(source, "index", where=_WHERE)
    items = validation.objects(source, "items", where=_WHERE, min_items=2, max_items=5)
    slides = []
    for n, item in enumerate(items):
        where = f"{_WHERE}items[{n}]."
        if kind == "multiple_image_urls":
            url = str(validation.text(item, "url", where=where, required=True, min_length=1))
        else:
            url = _stored_image(request, item, where)
        slides.append(
            Slide(
                url,
                validation.text(item, "title", where=where),
                validation.text(item, "description", where=where),
                validation.text(item, "link", where=where),
            )
        )
    return PinMedia("multiple_images", slides=slides), True


def _video(request: web.Request, source: dict[str, Any]) -> PinMedia:
    emu = emulator(request)
    media_id = validation.digits(source, "media_id", where=_WHERE, required=True)
    media = emu.state.media.get(media_id or "")
    if media is None or media.owner_id != caller(request).user_id:
        raise invalid(f"Invalid parameter: media_source.media_id {media_id} is not a media upload.")
    status = media.status_at(emu.clock(), emu.config.media_processing_seconds)
    if status != "succeeded":
        raise invalid(
            f"Invalid parameter: media_source.media_id {media_id} is {status}; create the Pin"
            " after GET /v5/media/{media_id} reports succeeded."
        )
    validation.whole(source, "cover_image_key_frame_time", where=_WHERE)
    cover = validation.text(source, "cover_image_url", where=_WHERE)
    if source.get("cover_image_data") is not None:
        fields = {
            "content_type": source.get("cover_image_content_type"),
            "data": source["cover_image_data"],
        }
        cover = _stored_image(request, fields, _WHERE + "cover_image_")
    if cover is None:
        cover = placeholder(emu.state, f"{media_id}-frame.png")
    return PinMedia("video", image_url=cover, media_id=media_id)


def _stored_image(request: web.Request, fields: dict[str, Any], where: str) -> str:
    """Check base64 image fields, keep the image, and answer the path it is served at."""
    content_type = validation.choice(fields, "content_type", CONTENT_TYPES, where=where)
    if content_type is None:
        raise invalid(f"Invalid parameter: {where}content_type is required.")
    data = str(validation.text(fields, "data", where=where, required=True, pattern=BASE64))
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"Invalid parameter: {where}data is not valid base64.") from None
    if not raw.startswith(_MAGIC[content_type]):
        raise invalid(f"Invalid parameter: {where}data is not a {content_type} image.")
    state = emulator(request).state
    key = f"{state.new_id()}.{content_type.split('/')[1]}"
    state.images[key] = (content_type, raw)
    return f"/images/{key}"
