"""PinterestClient over real HTTP: auth and its one retry, the wire format, every method."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
import structlog
from structlog.testing import capture_logs

from components.pinterest.base import client_for
from components.pinterest.client import PinterestClient
from components.pinterest.connector import DEFAULT_API_BASE, PINTEREST
from components.pinterest.emulator import FaultPlan, RateLimits
from components.pinterest.errors import MediaFailedError, MediaNotReadyError
from components.pinterest.models import Board, BoardSection, Media, MediaUpload, Pin, UserAccount
from runtime.connector import api_base_for
from runtime.connector.errors import (
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.credentials import StaticCredentials
from runtime.errors import CancelError, ReauthorizeError
from tests.pinterest.emulator_harness import EmulatorHarness
from tests.pinterest.stub_api import (
    Handler,
    RecordingNode,
    SwappingCredentials,
    answer,
    pages,
)

STALE = "pina_STALE-token-aaaaaaaaaaaa"
FRESH = "pina_FRESH-token-bbbbbbbbbbbb"
IMAGE = {"source_type": "image_url", "url": "https://example.com/soup.jpg"}


def only_token(token: str) -> Handler:
    """A handler that answers 200 to ``token`` and Pinterest's 401 to anything else."""

    async def handle(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        if request.headers.get("Authorization") == f"Bearer {token}":
            return aiohttp.web.json_response({"id": "1", "username": "cook"})
        return aiohttp.web.json_response(
            {"code": 2, "message": "Authentication failed."}, status=401
        )

    return handle


# -- auth ------------------------------------------------------------------------------------


async def test_every_call_carries_the_bearer_token_of_the_credentials(stub, session):
    stub.on("GET", "/user_account", answer(200, {"id": "1"}))
    client = PinterestClient.connect(session, SwappingCredentials(FRESH), api_base=stub.base)

    await client.get_user_account()

    [call] = stub.seen
    assert call.headers["Authorization"] == f"Bearer {FRESH}"
    assert call.headers["Accept"] == "application/json"


async def test_a_rejected_token_is_reported_once_and_the_call_retried_with_a_fresh_one(
    stub, session
):
    stub.on("GET", "/user_account", only_token(FRESH))
    credentials = SwappingCredentials(STALE, FRESH)
    client = PinterestClient.connect(session, credentials, api_base=stub.base)

    account = await client.get_user_account()

    assert account.username == "cook"
    assert credentials.rejected == [STALE]
    assert credentials.token_requests == 2
    assert [c.headers["Authorization"] for c in stub.seen] == [
        f"Bearer {STALE}",
        f"Bearer {FRESH}",
    ]


async def test_a_second_401_raises_unauthorized_without_another_refresh(stub, session):
    stub.on("GET", "/user_account", only_token("pina_nobody-has-this"))
    credentials = SwappingCredentials(STALE, FRESH)
    client = PinterestClient.connect(session, credentials, api_base=stub.base)

    with pytest.raises(UnauthorizedError) as raised:
        await client.get_user_account()

    assert isinstance(raised.value, ReauthorizeError)
    assert credentials.rejected == [STALE]
    assert len(stub.seen) == 2
    assert FRESH not in repr(raised.value)
    assert STALE not in repr(raised.value)


async def test_credentials_that_cannot_refresh_ask_for_reauthorization_after_one_call(
    stub, session
):
    stub.on("GET", "/user_account", only_token(FRESH))
    credentials = StaticCredentials("acme:pinterest", STALE)
    client = PinterestClient.connect(session, credentials, api_base=stub.base)

    with pytest.raises(ReauthorizeError, match="refused the configured access token") as raised:
        await client.get_user_account()

    assert len(stub.seen) == 1
    assert STALE not in str(raised.value)


async def test_a_token_lacking_a_scope_is_not_refreshed_since_that_cannot_help(emulator):
    credentials = SwappingCredentials(emulator.token(scopes=["boards:read"]), FRESH)
    client = PinterestClient.connect(emulator.session, credentials, api_base=emulator.api)

    with pytest.raises(UnauthorizedError, match=r"code 3: .*user_accounts:read") as raised:
        await client.get_user_account()

    assert not raised.value.refreshable
    assert credentials.rejected == []


class EmulatorCredentials:
    """Refreshes as the auth provider would: a rejected token is replaced by a new one."""

    service = "acme:pinterest"
    account = None
    settings: dict[str, str] = {}

    def __init__(self, harness: EmulatorHarness) -> None:
        self._harness = harness
        self._token = harness.token()
        self.refreshes = 0

    async def access_token(self) -> str:
        return self._token

    async def token_rejected(self, token: str) -> None:
        self.refreshes += 1
        self._token = self._harness.token()


async def test_an_expired_token_is_refreshed_and_the_call_succeeds(make_emulator):
    async with make_emulator(access_token_seconds=60) as harness:
        credentials = EmulatorCredentials(harness)
        client = PinterestClient.connect(harness.session, credentials, api_base=harness.api)
        harness.clock.advance(61)

        account = await client.get_user_account()

    assert account.username == "flowmixer_demo"
    assert credentials.refreshes == 1
    assert [e.status for e in harness.exchanges] == [401, 200]


# -- the wire --------------------------------------------------------------------------------


async def test_query_lists_repeat_booleans_are_words_and_none_is_left_out(stub, session):
    stub.on("GET", "/pins", answer(200, {"ok": True}))
    client = PinterestClient.connect(session, SwappingCredentials(FRESH), api_base=stub.base)

    response = await client.request(
        "GET",
        "/pins",
        params={"creative_types": ["REGULAR", "VIDEO"], "pin_metrics": True, "bookmark": None},
    )

    assert response.status == 200
    assert response.body == {"ok": True}
    assert stub.seen[0].query == [
        ("creative_types", "REGULAR"),
        ("creative_types", "VIDEO"),
        ("pin_metrics", "true"),
    ]


async def test_json_bodies_are_sent_as_json(stub, session):
    stub.on("POST", "/boards", answer(201, {"id": "5", "name": "Soups"}))
    client = PinterestClient.connect(session, SwappingCredentials(FRESH), api_base=stub.base + "/")

    board = await client.create_board(name="Soups")

    assert board == Board(id="5", name="Soups")
    assert stub.seen[0].json() == {"name": "Soups", "privacy": "PUBLIC"}
    assert stub.seen[0].headers["Content-Type"] == "application/json"


async def test_rate_limit_headers_are_read_into_the_response(stub, session):
    headers = {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "998",
        "X-RateLimit-Reset": "41",
    }
    stub.on("GET", "/boards", answer(200, {"items": []}, headers=headers))
    client = PinterestClient.connect(session, SwappingCredentials(FRESH), api_base=stub.base)

    response = await client.request("GET", "/boards")

    limit = response.rate_limit
    assert (limit.limit, limit.remaining, limit.reset, limit.retry_after) == (1000, 998, 41, None)
    assert limit.known


async def test_an_answer_without_rate_limit_headers_has_an_empty_rate_limit(stub, session):
    stub.on("DELETE", "/pins/1", answer(204))
    client = PinterestClient.connect(session, SwappingCredentials(FRESH), api_base=stub.base)

    response = await client.request("DELETE", "/pins/1")

    assert (response.status, response.body) == (204, None)
    assert not response.rate_limit.known


async def test_each_call_is_logged_at_debug_with_method_path_status_and_duration_only(
    stub, session
):
    stub.on("GET", "/search/boards", pages({"items": [], "bookmark": None}))
    with capture_logs() as logs:
        logger = structlog.wrap_logger(
            None, wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
        )
        client = PinterestClient.connect(
            session, SwappingCredentials(FRESH), api_base=stub.base, logger=logger
        )
        assert [b async for b in client.search_boards("secret recipe")] == []

    [entry] = logs
    assert entry["event"] == "api call"
    assert entry["log_level"] == "debug"
    assert set(entry) == {
        "event",
        "log_level",
        "service",
        "method",
        "path",
        "status",
        "duration_ms",
    }
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v5/search/boards", 200)
    assert entry["duration_ms"] >= 0
    assert "secret recipe" not in repr(logs)
    assert FRESH not in repr(logs)


async def test_the_client_repr_shows_the_api_base_and_no_credentials(session):
    credentials = StaticCredentials("acme:pinterest", FRESH)
    client = PinterestClient.connect(session, credentials, api_base="http://127.0.0.1:1/v5/")

    assert repr(client) == "PinterestClient(api_base='http://127.0.0.1:1/v5')"
    assert client.api_base == "http://127.0.0.1:1/v5"


async def test_an_upload_without_an_upload_url_is_refused(session):
    client = PinterestClient.connect(
        session, SwappingCredentials(FRESH), api_base="http://127.0.0.1:1"
    )

    with pytest.raises(ServiceError, match="media 5 has no upload URL"):
        await client.upload_media(
            MediaUpload(media_id="5"), b"x", filename="v.mp4", content_type="video/mp4"
        )


async def test_the_upload_goes_to_the_upload_url_with_its_parameters_and_no_token(stub, session):
    stub.on("POST", "/upload", answer(204))
    client = PinterestClient.connect(
        session, SwappingCredentials(FRESH), api_base="http://127.0.0.1:1"
    )
    upload = MediaUpload(
        media_id="5",
        upload_url=stub.base.removesuffix("/v5") + "/upload?signature=abc",
        upload_parameters={"key": "uploads/5", "policy": "p"},
    )

    await client.upload_media(upload, b"VIDEO", filename="v.mp4", content_type="video/mp4")

    [call] = stub.seen
    assert "Authorization" not in call.headers
    assert call.query == [("signature", "abc")]
    assert b'name="key"' in call.body
    assert b"uploads/5" in call.body
    assert b'name="file"; filename="v.mp4"' in call.body
    assert b"VIDEO" in call.body


# -- client_for ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "environ", "expected"),
    [
        ({"apiBase": "http://127.0.0.1:9/v5/"}, {"PINTEREST_API_BASE": "http://x"}, "http://127.0.0.1:9/v5"),
        ({}, {"PINTEREST_API_BASE": "http://127.0.0.1:8/v5"}, "http://127.0.0.1:8/v5"),
        ({"apiBase": ""}, {}, DEFAULT_API_BASE),
        (None, {}, DEFAULT_API_BASE),
    ],
    ids=["setting-wins", "environment", "empty-setting", "default"],
)  # fmt: skip
def test_the_api_base_comes_from_the_setting_else_the_environment_else_production(
    settings, environ, expected
):
    assert api_base_for(PINTEREST, settings, environ) == expected


