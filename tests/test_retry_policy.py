"""The retry policy: attempts and a time limit per flow, and what the engine does with them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.engine import Engine, Output
from runtime.envelope import Envelope
from runtime.errors import FlowValidationError
from runtime.flow import load_flow, validate_flow
from runtime.registry import Registry
from runtime.retry import RetryDecision, RetryPolicy
from runtime.stores.base import DeadLetter
from runtime.stores.memory import MemoryStore
from tests import kit

FLOWS = Path(__file__).resolve().parent / "fixtures" / "flows"

# -- the decision ----------------------------------------------------------------------------


def test_a_message_is_given_up_once_its_attempts_are_spent_without_another_reason():
    policy = RetryPolicy(max_attempts=3, max_elapsed=None)

    assert policy.decide(2, 0.0).retry
    decision = policy.decide(3, 0.0)
    assert (decision.retry, decision.delay, decision.why) == (False, None, None)


def test_a_requested_wait_that_fits_the_time_limit_is_kept_as_asked():
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=2.0, max_elapsed=60.0)

    assert policy.decide(1, 10.0, requested=45.0).delay == 45.0


def test_a_requested_wait_that_would_end_past_the_time_limit_gives_up_now_saying_so():
    policy = RetryPolicy(max_attempts=5, max_elapsed=60.0)

    decision = policy.decide(2, 30.0, requested=67_150.0)

    assert decision.delay is None
    assert decision.why == (
        "the wait of 67150 s it asked for would end past the flow's retry time limit"
        " (maxElapsed) of 60 s (30 s left after 2 attempt(s))"
    )


def test_once_the_time_limit_is_spent_the_message_is_given_up_saying_so():
    decision = RetryPolicy(max_attempts=50, max_elapsed=5.0).decide(7, 5.5)

    assert decision.delay is None
    assert decision.why == (
        "the flow's retry time limit (maxElapsed) of 5 s is spent after 7 attempt(s)"
    )


def test_the_policys_own_backoff_is_shortened_to_the_time_left():
    policy = RetryPolicy(max_attempts=50, base_delay=10.0, max_delay=10.0, max_elapsed=5.0)
    rng = random.Random(7)

    delays = [policy.decide(3, 4.5, rng=rng).delay for _ in range(50)]

    assert all(d is not None and 0 <= d <= 0.5 for d in delays)


def test_without_a_time_limit_a_long_requested_wait_is_kept():
    policy = RetryPolicy(max_attempts=2, max_elapsed=None)

    assert policy.decide(1, 1e9, requested=86_400.0).delay == 86_400.0


@given(
    attempt=st.integers(min_value=1, max_value=20),
    elapsed=st.floats(min_value=0, max_value=500),
    requested=st.none() | st.floats(min_value=0, max_value=500),
    max_elapsed=st.none() | st.floats(min_value=0.001, max_value=300),
)
def test_a_retry_never_breaks_either_limit_and_keeps_a_requested_wait(
    attempt: int, elapsed: float, requested: float | None, max_elapsed: float | None
):
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=60.0, max_elapsed=max_elapsed)

    decision = policy.decide(attempt, elapsed, requested=requested, rng=random.Random(attempt))

    if attempt >= 10:
        assert decision == RetryDecision(None)
    elif decision.retry:
        assert decision.delay is not None
        assert decision.delay >= 0
        if max_elapsed is not None:
            assert elapsed + decision.delay <= max_elapsed + 1e-9
        if requested is not None:
            assert decision.delay == requested
    else:
        assert max_elapsed is not None
        assert decision.why is not None
        assert "maxElapsed" in decision.why


# -- in the engine ---------------------------------------------------------------------------


async def run(
    plan_properties: dict[str, Any], policy: RetryPolicy, event: Any = "x"
) -> tuple[list[Output], list[DeadLetter], int]:
    store, outputs = MemoryStore(), []
    plan = kit.plan(
        "f",
        {"hook": "Hook", "a": "Flaky"},
        [("hook", "a")],
        properties={"a": plan_properties},
        retry=policy,
    )
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(plan)
        await engine.push("f", "hook", event)
        await engine.wait_idle("f")
        received = engine.stats("f")["a"].received
    return outputs, await store.list_dead_letters(), received


async def test_a_message_that_keeps_failing_is_dead_lettered_when_the_time_limit_is_spent():
    policy = RetryPolicy(max_attempts=10_000, base_delay=0.01, max_delay=0.02, max_elapsed=0.1)

    outputs, [letter], received = await run({"failures": 10_000}, policy)

    assert outputs == []
    assert letter.error.startswith("ConnectionError: attempt ")
    assert "(given up: the flow's retry time limit (maxElapsed) of 0.1 s is spent after" in (
        letter.error
    )
    assert letter.error_type == "ConnectionError"
    assert 1 < letter.attempts == received < 10_000


async def test_waits_a_retry_error_asks_for_count_against_the_time_limit():
    policy = RetryPolicy(max_attempts=10_000, max_elapsed=0.1)
    properties = {"failures": 10_000, "kind": "retry", "delay": 0.02}

    _, [letter], received = await run(properties, policy)

    assert letter.error.startswith("not yet (given up: ")
    assert "retry time limit (maxElapsed) of 0.1 s" in letter.error
    assert 1 < letter.attempts == received < 10_000


async def test_a_retry_error_asking_to_wait_past_the_time_limit_is_dead_lettered_at_once():
    policy = RetryPolicy(max_attempts=5, max_elapsed=60.0)
    properties = {"failures": 1, "kind": "retry", "delay": 3600}

    outputs, [letter], received = await run(properties, policy)

    assert outputs == []
    assert (letter.attempts, received, letter.error_type) == (1, 1, "RetryError")
    assert letter.error == (
        "not yet (given up: the wait of 3600 s it asked for would end past the flow's retry"
        " time limit (maxElapsed) of 60 s (60 s left after 1 attempt(s)))"
    )


async def test_a_dead_letter_delivered_again_gets_a_new_time_limit():
    store, outputs = MemoryStore(), []
    stale = Envelope("f", "a", "in", "x", "event-1", attempt=4, first_failed_at=1.0)
    await store.add_dead_letter(DeadLetter("dl-1", stale, "old failure", "ConnectionError", 4, 2))
    plan = kit.plan(
        "f",
        {"hook": "Hook", "a": "Flaky"},
        [("hook", "a")],
        properties={"a": {"failures": 1}},
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, max_elapsed=60.0),
    )
    async with Engine(store, on_output=outputs.append) as engine:
        await engine.start_flow(plan)
        assert await engine.retry_dead_letter("dl-1") == "requeued"
        await engine.wait_idle("f")
        stats = engine.stats("f")["a"]

    # failed once on the new delivery, retried (not given up for a first failure decades ago)
    assert (stats.failed, stats.retried) == (1, 1)
    assert [o.payload for o in outputs] == ["x"]
    assert await store.list_dead_letters() == []


def test_the_first_failure_time_travels_with_the_envelope_and_may_be_missing():
    envelope = Envelope("f", "a", "in", {"n": 1}, "event-1", attempt=3, first_failed_at=12.5)

    data = envelope.to_dict()
    assert Envelope.from_dict(data).first_failed_at == 12.5
    del data["first_failed_at"]  # a letter stored before the field existed
    assert Envelope.from_dict(data).first_failed_at is None


# -- in the flow file ------------------------------------------------------------------------


def flow_with_retry(retry: Any) -> dict[str, Any]:
    data = json.loads((FLOWS / "pins.json").read_text())
    data["retry"] = retry
    return data


@pytest.mark.parametrize(
    ("retry", "max_elapsed"),
    [
        ({}, 3600.0),
        ({"maxElapsed": 90}, 90.0),
        ({"maxElapsed": 0.5}, 0.5),
        ({"maxElapsed": None}, None),
    ],
    ids=["default an hour", "whole seconds", "fractions", "null for no limit"],
)
def test_the_time_limit_of_a_flow_file_reaches_its_plan(
    sample_registry: Registry, retry: dict[str, Any], max_elapsed: float | None
):
    plan = validate_flow(flow_with_retry(retry), sample_registry)

    assert plan.retry.max_elapsed == max_elapsed


def test_every_retry_setting_of_the_flow_file_reaches_the_plan(sample_registry: Registry):
    plan = load_flow(FLOWS / "pins.json", sample_registry)

    assert plan.retry == RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=2.0)


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        ({"maxElapsed": 0}, "$.retry.maxElapsed: must be greater than 0 (it is 0)"),
        ({"maxElapsed": -5}, "$.retry.maxElapsed: must be greater than 0 (it is -5)"),
        ({"maxElapsed": "60"}, "$.retry.maxElapsed: must be a number, not a string"),
        ({"maxAttempts": 1.5}, "$.retry.maxAttempts: must be a whole number"),
        ({"maxDelay": -1}, "$.retry.maxDelay: must be greater than or equal to 0 (it is -1)"),
        ({"maxelapsed": 60}, "$.retry.maxelapsed: is not a known field; the known fields here"),
    ],
    ids=["zero", "negative", "a string", "attempts not whole", "negative delay", "misspelled"],
)
def test_a_bad_retry_setting_is_refused_naming_the_field(
    sample_registry: Registry, retry: dict[str, Any], expected: str
):
    with pytest.raises(FlowValidationError) as refused:
        validate_flow(flow_with_retry(retry), sample_registry)

    [problem] = refused.value.problems
    assert str(problem).startswith(expected)
