"""The service client: one call through circuit, quota, token and transport, for any connector."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from runtime.circuit import OPEN, Circuits
from runtime.component import Context
from runtime.connector import (
    ApiResponse,
    Connector,
    HeaderAuth,
    InputError,
    NotFoundError,
    RateLimitedError,
    Rule,
    ServerError,
    ServiceClient,
    TransportError,
    UnauthorizedError,
    api_base_for,
    client_for,
)
from runtime.connector.answers import DEFAULT_ERRORS, only
from runtime.errors import CancelError, ReauthorizeError, ServiceUnavailableError
from runtime.manifest import QuotaRule
from runtime.quota import Quotas, QuotaWaitError
from runtime.retry import RateLimitWaits
from tests.connector.loopback import (
    ACME,
    LoopbackService,
    Tokens,
    drop,
    echo_authorization,
    reply,
)

SECRET = "widget-SECRET-token-0123456789"


def client(
    session: aiohttp.ClientSession,
    service: LoopbackService,
    credentials: Any = None,
    *,
    connector: Connector = ACME,
    **options: Any,
) -> ServiceClient:
    return ServiceClient(session, connector, credentials, api_base=service.base, **options)


def quotas(resource: str = "*", *, limit: int = 1000, max_wait: float = 1.0) -> Quotas:
    rule = QuotaRule.model_validate(
        {"resource": resource, "limit": limit, "window": 3600, "maxWait": max_wait}
    )
    return Quotas(rules={ACME.service: [rule]})


class Counted:
    """Telemetry that records every call it is told of."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | str]] = []
        self.waits: list[tuple[str, float]] = []

    def api_call(self, service: str, status: int | str) -> None:
        self.calls.append((service, status))

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        self.waits.append((service, seconds))

    def token_refresh(self, service: str, *, ok: bool) -> None:
        return None

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        return None


# -- answers and the token ---------------------------------------------------------------------


