"""The one table of what each failed exchange with Pinterest leads to, walked row by row."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import components.pinterest.errors as errors_module
from components.pinterest.errors import (
    FAILURES,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    classify,
    rule_for,
)
from runtime.credentials import StaticCredentials
from runtime.engine import Engine
from runtime.errors import CancelError, DeferError, ReauthorizeError, RetryError
from runtime.flow import validate_flow
from runtime.stores.memory import MemoryStore
from tests.pinterest.component_kit import SERVICE, registry
from tests.pinterest.stub_api import StubApi, answer, drop_connection

# The most specific first: a DeferError is also a RetryError.
NEXT_STEP = {
    "wait": DeferError,
    "retry": RetryError,
    "dead-letter": CancelError,
    "re-authorize": ReauthorizeError,
}
RETRIED = {408, 409}


def expected_step(status: int) -> str:
    """The rule of issue #5, written out independently of the table."""
    if status == 401:
        return "re-authorize"
    if status == 429:
        return "wait"
    return "retry" if status in RETRIED or status >= 500 else "dead-letter"


@pytest.mark.parametrize("rule", FAILURES, ids=[r.answer for r in FAILURES])
def test_each_rows_error_makes_the_engine_do_what_the_row_says(rule):
    steps = [step for step, base in NEXT_STEP.items() if issubclass(rule.error, base)]

    assert steps[0] == rule.next_step


def test_the_table_in_the_modules_docstring_is_the_table_the_code_reads():
    doc = errors_module.__doc__ or ""
    rows = re.findall(
        r"^(\d{3}|other 4xx|5xx|no answer|other)\s+(\w+Error)"
        r"\s+(retry|wait|dead-letter|re-authorize)",
        doc,
        flags=re.MULTILINE,
    )

    assert rows == [(r.answer, r.error.__name__, r.next_step) for r in FAILURES]


@pytest.mark.parametrize(
    "rule", [r for r in FAILURES if r.statuses is not None], ids=lambda r: r.answer
)
def test_every_status_a_row_covers_first_is_classified_as_that_row_says(rule):
    earlier = FAILURES[: FAILURES.index(rule)]
    mine = [s for s in rule.statuses if not any(r.covers(s) for r in earlier)]

    assert mine, f"row {rule.answer!r} is hidden by the rows above it"
    for status in mine:
        assert type(classify(status, {"code": 1, "message": "m"}, {})) is rule.error


@given(
    status=st.integers(min_value=400, max_value=599),
    code=st.integers(min_value=0, max_value=100_000),
    message=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=40),
)
def test_every_error_status_is_retried_or_not_as_the_rule_says_keeping_code_and_message(
    status: int, code: int, message: str
):
    exc = classify(status, {"code": code, "message": message}, {}, request="GET /boards/1")

    assert isinstance(exc, NEXT_STEP[expected_step(status)])
    assert rule_for(status).next_step == expected_step(status)
    assert str(exc).startswith(f"GET /boards/1 failed: HTTP {status}, Pinterest code {code}: ")
    assert message in str(exc)
    assert (exc.status, exc.code, exc.api_message) == (status, code, message)


def test_no_answer_at_all_is_a_transport_error_that_is_retried():
    rule = rule_for(None)

    assert (rule.error, rule.next_step) == (TransportError, "retry")


@pytest.mark.parametrize("status", [600, 999, 302], ids=str)
def test_a_status_outside_the_error_ranges_is_read_as_pinterest_failing(status: int):
    assert isinstance(classify(status, None, {}), ServerError)


def test_a_408_is_a_request_timeout_that_is_retried():
    exc = classify(408, {"code": 408, "message": "Request timeout."}, {})

    assert isinstance(exc, RequestTimeoutError)
    assert isinstance(exc, RetryError)


# -- through the engine, over HTTP -----------------------------------------------------------

WALK: list[tuple[str, int | None, dict[str, str]]] = [
    ("400", 400, {}),
    ("401", 401, {}),
    ("403", 403, {}),
    ("404", 404, {}),
    ("408", 408, {}),
    ("409", 409, {}),
    ("429", 429, {"Retry-After": "0"}),
    ("other 4xx", 422, {}),
    ("5xx", 503, {}),
    ("no answer", None, {}),
]


def test_the_walk_through_the_engine_visits_every_row_that_http_can_produce():
    assert [answer for answer, _, _ in WALK] == [r.answer for r in FAILURES[:-1]]


@pytest.mark.parametrize(("row", "status", "headers"), WALK, ids=[w[0] for w in WALK])
async def test_a_flow_handles_each_answer_as_its_row_says_and_keeps_pinterests_words(
    row: str, status: int | None, headers: dict[str, str]
):
    message = f"Pinterest says no ({row})."
    handler = (
        drop_connection
        if status is None
        else answer(status, {"code": 4000 + status, "message": message}, headers=headers)
    )
    async with StubApi().running() as stub:
        stub.on("GET", "/boards/1", handler)
        outcome = await _run_make_api_call(stub)
    letters, parked, received = outcome
    step = rule_for(status).next_step

    if step == "re-authorize":
        assert (letters, len(parked), received) == ([], 1, 1)
        return
    [letter] = letters
    assert parked == []
    if step == "wait":  # waits use no attempt: the time limit (0.3 s here) ends them
        assert letter.attempts == 1
        assert received >= 2
        assert "maxElapsed" in letter.error
    else:
        assert letter.attempts == received == (2 if step == "retry" else 1)
    assert letter.error_type == rule_for(status).error.__name__
    if status is None:
        assert "GET /v5/boards/1 failed: the server closed the connection" in letter.error
    else:
        assert f"HTTP {status}, Pinterest code {4000 + status}: {message}" in letter.error


async def _run_make_api_call(stub: StubApi) -> tuple[list[Any], list[Any], int]:
    flow = {
        "id": "t",
        "retry": {"maxAttempts": 2, "baseDelay": 0.001, "maxDelay": 0.01, "maxElapsed": 0.3},
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "step": {"type": "acme.pinterest.MakeApiCall", "source": {"in": {"hook": ["out"]}}},
        },
    }
    plan = validate_flow(flow, registry())
    credentials = StaticCredentials(SERVICE, "pina_token", settings={"apiBase": stub.base})
    store = MemoryStore()
    async with Engine(
        store, credentials=lambda wanted: credentials if wanted.auth else None
    ) as engine:
        await engine.start_flow(plan)
        await engine.push("t", "hook", {"method": "GET", "path": "/boards/1"})
        await engine.wait_idle("t")
        parked = engine.parked("t")
        received = engine.stats("t")["step"].received
        # read before the engine closes: stopping buries what is parked
        letters = await store.list_dead_letters(flow_id="t")
    return letters, parked, received


def test_a_rate_limited_row_carries_the_wait_into_the_retry():
    exc = classify(429, {"code": 8, "message": "Slow down."}, {"Retry-After": "12"})

    assert isinstance(exc, RateLimitedError)
    assert exc.delay == 12