async def test_client_for_uses_the_contexts_session_and_credentials(stub, session, monkeypatch):
    monkeypatch.delenv(PINTEREST.api_base_variable, raising=False)
    stub.on("GET", "/user_account", answer(200, {"id": "1", "username": "cook"}))
    credentials = SwappingCredentials(FRESH, settings={"apiBase": stub.base + "/"})
    context = RecordingNode(session=session, auth=credentials).context()

    client = client_for(context)

    assert client.api_base == stub.base
    assert (await client.get_user_account()).username == "cook"
    assert credentials.token_requests == 1


def test_client_for_without_an_account_cancels_with_a_clear_sentence():
    context = RecordingNode().context()

    with pytest.raises(CancelError, match="no account: the flow must be started with credentials"):
        client_for(context)


# -- every method against the emulator ---------------------------------------------------------


def client_of(harness: EmulatorHarness) -> PinterestClient:
    credentials = StaticCredentials("acme:pinterest", harness.token())
    return PinterestClient.connect(harness.session, credentials, api_base=harness.api)


@pytest.fixture
def api(emulator):
    """A client of a running emulator whose every exchange is checked against the spec."""
    return client_of(emulator), emulator


async def collect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


async def test_the_user_account_parses_into_its_model(api):
    client, _ = api

    account = await client.get_user_account()

    assert isinstance(account, UserAccount)
    assert account.username == "flowmixer_demo"
    assert account.account_type == "BUSINESS"
    assert isinstance(account.board_count, int)