async def test_a_call_carries_the_bearer_token_and_gives_body_text_and_rate_limit(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on(
        "GET", "/api/widgets", reply(200, {"items": [1]}, headers={"X-RateLimit-Remaining": "9"})
    )

    answer = await client(session, service, Tokens(SECRET)).request(
        "GET", "/widgets", params={"q": "a b", "skip": None, "all": True}
    )

    assert isinstance(answer, ApiResponse)
    assert (answer.status, answer.body, answer.text) == (200, {"items": [1]}, '{"items": [1]}')
    assert answer.rate_limit.remaining == 9
    [received] = service.requests("GET", "/api/widgets")
    assert received.headers["Authorization"] == f"Bearer {SECRET}"
    assert received.query == {"q": "a b", "all": "true"}


async def test_a_401_refreshes_the_token_once_and_sends_again(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("POST", "/api/widgets", reply(401), reply(201, {"id": "w1"}))
    tokens = Tokens("old-token", "new-token")

    answer = await client(session, service, tokens).request("POST", "/widgets", json={"a": 1})

    assert answer.body == {"id": "w1"}
    assert tokens.rejected == ["old-token"]
    sent = [r.headers["Authorization"] for r in service.requests("POST", "/api/widgets")]
    assert sent == ["Bearer old-token", "Bearer new-token"]
    assert [r.json() for r in service.requests("POST", "/api/widgets")] == [{"a": 1}] * 2


async def test_a_second_401_after_the_refresh_is_an_unauthorized_error_that_reauthorizes(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/me", reply(401, {"code": "expired", "message": "Token expired."}))

    with pytest.raises(UnauthorizedError) as raised:
        await client(session, service, Tokens("a", "b")).request("GET", "/me")

    assert isinstance(raised.value, ReauthorizeError)
    assert str(raised.value) == "GET /api/me failed: HTTP 401, Widgets code expired: Token expired."
    assert len(service.requests("GET", "/api/me")) == 2


async def test_a_401_the_table_marks_not_refreshable_is_raised_without_a_refresh(
    service: LoopbackService, session: aiohttp.ClientSession
):
    table = DEFAULT_ERRORS.with_rules(
        Rule("401 scope", only(401), UnauthorizedError, code="scope", refreshable=False)
    )
    connector = Connector(service=ACME.service, label="Widgets", errors=table)
    service.on("GET", "/api/me", reply(401, {"code": "scope", "message": "Missing scope."}))
    tokens = Tokens("a", "b")

    with pytest.raises(UnauthorizedError) as raised:
        await client(session, service, tokens, connector=connector).request("GET", "/me")

    assert raised.value.refreshable is False
    assert tokens.rejected == []
    assert len(service.requests("GET", "/api/me")) == 1


async def test_a_header_secret_goes_in_the_header_the_credentials_name(
    service: LoopbackService, session: aiohttp.ClientSession
):
    class ApiKey(Tokens):
        header_name = "X-Api-Key"
        scheme = ""

    service.on("GET", "/api/widgets", reply(200, []))

    await client(session, service, ApiKey(SECRET)).request("GET", "/widgets")
    await client(session, service, Tokens(SECRET), auth=HeaderAuth("X-Key", "Token")).request(
        "GET", "/widgets"
    )

    first, second = service.requests("GET", "/api/widgets")
    assert first.headers["X-Api-Key"] == SECRET
    assert "Authorization" not in first.headers
    assert second.headers["X-Key"] == f"Token {SECRET}"


async def test_without_credentials_a_call_carries_no_secret_and_an_absolute_url_is_allowed(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/elsewhere", reply(200, text="plain"))

    answer = await client(session, service).request(
        "GET", service.base.removesuffix("/api") + "/elsewhere", expect_json=False
    )

    assert (answer.body, answer.text) == (None, "plain")
    assert "Authorization" not in service.received[0].headers


# -- errors ------------------------------------------------------------------------------------


async def test_an_error_answer_keeps_the_answer_for_routing_but_not_in_its_message(
    service: LoopbackService, session: aiohttp.ClientSession
):
    body = {"code": 40, "message": "No such widget.", "detail": "private detail"}
    service.on("GET", "/api/widgets/9", reply(404, body))

    with pytest.raises(NotFoundError) as raised:
        await client(session, service, Tokens(SECRET)).request("GET", "/widgets/9")

    error = raised.value
    assert (error.status, error.code, error.api_message) == (404, 40, "No such widget.")
    assert error.service == ACME.service
    assert error.response is not None
    assert error.response.body == body
    assert "private detail" not in str(error)


async def test_a_secret_the_service_echoes_is_in_no_message_and_no_kept_answer(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/widgets", echo_authorization(400))

    with pytest.raises(CancelError) as raised:
        await client(session, service, Tokens(SECRET)).request("GET", "/widgets")

    error: Any = raised.value
    assert SECRET not in str(error)
    assert "refused Bearer ***" in str(error)
    assert SECRET not in error.response.text
    assert SECRET not in repr(error.response.body)


async def test_a_success_answer_that_is_not_json_is_a_server_error_when_json_was_expected(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/widgets", reply(200, text="<html>oops</html>"))

    with pytest.raises(ServerError, match="HTTP 200 with a body that is not JSON"):
        await client(session, service).request("GET", "/widgets")


async def test_a_dropped_connection_is_a_transport_error_that_reached_the_service(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("POST", "/api/widgets", drop)

    with pytest.raises(TransportError) as raised:
        await client(session, service).request("POST", "/widgets", json={})

    assert raised.value.sent is True
    assert str(raised.value).startswith("POST /api/widgets failed: the server closed")


async def test_a_refused_connection_is_a_transport_error_that_sent_nothing(
    session: aiohttp.ClientSession,
):
    refused = ServiceClient(session, ACME, api_base="http://127.0.0.1:9/api")

    with pytest.raises(TransportError) as raised:
        await refused.request("POST", "/widgets")

    assert raised.value.sent is False
    assert "cannot connect to 127.0.0.1:9" in str(raised.value)


async def test_every_exchange_is_counted_in_telemetry_by_service_and_status(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/a", reply(200, {}))
    service.on("GET", "/api/b", drop)
    counted = Counted()
    calls = client(session, service, telemetry=counted)

    await calls.request("GET", "/a")
    with pytest.raises(NotFoundError):
        await calls.request("GET", "/missing")
    with pytest.raises(TransportError):
        await calls.request("GET", "/b")

    assert counted.calls == [(ACME.service, 200), (ACME.service, 404), (ACME.service, "error")]


# -- quota -------------------------------------------------------------------------------------


async def test_a_429_with_a_short_retry_after_is_waited_out_inside_the_call(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/a", reply(429, headers={"Retry-After": "0"}), reply(200, {"ok": 1}))

    answer = await client(session, service, Tokens(SECRET), quotas=quotas()).request("GET", "/a")

    assert answer.body == {"ok": 1}
    assert len(service.requests("GET", "/api/a")) == 2


async def test_a_429_asking_for_more_than_the_quotas_max_wait_holds_the_gate_for_everyone(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/a", reply(429, headers={"Retry-After": "3600"}))
    shared = quotas(max_wait=1)

    with pytest.raises(RateLimitedError) as raised:
        await client(session, service, Tokens(SECRET), quotas=shared).request("GET", "/a")
    assert raised.value.wait == raised.value.delay == 3600
    with pytest.raises(QuotaWaitError):  # another client of the account: nothing is sent
        await client(session, service, Tokens("other"), quotas=shared).request("GET", "/b")

    assert [r.path for r in service.received] == ["/api/a"]


async def test_a_429_without_a_hint_holds_the_gate_for_the_unhinted_wait(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/a", reply(429))
    waits = RateLimitWaits(tries=1, unhinted=7.5)

    with pytest.raises(RateLimitedError) as raised:
        await client(session, service, quotas=quotas(), waits=waits).request("GET", "/a")

    assert raised.value.delay == 7.5


async def test_an_answer_saying_no_call_is_left_makes_the_next_call_wait_for_the_reset(
    service: LoopbackService, session: aiohttp.ClientSession
):
    headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "600"}
    service.on("GET", "/api/a", reply(200, {}, headers=headers))
    calls = client(session, service, Tokens(SECRET), quotas=quotas(max_wait=1))

    await calls.request("GET", "/a")
    with pytest.raises(QuotaWaitError):
        await calls.request("GET", "/a")

    assert len(service.received) == 1


async def test_the_connectors_category_picks_the_quota_a_call_counts_against(
    service: LoopbackService, session: aiohttp.ClientSession
):
    connector = Connector(
        service=ACME.service,
        label="Widgets",
        category=lambda method, path: "reads" if method == "GET" else "writes",
    )
    service.on("GET", "/api/a", reply(200, {}))
    service.on("POST", "/api/a", reply(200, {}))
    calls = client(
        session, service, connector=connector, quotas=quotas("writes", limit=1, max_wait=0)
    )

    await calls.request("POST", "/a")
    with pytest.raises(QuotaWaitError, match="writes quota"):
        await calls.request("POST", "/a")
    await calls.request("GET", "/a")
    await calls.request("GET", "/a")

    assert len(service.received) == 3


# -- circuit -----------------------------------------------------------------------------------


async def test_failures_open_the_accounts_circuit_and_the_last_is_marked_an_outage(
    service: LoopbackService, session: aiohttp.ClientSession
):
    service.on("GET", "/api/a", reply(503, {"code": 1, "message": "Down."}))
    circuits = Circuits(threshold=2, rng=lambda: 0.0)
    calls = client(session, service, Tokens(SECRET), circuits=circuits)

    with pytest.raises(ServerError) as first:
        await calls.request("GET", "/a")
    with pytest.raises(ServerError) as second:
        await calls.request("GET", "/a")
    with pytest.raises(ServiceUnavailableError):
        await calls.request("GET", "/a")

    assert (first.value.outage, second.value.outage) == (False, True)
    assert circuits.circuit(ACME.service, "tester").state is OPEN
    assert len(service.received) == 2


# -- the API base and the context --------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "environ", "expected"),
    [
        ({"apiBase": "http://a/v1/"}, {"WIDGETS_API_BASE": "http://b"}, "http://a/v1"),
        ({}, {"WIDGETS_API_BASE": "http://b/"}, "http://b"),
        (None, {}, "https://widgets.example/v2"),
    ],
    ids=["account-setting", "environment", "default"],
)
def test_the_api_base_is_the_accounts_else_the_environments_else_the_connectors(
    settings: dict[str, str] | None, environ: dict[str, str], expected: str
):
    connector = Connector(ACME.service, "Widgets", default_api_base="https://widgets.example/v2")

    assert api_base_for(connector, settings, environ) == expected


def test_without_any_api_base_the_error_names_the_setting_and_the_variable():
    with pytest.raises(InputError, match=r"apiBase.*acme:widgets or WIDGETS_API_BASE"):
        api_base_for(ACME, {}, {})


def test_a_component_without_an_account_is_told_which_service_it_needs():
    class Node:
        auth = None

    with pytest.raises(CancelError, match=r"this Widgets component has no account.*acme:widgets"):
        client_for(Context(Node()), ACME)  # type: ignore[arg-type]
