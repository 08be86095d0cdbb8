"""Video uploads: register, upload to the emulator's storage URL, processing, video Pins."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

RECIPES = "600000000000000001"


async def register(h: EmulatorHarness) -> dict[str, Any]:
    answer = await h.call("POST", "/media", json={"media_type": "video"})
    assert answer.status == 201
    return dict(answer.body)


async def upload(
    h: EmulatorHarness, media: dict[str, Any], data: bytes, *, skip: str | None = None
) -> int:
    form = aiohttp.FormData()
    for key, value in media["upload_parameters"].items():
        if key != skip:
            form.add_field(key, value)
    form.add_field("file", data, filename="clip.mp4", content_type="video/mp4")
    async with h.session.post(media["upload_url"], data=form) as r:
        return r.status


async def status(h: EmulatorHarness, media_id: str) -> str:
    answer = await h.call("GET", f"/media/{media_id}")
    assert answer.status == 200
    return str(answer.body["status"])


def video_pin(media_id: str, **cover: Any) -> dict[str, Any]:
    source = {"source_type": "video_id", "media_id": media_id, **cover}
    return {"board_id": RECIPES, "title": "Clip", "media_source": source}


async def test_registering_answers_an_upload_url_on_the_emulator(emulator: EmulatorHarness) -> None:
    media = await register(emulator)
    assert media["media_type"] == "video"
    assert media["upload_url"] == f"{emulator.base}/media-upload/{media['media_id']}"
    assert set(media["upload_parameters"]) == {
        "x-amz-date",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-algorithm",
        "key",
        "policy",
        "x-amz-credential",
        "Content-Type",
    }
    assert await status(emulator, media["media_id"]) == "registered"


async def test_an_upload_is_processing_until_its_time_has_passed(
    make_emulator: MakeEmulator,
) -> None:
    async with make_emulator(media_processing_seconds=30) as h:
        media = await register(h)
        data = b"\x00\x00\x00\x18ftypmp42\r\n" + bytes(range(256))
        assert await upload(h, media, data) == 204
        assert h.emu.state.media[media["media_id"]].size == len(data)
        assert await status(h, media["media_id"]) == "processing"
        early = await h.call("POST", "/pins", json=video_pin(media["media_id"]))
        assert early.status == 400
        assert "is processing" in early.body["message"]
        h.clock.advance(30)
        assert await status(h, media["media_id"]) == "succeeded"
        listed = await h.call("GET", "/media")
        assert listed.body["items"] == [
            {"media_id": media["media_id"], "media_type": "video", "status": "succeeded"}
        ]


async def test_a_video_pin_is_made_from_a_succeeded_upload(emulator: EmulatorHarness) -> None:
    media = await register(emulator)
    assert await upload(emulator, media, b"video bytes") == 204
    assert await status(emulator, media["media_id"]) == "succeeded"
    cover = {"cover_image_url": "https://img.invalid/cover.jpg"}
    answer = await emulator.call("POST", "/pins", json=video_pin(media["media_id"], **cover))
    assert answer.status == 201
    assert answer.body["creative_type"] == "VIDEO"
    assert answer.body["media"]["media_type"] == "video"
    assert answer.body["media"]["cover_image_url"] == "https://img.invalid/cover.jpg"
    frame = await emulator.call(
        "POST", "/pins", json=video_pin(media["media_id"], cover_image_key_frame_time=3)
    )
    assert frame.body["media"]["cover_image_url"].startswith(emulator.base + "/images/")


async def test_a_video_pin_needs_an_upload_that_exists(emulator: EmulatorHarness) -> None:
    answer = await emulator.call("POST", "/pins", json=video_pin("123"))
    assert answer.status == 400
    assert "media_source.media_id 123 is not a media upload" in answer.body["message"]
    media = await register(emulator)
    registered = await emulator.call("POST", "/pins", json=video_pin(media["media_id"]))
    assert "is registered" in registered.body["message"]


async def test_an_empty_file_fails(emulator: EmulatorHarness) -> None:
    media = await register(emulator)
    assert await upload(emulator, media, b"") == 204
    assert await status(emulator, media["media_id"]) == "failed"


async def test_an_upload_without_every_parameter_is_refused(emulator: EmulatorHarness) -> None:
    media = await register(emulator)
    assert await upload(emulator, media, b"video", skip="policy") == 403
    assert await status(emulator, media["media_id"]) == "registered"
    assert await upload(emulator, media, b"video") == 204
    assert await upload(emulator, media, b"again") == 400


async def test_only_video_media_can_be_registered(emulator: EmulatorHarness) -> None:
    with emulator.deliberately_invalid() as problems:
        answer = await emulator.call("POST", "/media", json={"media_type": "image"})
    emulator.assert_spec_problems(problems)
    assert answer.status == 400
    assert "media_type is 'image'; use one of: video" in answer.body["message"]


async def test_unknown_media_is_not_found(emulator: EmulatorHarness) -> None:
    answer = await emulator.call("GET", "/media/123")
    assert (answer.status, answer.body["code"]) == (404, 404)