async def test_boards_are_created_read_changed_listed_searched_and_deleted(api):
    client, _ = api

    board = await client.create_board(name="Soups", description="Warm", privacy="SECRET")
    assert (board.name, board.description, board.privacy) == ("Soups", "Warm", "SECRET")
    assert board.created_at is not None

    changed = await client.update_board(board.id, name="Stews", privacy="PUBLIC")
    assert (changed.name, changed.privacy) == ("Stews", "PUBLIC")
    assert (await client.get_board(board.id)).name == "Stews"
    assert board.id in {b.id for b in await collect(client.list_boards())}
    assert board.id not in {b.id for b in await collect(client.list_boards(privacy="SECRET"))}
    assert [b.id for b in await collect(client.search_boards("Stews"))] == [board.id]

    await client.delete_board(board.id)
    with pytest.raises(NotFoundError, match="Pinterest code 40: Board not found"):
        await client.get_board(board.id)


async def test_sections_are_created_renamed_listed_and_deleted(api):
    client, _ = api
    board = await client.create_board(name="Desserts")

    section = await client.create_board_section(board.id, "Cakes")
    renamed = await client.update_board_section(board.id, section.id, "Pies")
    listed = await collect(client.list_board_sections(board.id))
    await client.delete_board_section(board.id, section.id)

    assert isinstance(section, BoardSection)
    assert renamed == BoardSection(id=section.id, name="Pies")
    assert listed == [renamed]
    assert await collect(client.list_board_sections(board.id)) == []


