"""Pinterest's error answers become typed errors that say what happens next, without secrets."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import structlog
from aiohttp import web
from structlog.testing import capture_logs

from components.pinterest.client import PinterestClient
from components.pinterest.connector import PINTEREST
from components.pinterest.errors import MediaFailedError, MediaNotReadyError, PaginationError
from runtime.connector.answers import classify as classify_with
from runtime.connector.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.connector.rate_limit import RateLimit
from runtime.errors import CancelError, ComponentError, ReauthorizeError, RetryError
from tests.pinterest.stub_api import StubApi, SwappingCredentials, answer, drop_connection

TOKEN = "pina_SECRET-token-0123456789abcdef"
SECOND_TOKEN = "pina_SECOND-secret-token-fedcba9876"


def classify(
    status: int, body: object, headers: dict[str, str], *, request: str | None = None
) -> ServiceError:
    """An answer classified as the Pinterest connector does."""
    return classify_with(
        status, body, headers, table=PINTEREST.errors, label=PINTEREST.label, request=request
    )


def debug_logger() -> structlog.typing.FilteringBoundLogger:
    """A logger that keeps debug lines whatever the process-wide level (made inside capture)."""
    logger: structlog.typing.FilteringBoundLogger = structlog.wrap_logger(
        None, wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )
    return logger


# -- the tree --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "next_step"),
    [
        (InputError, CancelError),
        (BadRequestError, CancelError),
        (UnauthorizedError, ReauthorizeError),
        (ForbiddenError, CancelError),
        (NotFoundError, CancelError),
        (ConflictError, RetryError),
        (RateLimitedError, RetryError),
        (ServerError, RetryError),
        (TransportError, RetryError),
        (MediaFailedError, CancelError),
        (MediaNotReadyError, RetryError),
    ],
    ids=lambda v: v.__name__,
)
def test_each_error_is_a_pinterest_error_that_tells_the_engine_what_to_do(error, next_step):
    assert issubclass(error, ServiceError)
    assert issubclass(error, next_step)
    assert issubclass(ServiceError, ComponentError)


def test_a_repeated_bookmark_is_left_to_the_retry_policy():
    assert not issubclass(PaginationError, CancelError | RetryError | ReauthorizeError)


# -- classify --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (405, BadRequestError),
        (409, ConflictError),
        (413, BadRequestError),
        (422, BadRequestError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
    ids=str,
)
def test_an_error_status_is_classified_by_what_happens_next(status, error):
    exc = classify(status, {"code": 7, "message": "Something."}, {})

    assert type(exc) is error
    assert (exc.status, exc.code, exc.api_message) == (status, 7, "Something.")


def test_the_message_keeps_the_request_and_pinterests_code_and_message():
    exc = classify(404, {"code": 40, "message": "Board not found."}, {}, request="GET /boards/1")

    assert str(exc) == "GET /boards/1 failed: HTTP 404, Pinterest code 40: Board not found."
    assert "Board not found." in repr(exc)
    assert "status=404" in repr(exc)


@pytest.mark.parametrize(
    "body",
    [None, "<html>Bad gateway</html>", [1, 2], {"error": "x"}, {"code": "8", "message": 5}],
    ids=["no-body", "text", "list", "other-object", "wrong-types"],
)
def test_a_body_that_is_not_pinterests_error_shape_keeps_the_status_alone(body):
    exc = classify(502, body, {})

    assert isinstance(exc, ServerError)
    assert (exc.code, exc.api_message) == (None, None)
    assert str(exc) == "Pinterest answered HTTP 502 (no Pinterest error message)"


def test_a_long_or_multiline_api_message_is_cut_to_one_short_line():
    exc = classify(400, {"code": 1, "message": "bad\n  value " + "x" * 1000}, {})

    assert exc.api_message is not None
    assert exc.api_message.startswith("bad value xxx")
    assert len(exc.api_message) == 300
    assert "\n" not in str(exc)


def test_a_rate_limited_answer_waits_as_long_as_retry_after_says():
    exc = classify(429, {"code": 8, "message": "Slow down."}, {"Retry-After": "7"})

    assert isinstance(exc, RateLimitedError)
    assert exc.wait == exc.delay == 7
    assert str(exc) == "Pinterest answered HTTP 429, Pinterest code 8: Slow down. (retry in 7 s)"


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "3", "X-RateLimit-Reset": "60"}, 3.0),
        ({"X-RateLimit-Reset": "42"}, 42.0),
        ({"x-ratelimit-reset": "1700000030"}, 30.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        ({"Retry-After": "-5"}, 0.0),
    ],
    ids=["retry-after-wins", "reset-seconds", "reset-epoch", "unreadable", "none", "negative"],
)
def test_the_wait_comes_from_retry_after_else_the_reset_header(headers, wait):
    assert RateLimit.from_headers(headers).wait(now=1_700_000_000) == wait


def test_retry_after_may_be_an_http_date():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    header = {"Retry-After": format_datetime(now + timedelta(seconds=90), usegmt=True)}

    assert RateLimit.from_headers(header, now=now).retry_after == 90


def test_without_a_hint_a_rate_limited_error_leaves_the_delay_to_the_retry_policy():
    exc = classify(429, {"code": 8, "message": "Slow down."}, {})

    assert isinstance(exc, RateLimitedError)
    assert exc.wait is None
    assert exc.delay is None


# -- over HTTP -------------------------------------------------------------------------------

ANSWERS = [
    (400, 1, "Invalid parameters.", BadRequestError),
    (401, 2, "Authentication failed.", UnauthorizedError),
    (403, 29, "You are not permitted to access that resource.", ForbiddenError),
    (404, 40, "Board not found.", NotFoundError),
    (409, 409, "Board section conflict.", ConflictError),
    (429, 8, "Rate limit exceeded.", RateLimitedError),
    (500, 500, "Could not create a new board section.", ServerError),
    (503, 503, "Service unavailable.", ServerError),
]


@pytest.mark.parametrize(
    ("status", "code", "message", "error"), ANSWERS, ids=[str(a[0]) for a in ANSWERS]
)
async def test_a_real_error_answer_raises_its_class_with_code_and_message_and_no_token(
    stub, session, status, code, message, error
):
    stub.on("GET", "/boards/1", answer(status, {"code": code, "message": message}))
    credentials = SwappingCredentials(TOKEN, SECOND_TOKEN)

    with capture_logs() as logs:
        client = PinterestClient.connect(
            session, credentials, api_base=stub.base, logger=debug_logger()
        )
        with pytest.raises(error) as raised:
            await client.request("GET", "/boards/1", params={"query": "private words"})

    exc = raised.value
    assert (exc.status, exc.code, exc.api_message) == (status, code, message)
    assert str(exc) == f"GET /v5/boards/1 failed: HTTP {status}, Pinterest code {code}: {message}"
    rendered = [str(exc), repr(exc), repr(logs)]
    for text in rendered:
        assert TOKEN not in text
        assert SECOND_TOKEN not in text
        assert "private words" not in text
    assert [e["status"] for e in logs if e["event"] == "api call"] == (
        [401, 401] if status == 401 else [status]
    )


async def test_a_token_the_server_echoes_in_its_message_is_hidden(stub, session):
    stub.on("GET", "/pins/1", answer(400, {"code": 1, "message": f"bad token {TOKEN} here"}))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(BadRequestError) as raised:
        await client.request("GET", "/pins/1")

    assert TOKEN not in str(raised.value)
    assert raised.value.api_message == "bad token *** here"


async def test_an_html_error_page_keeps_its_status_but_none_of_its_text(stub, session):
    page = b"<html><body>502 Bad Gateway from the proxy</body></html>"
    stub.on("GET", "/boards", answer(502, raw=page, content_type="text/html"))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(ServerError) as raised:
        await client.request("GET", "/boards")

    assert raised.value.status == 502
    assert raised.value.code is None
    assert "proxy" not in str(raised.value)
    assert str(raised.value) == "GET /v5/boards failed: HTTP 502 (no Pinterest error message)"


async def test_a_success_whose_body_is_not_json_is_a_server_error(stub, session):
    stub.on("GET", "/user_account", answer(200, raw=b"<html>maintenance</html>"))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(ServerError, match="HTTP 200 with a body that is not JSON"):
        await client.request("GET", "/user_account")


async def test_a_rate_limited_answer_over_http_carries_the_wait(stub, session):
    headers = {"Retry-After": "12", "X-RateLimit-Remaining": "0"}
    stub.on("GET", "/boards", answer(429, {"code": 8, "message": "Slow down."}, headers=headers))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(RateLimitedError) as raised:
        await client.request("GET", "/boards")

    assert raised.value.wait == raised.value.delay == 12


async def test_a_dropped_connection_is_a_transport_error(stub, session):
    stub.on("POST", "/pins", drop_connection)
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(TransportError) as raised:
        await client.request("POST", "/pins", json={"title": "private body"})

    exc = raised.value
    assert exc.status is None
    assert str(exc) == "POST /v5/pins failed: the server closed the connection before answering"
    assert TOKEN not in repr(exc)
    assert "private body" not in repr(exc)


async def test_a_refused_connection_is_a_transport_error(session):
    async with StubApi().running() as gone:
        base = gone.base  # the port is closed once the stub has stopped
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=base)

    with pytest.raises(TransportError, match=r"GET /v5/boards failed: cannot connect to 127\.0"):
        await client.request("GET", "/boards")


async def test_no_answer_within_the_timeout_is_a_transport_error(stub, session):
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response({})

    stub.on("GET", "/boards", slow)
    client = PinterestClient.connect(
        session, SwappingCredentials(TOKEN), api_base=stub.base, timeout=0.05
    )

    try:
        with pytest.raises(TransportError, match=r"GET /v5/boards failed: no answer within"):
            await client.request("GET", "/boards")
    finally:
        release.set()


async def test_an_answer_of_the_wrong_shape_is_named_without_quoting_it(stub, session):
    stub.on("GET", "/boards/1", answer(200, {"name": "private board name"}))
    client = PinterestClient.connect(session, SwappingCredentials(TOKEN), api_base=stub.base)

    with pytest.raises(ServiceError) as raised:
        await client.get_board("1")

    assert str(raised.value) == (
        "GET /boards/1: the answer is not a valid Board (id: Field required)"
    )
    assert "private board name" not in repr(raised.value)
    assert raised.value.__cause__ is None
