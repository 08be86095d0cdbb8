"""The error table: every answer classified by one table, its next step computed in one place."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import runtime.connector.answers as answers_module
from runtime.connector.answers import DEFAULT_ERRORS, ErrorTable, Rule, classify, only
from runtime.connector.errors import (
    BadRequestError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.retry import next_step

ROW = re.compile(
    r"^(\d{3}(?: code \w+)?|other 4xx|5xx|no answer|other)\s+(\w+Error)"
    r"\s+(retry|wait|dead-letter|re-authorize)",
    flags=re.MULTILINE,
)


def documented_rows(doc: str | None) -> list[tuple[str, str, str]]:
    """The rows of the table drawn in a docstring: (answer, error, next step)."""
    return ROW.findall(doc or "")


def computed_rows(rules: tuple[Rule, ...]) -> list[tuple[str, str, str]]:
    """The same rows as the code has them, each next step computed by ``next_step``."""
    return [(r.answer, r.error.__name__, next_step(r.error("m"))) for r in rules]


def expected_step(status: int) -> str:
    """The rule of issue #5, written out independently of the table."""
    if status == 401:
        return "re-authorize"
    if status == 429:
        return "wait"
    return "retry" if status in (408, 409) or status >= 500 else "dead-letter"


def test_the_table_in_the_answers_docstring_is_the_default_table_with_its_computed_steps():
    assert documented_rows(answers_module.__doc__) == computed_rows(DEFAULT_ERRORS.rules)


@pytest.mark.parametrize(
    "rule", [r for r in DEFAULT_ERRORS.rules if r.statuses is not None], ids=lambda r: r.answer
)
def test_every_status_a_row_covers_first_is_classified_as_that_row_says(rule: Rule):
    earlier = DEFAULT_ERRORS.rules[: DEFAULT_ERRORS.rules.index(rule)]
    assert rule.statuses is not None
    mine = [s for s in rule.statuses if not any(r.covers(s) for r in earlier)]

    assert mine, f"row {rule.answer!r} is hidden by the rows above it"
    for status in mine:
        error = classify(status, {"code": 1, "message": "m"}, {}, label="Acme")
        assert type(error) is rule.error


@given(
    status=st.integers(min_value=400, max_value=599),
    code=st.one_of(st.integers(min_value=0, max_value=100_000), st.from_regex(r"[a-z_]{1,12}")),
    message=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=40),
)
def test_every_error_status_gets_the_next_step_the_rule_says_keeping_code_and_message(
    status: int, code: int | str, message: str
):
    body = {"code": code, "message": message}
    exc = classify(status, body, {}, label="Acme", request="GET /things/1")

    assert next_step(exc) == expected_step(status)
    assert str(exc) == f"GET /things/1 failed: HTTP {status}, Acme code {code}: {message}"
    assert (exc.status, exc.code, exc.api_message) == (status, code, message)


def test_no_answer_at_all_is_a_transport_error_that_is_retried():
    rule = DEFAULT_ERRORS.rule_for(None)

    assert rule.error is TransportError
    assert next_step(TransportError("no answer")) == "retry"


@pytest.mark.parametrize("status", [600, 999, 302], ids=str)
def test_a_status_outside_the_error_ranges_is_read_as_the_service_failing(status: int):
    assert isinstance(classify(status, None, {}, label="Acme"), ServerError)


def test_a_408_is_a_request_timeout_that_is_retried():
    exc = classify(408, None, {}, label="Acme")

    assert isinstance(exc, RequestTimeoutError)
    assert next_step(exc) == "retry"


def test_a_rate_limited_answer_carries_its_wait_and_the_engine_waits_for_it():
    exc = classify(429, {"message": "Slow down."}, {"Retry-After": "12"}, label="Acme")

    assert isinstance(exc, RateLimitedError)
    assert exc.delay == 12
    assert str(exc) == "Acme answered HTTP 429: Slow down. (retry in 12 s)"
    assert next_step(exc) == "wait"


def test_a_body_without_the_error_fields_keeps_the_status_alone():
    exc = classify(502, "<html>Bad gateway</html>", {}, label="Acme")

    assert (exc.code, exc.api_message) == (None, None)
    assert str(exc) == "Acme answered HTTP 502 (no Acme error message)"


def test_a_table_reads_the_error_fields_the_service_uses():
    table = ErrorTable(code_field="error", message_field="error_description")
    body = {"error": "invalid_grant", "error_description": "The grant expired."}

    exc = classify(400, body, {}, label="Acme", table=table)

    assert isinstance(exc, BadRequestError)
    assert (exc.code, exc.api_message) == ("invalid_grant", "The grant expired.")


def test_a_row_with_a_service_code_is_chosen_only_for_that_code():
    table = DEFAULT_ERRORS.with_rules(
        Rule("403 code 3", only(403), UnauthorizedError, code=3, refreshable=False)
    )

    scoped = classify(403, {"code": 3}, {}, label="Acme", table=table)
    other = classify(403, {"code": 4}, {}, label="Acme", table=table)

    assert isinstance(scoped, UnauthorizedError)
    assert scoped.refreshable is False
    assert next_step(scoped) == "re-authorize"
    assert next_step(other) == "dead-letter"


@pytest.mark.parametrize(
    ("code", "read"),
    [(True, None), ("", None), (3.5, None), ("x", "x"), (7, 7)],
    ids=["bool", "empty", "float", "text", "number"],
)
def test_only_a_number_or_text_is_read_as_the_services_code(code: object, read: object):
    exc: ServiceError = classify(400, {"code": code}, {}, label="Acme")

    assert exc.code == read


def test_a_long_or_multiline_message_is_cut_to_one_short_line():
    exc = classify(400, {"message": "bad\n  value " + "x" * 1000}, {}, label="Acme")

    assert exc.api_message is not None
    assert exc.api_message.startswith("bad value xxx")
    assert len(exc.api_message) == 300