async def test_pins_are_created_read_changed_listed_saved_and_deleted(api):
    client, _ = api
    board = await client.create_board(name="Soups")
    other = await client.create_board(name="Favourites")
    section = await client.create_board_section(board.id, "Cold")

    pin = await client.create_pin(
        {
            "board_id": board.id,
            "board_section_id": section.id,
            "title": "Gazpacho",
            "alt_text": "A bowl",
            "media_source": IMAGE,
        }
    )
    assert isinstance(pin, Pin)
    assert (pin.board_id, pin.board_section_id, pin.title) == (board.id, section.id, "Gazpacho")
    assert pin.media is not None
    assert pin.media.media_type == "image"

    changed = await client.update_pin(pin.id, {"title": "Cold soup"})
    assert changed.title == (await client.get_pin(pin.id)).title == "Cold soup"
    assert [p.id for p in await collect(client.list_board_pins(board.id))] == [pin.id]
    in_section = client.list_board_pins(board.id, section_id=section.id)
    assert [p.id for p in await collect(in_section)] == [pin.id]
    regular = client.list_board_pins(board.id, creative_types=["REGULAR"])
    assert [p.id for p in await collect(regular)] == [pin.id]
    assert pin.id in {p.id for p in await collect(client.list_pins(pin_filter="exclude_repins"))}

    saved = await client.save_pin(pin.id, board_id=other.id)
    assert (saved.board_id, saved.parent_pin_id) == (other.id, pin.id)

    await client.delete_pin(pin.id)
    with pytest.raises(NotFoundError):
        await client.get_pin(pin.id)


async def test_pins_are_found_by_search(api):
    client, _ = api

    found = await collect(client.search_pins("tomato soup"))

    assert [p.title for p in found] == ["Weeknight tomato soup"]


async def test_a_video_is_registered_uploaded_and_waited_for_then_pinned(make_emulator):
    async with make_emulator(media_processing_seconds=1) as harness:
        client = client_of(harness)
        board = harness.emu.add_board("Videos")
        harness.emu.observe(lambda exchange: harness.clock.advance(0.3))  # time passes per call

        upload = await client.register_media()
        await client.upload_media(
            upload, b"\x00\x00\x00\x18ftypmp42", filename="v.mp4", content_type="video/mp4"
        )
        media = await client.wait_for_media(upload.media_id, first_delay=0.01, max_delay=0.05)
        pin = await client.create_pin(
            {
                "board_id": board.id,
                "media_source": {
                    "source_type": "video_id",
                    "media_id": upload.media_id,
                    "cover_image_url": "https://example.com/cover.jpg",
                },
            }
        )

    assert upload.media_type == "video"
    assert upload.upload_url
    assert upload.upload_parameters
    assert media == Media(media_id=upload.media_id, media_type="video", status="succeeded")
    polls = [e for e in harness.exchanges if e.path == f"/v5/media/{upload.media_id}"]
    assert len(polls) >= 2  # processing at first, then succeeded
    assert pin.media is not None
    assert pin.media.media_type == "video"
    assert pin.creative_type == "VIDEO"


async def test_a_video_pinterest_cannot_process_fails_for_good(api):
    client, _ = api
    upload = await client.register_media()
    await client.upload_media(upload, b"", filename="empty.mp4", content_type="video/mp4")

    with pytest.raises(MediaFailedError, match=f"media {upload.media_id}"):
        await client.wait_for_media(upload.media_id, first_delay=0.01)
    media = await client.get_media(upload.media_id)
    assert (media.media_id, media.status) == (upload.media_id, "failed")


