"""Pinterest's error table: its own rows, and a walk through the engine over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

import components.pinterest.errors as errors_module
from components.pinterest.connector import PINTEREST
from components.pinterest.errors import PINTEREST_RULES
from runtime.connector.answers import DEFAULT_ERRORS, classify
from runtime.connector.errors import UnauthorizedError
from runtime.credentials import StaticCredentials
from runtime.engine import Engine
from runtime.flow import validate_flow
from runtime.retry import next_step
from runtime.stores.memory import MemoryStore
from tests.connector.test_error_table import computed_rows, documented_rows
from tests.pinterest.component_kit import SERVICE, registry
from tests.pinterest.stub_api import StubApi, answer, drop_connection

TABLE = PINTEREST.errors


def test_the_table_in_pinterests_errors_docstring_is_its_own_rows_with_their_steps():
    assert documented_rows(errors_module.__doc__) == computed_rows(PINTEREST_RULES)


def test_pinterests_table_is_its_rows_read_before_the_default_ones():
    assert TABLE.rules == (*PINTEREST_RULES, *DEFAULT_ERRORS.rules)


def test_a_401_with_code_3_is_not_refreshable_and_any_other_401_is():
    scopes = classify(401, {"code": 3, "message": "m"}, {}, label="Pinterest", table=TABLE)
    other = classify(401, {"code": 2, "message": "m"}, {}, label="Pinterest", table=TABLE)

    assert isinstance(scopes, UnauthorizedError)
    assert isinstance(other, UnauthorizedError)
    assert (scopes.refreshable, other.refreshable) == (False, True)


def test_a_code_that_is_not_a_number_is_not_one_of_pinterests_codes():
    exc = classify(401, {"code": "3", "message": "m"}, {}, label="Pinterest", table=TABLE)

    assert exc.code is None
    assert isinstance(exc, UnauthorizedError)
    assert exc.refreshable


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
    assert [answer for answer, _, _ in WALK] == [r.answer for r in DEFAULT_ERRORS.rules[:-1]]


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
    rule = TABLE.rule_for(status, 4000 + (status or 0))
    step = next_step(rule.error("m"))

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
    assert letter.error_type == rule.error.__name__
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
