"""One place decides what happens to a failed message: next_step, by the error's class."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import (
    CallTimeoutError,
    CancelError,
    ComponentError,
    DeferError,
    InvalidInputError,
    ReauthorizeError,
    RetryError,
    ServiceUnavailableError,
    UncertainEffectError,
)
from runtime.retry import RateLimitWaits, next_step


@pytest.mark.parametrize(
    ("error", "step"),
    [
        (CancelError("no"), "dead-letter"),
        (InvalidInputError("bad input"), "dead-letter"),
        (UncertainEffectError("cannot tell"), "dead-letter"),
        (RetryError("again"), "retry"),
        (CallTimeoutError("too slow"), "retry"),
        (DeferError("later", delay=3), "wait"),
        (ServiceUnavailableError("open", delay=3, service="acme:widgets"), "wait"),
        (ReauthorizeError("reconnect"), "re-authorize"),
        (ComponentError("ours, unclassified"), "retry"),
        (ValueError("a bug in a handler"), "retry"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value,
)
def test_each_error_class_has_the_next_step_the_error_tree_documents(error: Exception, step: str):
    assert next_step(error) == step


def test_a_retry_error_marked_as_an_outage_is_a_wait_that_uses_no_attempt():
    error = RetryError("the service is down")
    error.outage = True

    assert next_step(error) == "wait"


@given(
    tries=st.integers(min_value=1, max_value=5),
    tried=st.integers(min_value=1, max_value=6),
    wait=st.floats(min_value=0, max_value=100),
    max_wait=st.floats(min_value=0, max_value=100),
)
def test_a_429_is_waited_out_inside_the_call_only_within_its_tries_and_the_quotas_max_wait(
    tries: int, tried: int, wait: float, max_wait: float
):
    waits = RateLimitWaits(tries=tries)

    assert waits.waits_inside(tried, wait, max_wait) == (tried < tries and wait <= max_wait)


def test_a_429_that_names_no_wait_is_given_the_unhinted_one():
    waits = RateLimitWaits(unhinted=4.0)

    assert (waits.wait_of(None), waits.wait_of(0.5)) == (4.0, 0.5)
