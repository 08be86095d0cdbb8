"""A service's circuit: closed, open after failures in a row, one probe, closed on its success."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from runtime.circuit import CLOSED, HALF_OPEN, OPEN, Circuit, Circuits
from runtime.errors import DeferError, ServiceUnavailableError


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def circuits(clock: Clock, *, rng: float = 0.0, **options: Any) -> Circuits:
    return Circuits(clock=clock, rng=lambda: rng, **options)


def fail(circuit: Circuit, times: int) -> None:
    for _ in range(times):
        circuit.failed(circuit.admit(), "GET /v5/boards failed: cannot connect to 127.0.0.1:9")


def refusal(circuit: Circuit) -> ServiceUnavailableError:
    with pytest.raises(ServiceUnavailableError) as caught:
        circuit.admit()
    return caught.value


def test_a_closed_circuit_lets_calls_through_until_five_fail_in_a_row():
    circuit = circuits(Clock()).circuit("acme:pinterest", "shop")
    fail(circuit, 4)
    assert circuit.state is CLOSED
    assert circuit.admit() is False
    assert circuit.failed(False) is True  # the fifth opened it: that failure is an outage
    assert circuit.state is OPEN
    assert circuit.opened == 1


def test_an_answer_between_failures_starts_the_count_again():
    circuit = circuits(Clock()).circuit("acme:pinterest")
    fail(circuit, 4)
    circuit.succeeded()
    fail(circuit, 4)
    assert circuit.state is CLOSED


def test_an_open_circuit_sends_nothing_and_says_how_long_to_wait_for_the_probe():
    clock = Clock()
    circuit = circuits(clock, rng=0.5).circuit("acme:pinterest", "shop")
    fail(circuit, 5)
    clock.now += 0.25
    refused = refusal(circuit)
    # The probe is due 1 s after the opening, shortened by 12.5 % (jitter 0.25 * rng 0.5);
    # the call waits until then plus half a base backoff of spread.
    assert refused.delay == pytest.approx(0.875 - 0.25 + 0.5)
    assert isinstance(refused, DeferError)
    assert (refused.service, refused.account) == ("acme:pinterest", "shop")
    assert "acme:pinterest (account 'shop') is unavailable" in str(refused)
    assert "cannot connect to 127.0.0.1:9" in str(refused)  # why it opened
    assert circuit.deferred == 1


def test_after_its_backoff_one_probe_goes_through_and_its_success_closes_the_circuit():
    clock = Clock()
    circuit = circuits(clock).circuit("acme:pinterest")
    fail(circuit, 5)
    clock.now += 1.0
    assert circuit.admit() is True  # the probe
    assert circuit.state is HALF_OPEN
    waiting = refusal(circuit)  # every other call waits while it is under way
    assert waiting.delay == pytest.approx(1.0)
    circuit.succeeded()
    assert circuit.state is CLOSED
    assert circuit.admit() is False


def test_a_failed_probe_opens_the_circuit_again_for_twice_as_long_up_to_the_cap():
    clock = Clock()
    circuit = circuits(clock, max_backoff=5.0).circuit("acme:pinterest")
    fail(circuit, 5)
    waits = []
    for _ in range(5):
        opened_at = clock.now
        while True:
            clock.now += 0.125
            try:
                probe = circuit.admit()
            except ServiceUnavailableError:
                continue
            break
        waits.append(clock.now - opened_at)
        assert probe is True
        assert circuit.failed(probe) is True
        assert circuit.state is OPEN
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert circuit.opened == 6


def test_waits_are_shortened_at_random_by_at_most_the_jitter():
    clock = Clock()
    circuit = circuits(clock, rng=0.999, jitter=0.25).circuit("acme:pinterest")
    fail(circuit, 5)
    clock.now += 0.74
    refusal(circuit)
    clock.now += 0.011  # 75.1 % of the 1 s backoff
    assert circuit.admit() is True


def test_a_probe_that_ends_without_a_verdict_lets_the_next_call_probe():
    clock = Clock()
    circuit = circuits(clock).circuit("acme:pinterest")
    fail(circuit, 5)
    clock.now += 1.0
    assert circuit.admit() is True
    circuit.abandon(True)  # e.g. cancelled, or its quota made it wait
    assert circuit.admit() is True


def test_failures_of_calls_sent_before_it_opened_are_an_outage_and_move_no_probe():
    clock = Clock()
    circuit = circuits(clock).circuit("acme:pinterest")
    in_flight = [circuit.admit() for _ in range(8)]
    outcomes = [circuit.failed(probe) for probe in in_flight]
    assert outcomes == [False] * 4 + [True] * 4
    clock.now += 1.0
    assert circuit.admit() is True  # still due 1 s after the opening


def test_circuits_are_kept_per_service_and_account():
    made = circuits(Clock())
    shop = made.circuit("acme:pinterest", "shop")
    fail(shop, 5)
    assert made.circuit("acme:pinterest", "shop") is shop
    assert made.circuit("acme:pinterest", "blog").state is CLOSED
    assert made.circuit("acme:other").state is CLOSED
    assert {(c.service, c.account) for c in made} == {
        ("acme:pinterest", "shop"),
        ("acme:pinterest", "blog"),
        ("acme:other", None),
    }


def test_an_outage_logs_one_warning_when_it_opens_and_one_line_when_it_closes():
    clock = Clock()
    circuit = circuits(clock).circuit("acme:pinterest", "shop")
    with capture_logs() as logs:
        for probe in [circuit.admit() for _ in range(20)]:  # all sent before it opened
            circuit.failed(probe)
        for _ in range(3):  # probes that fail
            clock.now += 30.0
            circuit.failed(circuit.admit())
            for _ in range(10):
                with pytest.raises(ServiceUnavailableError):
                    circuit.admit()
        clock.now += 30.0
        circuit.admit()
        circuit.succeeded()
    levels = [(e["log_level"], e["event"]) for e in logs]
    assert levels == [
        ("warning", "circuit opened: calls wait for the service"),
        ("info", "circuit closed: the service answers again"),
    ]
    opened, closed = logs
    assert (opened["service"], opened["account"], opened["failures"]) == (
        "acme:pinterest",
        "shop",
        5,
    )
    assert (closed["failed_probes"], closed["deferred_calls"]) == (3, 30)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        pytest.param({"threshold": 0}, "threshold", id="no threshold"),
        pytest.param({"base_backoff": 0.0}, "base_backoff", id="no backoff"),
        pytest.param({"base_backoff": 9.0, "max_backoff": 2.0}, "max_backoff", id="cap below"),
        pytest.param({"jitter": 1.0}, "jitter", id="jitter of a whole wait"),
    ],
)
def test_settings_that_cannot_work_are_refused_by_name(options: dict[str, Any], named: str):
    with pytest.raises(ValueError, match=named):
        Circuits(**options)


# -- any sequence of outcomes ------------------------------------------------------------------

THRESHOLD, BASE, CAP = 3, 1.0, 8.0
steps = st.lists(
    st.one_of(
        st.just(("call", 0.0)),
        st.tuples(st.sampled_from(["succeed", "fail", "abandon"]), st.integers(0, 7)),
        st.tuples(st.just("wait"), st.floats(0.0, 10.0)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(steps=steps, rng=st.floats(0.0, 0.999))
def test_any_sequence_of_outcomes_keeps_the_circuits_promises(
    steps: list[tuple[str, float]], rng: float
):
    clock = Clock()
    circuit = circuits(clock, rng=rng, threshold=THRESHOLD, max_backoff=CAP).circuit("svc")
    in_flight: list[bool] = []  # whether each call under way is a probe
    in_a_row = 0  # failures since the last answer, as the caller saw them
    for action, value in steps:
        was = circuit.state
        if action == "wait":
            clock.now += value
        elif action == "call":
            refused: ServiceUnavailableError | None = None
            try:
                in_flight.append(circuit.admit())
            except ServiceUnavailableError as exc:
                refused = exc
            if refused is None:  # only a probe passes a circuit that is not closed
                assert in_flight[-1] is (was is not CLOSED)
            else:
                assert was is not CLOSED  # a closed circuit refuses nothing
                assert 0.0 <= refused.delay < CAP + BASE
        elif in_flight:
            probe = in_flight.pop(int(value) % len(in_flight))
            if action == "succeed":
                circuit.succeeded()
                in_a_row = 0
            elif action == "fail":
                in_a_row += 1
                assert circuit.failed(probe) is (circuit.state is not CLOSED)
            else:
                circuit.abandon(probe)
        assert circuit.state in (CLOSED, OPEN, HALF_OPEN)
        assert (circuit.state is CLOSED) == (in_a_row < THRESHOLD)
        assert sum(in_flight) <= 1  # never two probes at once
