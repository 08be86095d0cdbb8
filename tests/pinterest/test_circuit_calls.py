"""Pinterest calls and the account's circuit: what counts as the service failing, and what not."""

from __future__ import annotations

import aiohttp
import pytest

from components.pinterest.client import PinterestClient
from runtime.circuit import CLOSED, OPEN, Circuits
from runtime.connector.errors import (
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
)
from runtime.connector.idempotent import may_have_taken_effect
from runtime.credentials import StaticCredentials
from runtime.errors import ServiceUnavailableError
from tests.pinterest.component_kit import SERVICE
from tests.pinterest.stub_api import StubApi, answer, drop_connection

ACCOUNT = "shop"


def client(session: aiohttp.ClientSession, base: str, circuits: Circuits) -> PinterestClient:
    credentials = StaticCredentials(SERVICE, "pina_token", account=ACCOUNT)
    return PinterestClient.connect(session, credentials, api_base=base, circuits=circuits)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(400, BadRequestError, id="400"),
        pytest.param(404, NotFoundError, id="404"),
        pytest.param(429, RateLimitedError, id="429"),
    ],
)
async def test_answers_that_refuse_a_request_never_open_the_circuit(
    stub: StubApi, session: aiohttp.ClientSession, status: int, error: type[ServiceError]
):
    stub.on("GET", "/boards/1", answer(status, {"code": 1, "message": "no"}))
    circuits = Circuits(threshold=2)
    api = client(session, stub.base, circuits)
    for _ in range(4):
        with pytest.raises(error):
            await api.request("GET", "/boards/1")
    assert circuits.circuit(SERVICE, ACCOUNT).state is CLOSED


async def test_server_errors_open_the_circuit_and_the_failure_that_opens_it_uses_no_attempt(
    stub: StubApi, session: aiohttp.ClientSession
):
    stub.on("GET", "/boards/1", answer(503, {"code": 1, "message": "down"}))
    circuits = Circuits(threshold=2)
    api = client(session, stub.base, circuits)
    with pytest.raises(ServerError) as first:
        await api.request("GET", "/boards/1")
    with pytest.raises(ServerError) as second:
        await api.request("GET", "/boards/1")
    with pytest.raises(ServiceUnavailableError) as third:
        await api.request("GET", "/boards/1")

    assert (first.value.outage, second.value.outage) == (False, True)
    assert second.value.delay is not None
    assert second.value.delay > 0  # until the probe
    assert (third.value.service, third.value.account) == (SERVICE, ACCOUNT)
    assert len(stub.seen) == 2  # the refused call was not sent
    assert circuits.circuit(SERVICE, ACCOUNT).state is OPEN
    assert circuits.circuit(SERVICE, "another account").state is CLOSED


async def test_a_failure_in_an_outage_keeps_its_class_so_a_create_stays_uncertain(
    stub: StubApi, session: aiohttp.ClientSession
):
    stub.on("POST", "/pins", drop_connection)
    circuits = Circuits(threshold=1)
    api = client(session, stub.base, circuits)
    with pytest.raises(TransportError) as dropped:
        await api.request("POST", "/pins", json={"board_id": "1"})
    with pytest.raises(ServiceUnavailableError) as refused:
        await api.request("POST", "/pins", json={"board_id": "1"})

    assert dropped.value.outage is True
    assert may_have_taken_effect(dropped.value)  # the request went out: look before creating
    assert not may_have_taken_effect(refused.value)  # nothing was sent


async def test_the_probe_that_gets_an_answer_closes_the_circuit(
    stub: StubApi, session: aiohttp.ClientSession
):
    clock = [0.0]
    circuits = Circuits(threshold=1, clock=lambda: clock[0], rng=lambda: 0.0)
    api = client(session, stub.base, circuits)
    stub.on("GET", "/boards/1", answer(500, {"code": 1, "message": "down"}))
    with pytest.raises(ServerError):
        await api.request("GET", "/boards/1")
    clock[0] += 1.0
    stub.on("GET", "/boards/1", answer(404, {"code": 1, "message": "no such board"}))
    with pytest.raises(NotFoundError):  # an answer: Pinterest is back
        await api.request("GET", "/boards/1")
    assert circuits.circuit(SERVICE, ACCOUNT).state is CLOSED
