"""CreatePin with every kind of media, run in a flow against the emulator.

Videos are downloaded from a small file server on 127.0.0.1 (started here), then go through
the emulator's media endpoints: register, upload, wait for ``succeeded``, create the Pin.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from components.pinterest.create_pin import MEDIA_KINDS, media_kind
from components.pinterest.emulator.server import serving
from runtime.connector.errors import InputError
from tests.pinterest.component_kit import run_component

RECIPES = "600000000000000001"
DESSERTS = "700000000000000001"
MISSING_BOARD = "600000000000009999"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
IMAGE = "https://images.example/soup.jpg"


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """A file server: videos that work, that are empty, missing, failing, big, untyped."""

    async def clip(request: web.Request) -> web.Response:
        return web.Response(body=VIDEO, content_type="video/mp4")

    async def untyped(request: web.Request) -> web.Response:
        return web.Response(body=VIDEO, content_type="application/octet-stream")

    async def empty(request: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="video/mp4")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00" * 1_100_000, content_type="video/mp4")

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    app = web.Application()
    app.router.add_get("/clip.mp4", clip)
    app.router.add_get("/holiday.mov", untyped)
    app.router.add_get("/empty.mp4", empty)
    app.router.add_get("/big.mp4", big)
    app.router.add_get("/failing.mp4", failing)
    async with serving(app, "127.0.0.1", 0) as base:
        yield base


def media_sources(harness) -> list[dict]:
    return [
        json.loads(e.request_body)["media_source"]
        for e in harness.exchanges
        if e.operation_id == "pins/create"
    ]


# -- images --------------------------------------------------------------------------------------


async def test_create_pin_from_an_image_address_with_every_pin_field(emulator):
    event = {
        "boardId": RECIPES,
        "boardSectionId": DESSERTS,
        "imageUrl": IMAGE,
        "title": "Soup",
        "description": "Hot and red",
        "link": "https://flowmixer.invalid/soup",
        "altText": "A bowl of soup",
        "dominantColor": "#aa3322",
    }
    outcome = await run_component(emulator, "CreatePin", [event])

    [pin] = outcome.sent()
    assert (pin["board_id"], pin["board_section_id"], pin["title"]) == (RECIPES, DESSERTS, "Soup")
    assert (pin["description"], pin["link"], pin["alt_text"], pin["dominant_color"]) == (
        "Hot and red",
        "https://flowmixer.invalid/soup",
        "A bowl of soup",
        "#aa3322",
    )
    assert pin["media"]["media_type"] == "image"
    assert media_sources(emulator) == [{"source_type": "image_url", "url": IMAGE}]
    assert outcome.operations == ["pins/create"]


async def test_create_pin_from_base64_image_bytes(emulator):
    data = base64.b64encode(png()).decode()
    event = {"boardId": RECIPES, "imageBase64": data, "contentType": "image/png"}
    outcome = await run_component(emulator, "CreatePin", [event])

    [pin] = outcome.sent()
    assert pin["media"]["media_type"] == "image"
    assert media_sources(emulator) == [
        {"source_type": "image_base64", "content_type": "image/png", "data": data}
    ]


async def test_create_pin_dead_letters_bytes_that_are_not_of_the_given_type_with_pinterests_message(
    emulator,
):
    event = {
        "boardId": RECIPES,
        "imageBase64": base64.b64encode(png()).decode(),
        "contentType": "image/jpeg",
    }
    outcome = await run_component(emulator, "CreatePin", [event])

    assert outcome.dead_letters[0].error_type == "BadRequestError"
    assert outcome.error.endswith(
        "HTTP 400, Pinterest code 1: Invalid parameter:"
        " media_source.data is not a image/jpeg image."
    )


async def test_create_pin_makes_a_carousel_of_images_each_with_its_own_text(emulator):
    images = [
        {"url": "https://images.example/1.jpg", "title": "Step 1", "link": "https://x.invalid/1"},
        {"url": "https://images.example/2.jpg", "description": "Stir"},
        {"url": "https://images.example/3.jpg"},
    ]
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": RECIPES, "images": images, "title": "How to"}]
    )

    [pin] = outcome.sent()
    assert pin["media"]["media_type"] == "multiple_images"
    assert pin["creative_type"] == "CAROUSEL"
    assert [item.get("title") for item in pin["media"]["items"]] == ["Step 1", None, None]
    assert media_sources(emulator) == [{"source_type": "multiple_image_urls", "items": images}]


@pytest.mark.parametrize("count", [1, 6], ids=["one image", "six images"])
async def test_create_pin_dead_letters_a_carousel_of_the_wrong_size_naming_the_field(
    emulator, count
):
    images = [{"url": f"https://images.example/{n}.jpg"} for n in range(count)]
    outcome = await run_component(emulator, "CreatePin", [{"boardId": RECIPES, "images": images}])

    assert "$.images: " in outcome.error
    assert outcome.operations == []


# -- exactly one kind of media -------------------------------------------------------------------


MEDIA_VALUES = {
    "imageUrl": IMAGE,
    "imageBase64": "AAAA",
    "images": [{"url": IMAGE}, {"url": IMAGE}],
    "videoUrl": "https://videos.example/clip.mp4",
}


@given(kinds=st.sets(st.sampled_from(MEDIA_KINDS)))
def test_create_pin_takes_exactly_one_kind_of_media_and_names_the_ones_given(kinds):
    message = {kind: MEDIA_VALUES[kind] for kind in kinds}
    if "imageBase64" in kinds:
        message["contentType"] = "image/png"
    if len(kinds) == 1:
        assert media_kind(message) == next(iter(kinds))
        return
    with pytest.raises(InputError) as refused:
        media_kind(message)
    assert refused.value.field == "media"
    given_kinds = [kind for kind in MEDIA_KINDS if kind in kinds]
    assert refused.value.problem.endswith(f"({' and '.join(given_kinds) or 'none'} given)")


@pytest.mark.parametrize(
    ("media", "error"),
    [
        (
            {},
            "media: give exactly one of imageUrl, imageBase64, images or videoUrl (none given)",
        ),
        (
            {"imageUrl": IMAGE, "videoUrl": "http://127.0.0.1:1/clip.mp4"},
            "media: give exactly one of imageUrl, imageBase64, images or videoUrl"
            " (imageUrl and videoUrl given)",
        ),
        (
            {"imageBase64": "AAAA"},
            "contentType: is needed with imageBase64, and only then (image/jpeg or image/png)",
        ),
        (
            {"imageUrl": IMAGE, "contentType": "image/png"},
            "contentType: is needed with imageBase64, and only then (image/jpeg or image/png)",
        ),
        (
            {"imageUrl": IMAGE, "coverImageKeyFrameTime": 2},
            "coverImageKeyFrameTime: is only for a video (videoUrl)",
        ),
        (
            {
                "videoUrl": "http://127.0.0.1:1/clip.mp4",
                "coverImageUrl": IMAGE,
                "coverImageKeyFrameTime": 2,
            },
            "coverImageUrl: give it or coverImageKeyFrameTime, not both",
        ),
    ],
    ids=[
        "no media",
        "two kinds",
        "base64 without its type",
        "a type without base64",
        "a cover for an image",
        "two covers",
    ],
)
async def test_create_pin_dead_letters_anything_but_exactly_one_kind_of_media(
    emulator, media, error
):
    outcome = await run_component(emulator, "CreatePin", [{"boardId": RECIPES, **media}])

    assert outcome.dead_letters[0].error_type == "InputError"
    assert outcome.error == error
    assert outcome.operations == []


@pytest.mark.parametrize(
    ("field", "limit"),
    [("title", 100), ("description", 800), ("link", 2048), ("altText", 500)],
    ids=["title", "description", "link", "alt text"],
)
async def test_create_pin_dead_letters_text_over_its_limit_naming_the_field(emulator, field, limit):
    event = {"boardId": RECIPES, "imageUrl": IMAGE, field: "a" * (limit + 1)}
    outcome = await run_component(emulator, "CreatePin", [event])

    assert f"$.{field}: 'aaa" in outcome.error
    assert outcome.operations == []


async def test_create_pin_dead_letters_a_missing_board_with_pinterests_message(emulator):
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": MISSING_BOARD, "imageUrl": IMAGE}]
    )

    assert outcome.error.endswith("HTTP 404, Pinterest code 40: Board not found.")


# -- video ---------------------------------------------------------------------------------------


async def test_create_pin_uploads_a_video_and_pins_it_with_a_cover_image(emulator, files):
    event = {
        "boardId": RECIPES,
        "videoUrl": f"{files}/clip.mp4",
        "coverImageUrl": IMAGE,
        "title": "Soup in 30 s",
    }
    outcome = await run_component(emulator, "CreatePin", [event])

    [pin] = outcome.sent()
    assert (pin["title"], pin["media"]["media_type"], pin["creative_type"]) == (
        "Soup in 30 s",
        "video",
        "VIDEO",
    )
    [media] = emulator.emu.state.media.values()
    assert (media.size, media.status) == (len(VIDEO), "succeeded")  # uploaded in full
    assert outcome.operations == ["media/create", "media/get", "pins/create"]
    assert media_sources(emulator) == [
        {"source_type": "video_id", "media_id": media.id, "cover_image_url": IMAGE}
    ]
    upload = [e for e in emulator.exchanges if e.path.startswith("/media-upload/")]
    assert [e.status for e in upload] == [204]
    assert "Authorization" not in upload[0].request_headers  # no token leaves for the storage


async def test_create_pin_takes_a_video_cover_from_a_key_frame(emulator, files):
    event = {"boardId": RECIPES, "videoUrl": f"{files}/clip.mp4", "coverImageKeyFrameTime": 3}
    outcome = await run_component(emulator, "CreatePin", [event])

    assert outcome.sent()[0]["media"]["media_type"] == "video"
    [source] = media_sources(emulator)
    assert source["cover_image_key_frame_time"] == 3


async def test_create_pin_covers_a_video_with_its_first_frame_when_no_cover_is_given(
    emulator, files
):
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": RECIPES, "videoUrl": f"{files}/clip.mp4"}]
    )

    assert len(outcome.sent()) == 1
    [source] = media_sources(emulator)
    assert source["cover_image_key_frame_time"] == 0


async def test_create_pin_guesses_the_video_type_from_its_name_when_the_server_does_not_say(
    emulator, files
):
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": RECIPES, "videoUrl": f"{files}/holiday.mov"}]
    )

    assert len(outcome.sent()) == 1
    [upload] = [e for e in emulator.exchanges if e.path.startswith("/media-upload/")]
    assert b'filename="holiday.mov"' in upload.request_body
    assert b"Content-Type: video/quicktime" in upload.request_body


async def test_create_pin_waits_while_pinterest_processes_the_video(make_emulator, files):
    async with make_emulator(media_processing_seconds=30) as harness:

        def finish_processing(exchange) -> None:
            # the component has just read "processing": the processing ends now
            if exchange.operation_id == "media/get":
                harness.clock.advance(31)
                stop()

        stop = harness.emu.observe(finish_processing)
        event = {"boardId": RECIPES, "videoUrl": f"{files}/clip.mp4"}
        outcome = await run_component(harness, "CreatePin", [event])

    assert outcome.sent()[0]["media"]["media_type"] == "video"
    assert outcome.operations == ["media/create", "media/get", "media/get", "pins/create"]


async def test_create_pin_retries_a_video_still_processing_at_the_timeout(make_emulator, files):
    async with make_emulator(media_processing_seconds=3600) as harness:
        event = {"boardId": RECIPES, "videoUrl": f"{files}/clip.mp4"}
        outcome = await run_component(harness, "CreatePin", [event], properties={"videoTimeout": 1})

    [letter] = outcome.dead_letters
    assert letter.error_type == "MediaNotReadyError"  # a RetryError, out of attempts here
    assert letter.error.endswith("is still processing after 1 s")
    assert "pins/create" not in outcome.operations


async def test_create_pin_dead_letters_a_video_pinterest_could_not_process(emulator, files):
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": RECIPES, "videoUrl": f"{files}/empty.mp4"}]
    )

    assert outcome.dead_letters[0].error_type == "MediaFailedError"
    assert outcome.error.startswith("Pinterest could not process the video of media ")
    assert outcome.operations == ["media/create", "media/get"]


async def test_create_pin_dead_letters_a_video_address_that_is_not_found(emulator, files):
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": RECIPES, "videoUrl": f"{files}/gone.mp4"}]
    )

    assert outcome.dead_letters[0].error_type == "CancelError"
    assert outcome.error == "videoUrl: downloading the video failed with HTTP 404"
    assert outcome.operations == []


async def test_create_pin_retries_a_video_download_the_server_fails(emulator, files):
    outcome = await run_component(
        emulator,
        "CreatePin",
        [{"boardId": RECIPES, "videoUrl": f"{files}/failing.mp4"}],
        max_attempts=2,
    )

    assert (outcome.stats.retried, outcome.stats.dead_lettered) == (1, 1)
    assert outcome.error == "videoUrl: downloading the video failed with HTTP 503"


async def test_create_pin_refuses_a_video_over_the_size_limit_before_uploading(emulator, files):
    outcome = await run_component(
        emulator,
        "CreatePin",
        [{"boardId": RECIPES, "videoUrl": f"{files}/big.mp4"}],
        properties={"maxVideoMegabytes": 1},
    )

    assert outcome.error == "videoUrl: the video is larger than 1,000,000 bytes"
    assert outcome.operations == []


async def test_create_pin_retries_a_video_server_that_does_not_answer(emulator):
    outcome = await run_component(
        emulator, "CreatePin", [{"boardId": RECIPES, "videoUrl": "http://127.0.0.1:9/clip.mp4"}]
    )

    assert outcome.dead_letters[0].error_type == "RetryError"
    assert outcome.error == "videoUrl: downloading the video failed (ClientConnectorError)"
