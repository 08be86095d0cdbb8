"""Video uploads: ``POST /v5/media``, ``GET /v5/media[/{id}]`` and the upload itself.

``POST /v5/media`` registers an upload and answers an ``upload_url`` on the emulator
(``<root>/media-upload/{media_id}``) with ``upload_parameters``; the client posts
``multipart/form-data`` there with every parameter plus the ``file`` (as it would to S3,
without the API token). A non-empty file makes the media ``processing``, then ``succeeded``
once ``media_processing_seconds`` have passed; an empty file makes it ``failed``.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
import secrets

from aiohttp import web

from components.pinterest.emulator import render, validation
from components.pinterest.emulator.clock import iso
from components.pinterest.emulator.context import caller, emulator, root_url
from components.pinterest.emulator.errors import invalid, json_response, media_not_found
from components.pinterest.emulator.pagination import listing_key, page_size, paginate
from components.pinterest.emulator.state import Media


async def create(request: web.Request) -> web.Response:
    emu = emulator(request)
    body = await validation.json_object(request)
    if validation.choice(body, "media_type", ("video",)) is None:
        raise invalid("Invalid parameter: media_type is required; use video.")
    media_id = emu.state.new_id()
    media = Media(media_id, caller(request).user_id, _upload_parameters(media_id, emu.clock()))
    emu.state.media[media_id] = media
    answer = {
        "media_id": media_id,
        "media_type": media.media_type,
        "upload_url": f"{root_url(request)}/media-upload/{media_id}",
        "upload_parameters": media.upload_parameters,
    }
    return json_response(answer, 201)


async def get(request: web.Request) -> web.Response:
    emu = emulator(request)
    media = emu.state.media.get(validation.path_id(request, "media_id"))
    if media is None or media.owner_id != caller(request).user_id:
        raise media_not_found()
    status = media.status_at(emu.clock(), emu.config.media_processing_seconds)
    return json_response(render.media(media, status))


async def list_media(request: web.Request) -> web.Response:
    emu, user_id = emulator(request), caller(request).user_id
    size = page_size(request)
    mine = sorted(
        (m for m in emu.state.media.values() if m.owner_id == user_id),
        key=lambda m: int(m.id),
        reverse=True,
    )
    now, delay = emu.clock(), emu.config.media_processing_seconds
    return json_response(
        paginate(
            request,
            mine,
            lambda m: render.media(m, m.status_at(now, delay)),
            listing_key("media/list", user_id),
            size,
        )
    )


async def upload(request: web.Request) -> web.Response:
    """The storage side of an upload: no API token, every upload parameter plus ``file``."""
    emu = emulator(request)
    media = emu.state.media.get(request.match_info["media_id"])
    if media is None:
        return web.Response(status=404, text="No such upload.")
    if media.status != "registered":
        return web.Response(status=400, text="This upload has already received its file.")
    fields = _multipart_fields(request.headers.get("Content-Type", ""), await request.read())
    if fields is None or "file" not in fields:
        return web.Response(status=400, text="Send multipart/form-data with a 'file' field.")
    wrong = [
        k
        for k, v in media.upload_parameters.items()
        if fields.get(k, b"").decode(errors="replace") != v
    ]
    if wrong:
        return web.Response(
            status=403, text="Missing or altered upload parameters: " + ", ".join(sorted(wrong))
        )
    media.size = len(fields["file"])
    media.status = "processing" if media.size else "failed"
    media.uploaded_at = emu.clock()
    return web.Response(status=204)


def _upload_parameters(media_id: str, now: float) -> dict[str, str]:
    stamp = iso(now).replace("-", "").replace(":", "") + "Z"
    policy = {"expiration": iso(now + 3600) + "Z", "conditions": [{"key": f"uploads/{media_id}"}]}
    return {
        "x-amz-date": stamp,
        "x-amz-signature": hashlib.sha256(media_id.encode()).hexdigest(),
        "x-amz-security-token": secrets.token_urlsafe(24),
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "key": f"uploads/{media_id}",
        "policy": base64.b64encode(json.dumps(policy).encode()).decode(),
        "x-amz-credential": f"EMULATOR/{stamp[:8]}/us-east-1/s3/aws4_request",
        "Content-Type": "multipart/form-data",
    }


def _multipart_fields(content_type: str, body: bytes) -> dict[str, bytes] | None:
    """The named parts of a ``multipart/form-data`` body, or ``None`` when it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    # The body was already read (observers get every request's bytes), so it is parsed here
    # with the standard library rather than streamed by aiohttp.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields
