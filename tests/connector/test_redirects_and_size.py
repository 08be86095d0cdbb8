"""The service client may leave a redirect unfollowed and caps how much of an answer it reads."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from runtime.connector import ResponseTooLargeError, ServiceClient
from runtime.errors import CancelError
from tests.connector.loopback import ACME, LoopbackService, Reply, Tokens, reply


def client(session: aiohttp.ClientSession, service: LoopbackService) -> ServiceClient:
    return ServiceClient(session, ACME, Tokens("tok-1"), api_base=service.base)


def moved(location: str) -> Reply:
    async def handle(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location)

    return handle


async def test_a_redirect_is_followed_by_default_and_returned_when_refused(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/old", moved("/api/new"))
    service.on("GET", "/api/new", reply(200, {"here": True}))

    followed = await client(session, service).request("GET", "/old")
    refused = await client(session, service).request(
        "GET", "/old", allow_redirects=False, expect_json=False
    )

    assert followed.body == {"here": True}
    assert refused.status == 302
    assert refused.headers["Location"] == "/api/new"
    assert len(service.requests("GET", "/api/new")) == 1


@pytest.mark.parametrize("size", [10, 64 * 1024 + 1], ids=["small", "several-chunks"])
async def test_an_answer_longer_than_max_bytes_is_refused_without_a_retry(
    service: LoopbackService, session: aiohttp.ClientSession, size: int
):
    service.on("GET", "/api/big", reply(200, text="x" * (size + 1)))

    with pytest.raises(ResponseTooLargeError) as caught:
        await client(session, service).request("GET", "/big", max_bytes=size)

    assert isinstance(caught.value, CancelError)
    assert f"longer than {size} bytes" in str(caught.value)
    assert str(caught.value).startswith("GET /api/big failed")
    exact = await client(session, service).request(
        "GET", "/big", max_bytes=size + 1, expect_json=False
    )
    assert len(exact.text) == size + 1
