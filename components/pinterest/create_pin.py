"""CreatePin: a Pin from an image address, an image's bytes, a carousel of images or a video.

A video is downloaded from its address with the shared HTTP session (no Pinterest token is
sent there), registered and uploaded as Pinterest media, and the Pin is made once Pinterest
has processed it. The uploaded media's id is noted in the effects ledger, so a retried message
(e.g. after the processing timeout) waits for that upload instead of uploading again.

A Pin is made once per event and input even when the message is delivered again or an answer
is lost (:mod:`runtime.connector.idempotent`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from components.pinterest.base import client_for
from components.pinterest.client import PinterestClient
from components.pinterest.errors import MediaFailedError
from components.pinterest.lookups import pin_lookup
from components.pinterest.pins import pin_body
from runtime.component import Component, Context
from runtime.connector import InputError, NotFoundError
from runtime.connector.idempotent import create_once, reuse
from runtime.effects import Effect
from runtime.errors import CancelError, RetryError

MEDIA_KINDS: Final = ("imageUrl", "imageBase64", "images", "videoUrl")
VIDEO_COVERS: Final = ("coverImageUrl", "coverImageKeyFrameTime")
_CHUNK: Final = 1 << 16
_DOWNLOAD_TIMEOUT: Final = aiohttp.ClientTimeout(total=600, sock_connect=30, sock_read=60)


def media_kind(message: Mapping[str, Any]) -> str:
    """The one media input ``message`` gives; a clear error when it gives none or several."""
    given = [name for name in MEDIA_KINDS if message.get(name) is not None]
    if len(given) != 1:
        what = " and ".join(given) if given else "none"
        raise InputError(
            "media", f"give exactly one of imageUrl, imageBase64, images or videoUrl ({what} given)"
        )
    kind = given[0]
    if (kind == "imageBase64") != (message.get("contentType") is not None):
        raise InputError(
            "contentType", "is needed with imageBase64, and only then (image/jpeg or image/png)"
        )
    covers = [name for name in VIDEO_COVERS if message.get(name) is not None]
    if covers and kind != "videoUrl":
        raise InputError(covers[0], "is only for a video (videoUrl)")
    if len(covers) > 1:
        raise InputError("coverImageUrl", "give it or coverImageKeyFrameTime, not both")
    return kind


def image_source(kind: str, message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``media_source`` of an image, an image's bytes or a carousel."""
    if kind == "imageUrl":
        return {"source_type": "image_url", "url": message["imageUrl"]}
    if kind == "imageBase64":
        content_type, data = message["contentType"], message["imageBase64"]
        return {"source_type": "image_base64", "content_type": content_type, "data": data}
    return {"source_type": "multiple_image_urls", "items": [dict(i) for i in message["images"]]}


async def download(session: aiohttp.ClientSession, url: str, max_bytes: int) -> tuple[bytes, str]:
    """The bytes and content type at ``url``; the address is never quoted (it may be signed)."""
    too_big = f"the video is larger than {max_bytes:,} bytes"
    try:
        async with session.get(url, timeout=_DOWNLOAD_TIMEOUT) as response:
            if response.status >= 400:
                failed = (
                    RetryError
                    if response.status in (408, 429) or response.status >= 500
                    else CancelError
                )
                raise failed(f"videoUrl: downloading the video failed with HTTP {response.status}")
            if (response.content_length or 0) > max_bytes:
                raise InputError("videoUrl", too_big)
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise InputError("videoUrl", too_big)
            return bytes(data), response.content_type
    except aiohttp.InvalidURL as exc:
        raise InputError("videoUrl", "is not a valid address") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RetryError(f"videoUrl: downloading the video failed ({type(exc).__name__})") from exc


async def upload_video(context: Context, client: PinterestClient, url: str, effect: Effect) -> str:
    """Download and upload the video at ``url``; its media id, noted for later attempts."""
    data, content_type = await download(
        context.http, url, context.properties["maxVideoMegabytes"] * 1_000_000
    )
    filename = PurePosixPath(urlsplit(url).path).name or "video.mp4"
    if not content_type.startswith("video/"):
        guessed = mimetypes.guess_type(filename)[0] or ""
        content_type = guessed if guessed.startswith("video/") else "video/mp4"
    upload = await client.register_media()
    await client.upload_media(upload, data, filename=filename, content_type=content_type)
    await effect.note(media_id=upload.media_id)
    return upload.media_id


async def video_source(
    context: Context, client: PinterestClient, message: Mapping[str, Any], effect: Effect
) -> dict[str, Any]:
    """The uploaded video, processed; its ``media_source`` with the cover.

    An earlier attempt's upload is waited for rather than made again, unless Pinterest no
    longer knows it or could not process it (the file may have been fixed since).
    """
    timeout = context.properties["videoTimeout"]
    media_id = effect.notes.get("media_id")
    media = None
    if isinstance(media_id, str):
        try:
            media = await client.wait_for_media(media_id, timeout=timeout)
        except (NotFoundError, MediaFailedError):
            media = None
    if media is None:
        media_id = await upload_video(context, client, message["videoUrl"], effect)
        media = await client.wait_for_media(media_id, timeout=timeout)
    source: dict[str, Any] = {"source_type": "video_id", "media_id": media.media_id}
    if message.get("coverImageUrl") is not None:
        source["cover_image_url"] = message["coverImageUrl"]
    else:
        # null means "not given" (optional inputs accept null); the API wants a number.
        key_frame = message.get("coverImageKeyFrameTime")
        source["cover_image_key_frame_time"] = 0 if key_frame is None else key_frame
    return source


class CreatePin(Component):
    """Creates a Pin on ``boardId`` from exactly one of imageUrl, imageBase64, images, videoUrl."""

    async def receive(self, context: Context) -> None:
        message = context.message
        kind = media_kind(message)
        client = client_for(context)
        effect = await context.effects.begin(context.correlation_id, message)
        lookup = pin_lookup(client, effect, message, kind)
        pin = await reuse(context, effect, lookup)
        if pin is None:
            if kind == "videoUrl":
                source = await video_source(context, client, message, effect)
            else:
                source = image_source(kind, message)
            body = {**pin_body(message), "media_source": source}
            pin = await create_once(context, effect, lambda: client.create_pin(body), lookup)
        await context.send(pin)