async def test_a_video_still_processing_at_the_deadline_is_retried_later(make_emulator):
    async with make_emulator(media_processing_seconds=60) as harness:
        client = client_of(harness)
        upload = await client.register_media()
        await client.upload_media(upload, b"data", filename="v.mp4", content_type="video/mp4")

        with pytest.raises(MediaNotReadyError, match=r"still processing after 0\.05 s") as raised:
            await client.wait_for_media(upload.media_id, timeout=0.05, first_delay=0.01)

    assert raised.value.media_id == upload.media_id


async def test_pages_are_followed_across_the_emulator_up_to_the_limit(api):
    client, harness = api
    board = harness.emu.add_board("Many")
    for n in range(7):
        harness.emu.add_pin(board.id, title=f"pin {n}")

    pins = await collect(
        client.paginate(f"/boards/{board.id}/pins", page_size=2, limit=5, model=Pin)
    )

    assert len({p.id for p in pins}) == 5
    assert [e.query.get("page_size") for e in harness.exchanges] == ["2", "2", "1"]
    first, *following = [e.query.get("bookmark") for e in harness.exchanges]
    assert first is None
    assert len(set(following)) == 2
    assert None not in following


# -- error answers from the emulator ---------------------------------------------------------


async def test_an_invalid_body_the_client_did_not_check_gets_pinterests_400(api):
    client, harness = api
    board = harness.emu.add_board("Any")

    with harness.deliberately_invalid(), pytest.raises(BadRequestError) as raised:
        await client.request("POST", f"/boards/{board.id}/sections", json={"name": ""})

    assert raised.value.status == 400
    assert raised.value.api_message


async def test_an_unknown_board_is_pinterests_404_with_its_code(api):
    client, _ = api

    with pytest.raises(NotFoundError) as raised:
        await client.get_board("123")

    assert (
        str(raised.value)
        == "GET /v5/boards/123 failed: HTTP 404, Pinterest code 40: Board not found."
    )


async def test_the_emulators_rate_limit_becomes_a_wait(make_emulator):
    async with make_emulator(rate_limits=RateLimits(per_user={"org_read": 1})) as harness:
        client = client_of(harness)
        first = await client.request("GET", "/user_account")

        with pytest.raises(RateLimitedError) as raised:
            await client.get_user_account()

    assert first.rate_limit.remaining == 0
    assert raised.value.code == 8
    assert raised.value.wait is not None
    assert 0 < raised.value.wait <= 60
    assert raised.value.delay == raised.value.wait


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        (FaultPlan(error_rate=1.0, error_statuses=(503,)), ServerError),
        (FaultPlan(drop_before_rate=1.0), TransportError),
        (FaultPlan(drop_after_rate=1.0), TransportError),
    ],
    ids=["503", "dropped-before", "dropped-after"],
)
async def test_the_emulators_injected_faults_become_retryable_errors(make_emulator, plan, error):
    async with make_emulator(faults=plan) as harness:
        client = client_of(harness)

        with pytest.raises(error):
            await client.create_board(name="Never answered")


class RecordingTelemetry:
    """Keeps what the client reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | str]] = []

    def api_call(self, service: str, status: int | str) -> None:
        self.calls.append((service, status))

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        raise AssertionError("no wait expected")

    def token_refresh(self, service: str, *, ok: bool) -> None:
        raise AssertionError("a static token is never refreshed")


async def test_every_exchange_is_counted_by_status_and_an_unanswered_one_as_an_error(
    make_emulator,
):
    telemetry = RecordingTelemetry()
    async with make_emulator(faults=FaultPlan(drop_before_rate=1.0, max_faults=1)) as harness:
        client = PinterestClient.connect(
            harness.session,
            StaticCredentials("acme:pinterest", harness.token()),
            api_base=harness.api,
            telemetry=telemetry,
        )
        with pytest.raises(TransportError):
            await client.create_board(name="Dropped")
        await client.get_board("600000000000000001")
        with pytest.raises(NotFoundError):
            await client.get_board("999")

    assert telemetry.calls == [
        ("acme:pinterest", "error"),
        ("acme:pinterest", 200),
        ("acme:pinterest", 404),
    ]
