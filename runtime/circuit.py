"""Circuit breakers: an outage of a service is a wait for its messages, not their failure.

The engine keeps one :class:`Circuits` for all its flows (``context.circuits``); a service's
client takes the :class:`Circuit` of the service (and account) it calls and reports the outcome
of every call to it::

    circuit = context.circuits.circuit("acme:pinterest", account="shop")
    probe = circuit.admit()  # ServiceUnavailableError while open: nothing is sent
    try:
        answer = await send()
    except (NoAnswer, ServerFailed) as exc:  # the service's own failures
        if circuit.failed(probe, str(exc)):  # open after this failure: an outage
            exc.outage, exc.delay = True, circuit.wait()
        raise
    except BaseException:  # no verdict on the service (cancelled, never sent)
        circuit.abandon(probe)
        raise
    circuit.succeeded()  # any answer but a failure, 4xx and 429 included

States, as ``flowmixer_circuit_state`` shows them:

- **closed** (0): calls go through. :data:`THRESHOLD` failures in a row open it. Consecutive
  failures, rather than a failure ratio over a window, need no traffic volume to judge and no
  window to tune: a service that answers nothing opens the circuit within that many calls, at
  any rate of calls, while a service failing a fraction ``p`` of calls at random opens it
  with a chance of ``p ** THRESHOLD`` per run of calls (0.03 % at 20 %), and then only for a
  short wait, which loses nothing;
- **open** (1): no call is sent; each raises :class:`~runtime.errors.ServiceUnavailableError`,
  whose ``delay`` is the time until the next probe plus jitter, so the engine delivers the
  message again then without using an attempt. The wait before the probe grows with each
  failed probe (``base_backoff * 2 ** n``, capped at ``max_backoff``, each shortened by up to
  ``jitter`` of itself at random, so that processes sharing a service do not probe in step);
- **half-open** (2): the wait is over; the next call is the **probe**, the only call let
  through. Any answer that is not a failure closes the circuit; a failure opens it again with
  a longer wait; a probe that ends with no verdict lets the next call probe.

Failures of calls that were sent before the circuit opened and end while it is open are the
outage's too: :meth:`Circuit.failed` says so, and the client marks them ``outage`` so that they
use no attempt either (:attr:`runtime.errors.RetryError.outage`).

A closed circuit costs a call a dict lookup (:meth:`Circuits.circuit`) and a comparison. A
circuit logs one warning when it opens and one info line when it closes; nothing per call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import TYPE_CHECKING, Final

import structlog

from runtime.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

THRESHOLD: Final = 5
"""Failures in a row that open a closed circuit."""
BASE_BACKOFF: Final = 1.0
"""Seconds an opened circuit waits before its first probe."""
MAX_BACKOFF: Final = 30.0
"""The longest wait between two probes, however many failed."""
JITTER: Final = 0.25
"""The part of each wait by which it is shortened at random."""


class CircuitState(IntEnum):
    """A circuit's state; the value is what ``/metrics`` shows."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


CLOSED: Final = CircuitState.CLOSED
OPEN: Final = CircuitState.OPEN
HALF_OPEN: Final = CircuitState.HALF_OPEN


class Circuit:
    """The circuit of one service (and account): see the module docs for its states."""

    __slots__ = (
        "_circuits",
        "_last_error",
        "_opened_at",
        "_probe_at",
        "_probing",
        "_reopens",
        "account",
        "deferred",
        "failures",
        "opened",
        "service",
        "state",
    )

    def __init__(self, circuits: Circuits, service: str, account: str | None) -> None:
        self._circuits = circuits
        self.service = service
        self.account = account
        self.state = CLOSED
        self.failures = 0
        """Failures in a row (reset by any answer that is not a failure)."""
        self.opened = 0
        """Times the circuit opened, a failed probe opening it again included."""
        self.deferred = 0
        """Calls not sent because the circuit was open, since it last opened from closed."""
        self._reopens = 0  # failed probes since the circuit opened from closed
        self._probe_at = 0.0
        self._probing = False
        self._opened_at = 0.0
        self._last_error = ""

    def admit(self) -> bool:
        """Let a call through: True when it is the half-open circuit's probe.

        Raises :class:`~runtime.errors.ServiceUnavailableError` instead while the circuit is
        open, or half-open with its probe under way.
        """
        if self.state is CLOSED:
            return False
        if not self._probing and self._circuits.clock() >= self._probe_at:
            self.state = HALF_OPEN
            self._probing = True
            return True
        self.deferred += 1
        raise self._unavailable()

    def succeeded(self) -> None:
        """A call was answered, with anything but a failure (4xx and 429 included)."""
        if self.state is CLOSED:
            self.failures = 0
            return
        self._close()

    def failed(self, probe: bool = False, error: str = "") -> bool:
        """A call got no answer, or a 5xx; whether the circuit is open after it (an outage).

        ``error`` says what happened (no secret: it may end in a dead letter's reason).
        """
        circuits = self._circuits
        if error:
            self._last_error = error
        if self.state is CLOSED:
            self.failures += 1
            if self.failures < circuits.threshold:
                return False
            self._open(circuits.clock())
            return True
        self.failures += 1
        if probe and self.state is HALF_OPEN:
            self._reopens += 1
            self._open(circuits.clock())
        return True

    def abandon(self, probe: bool = False) -> None:
        """A call ended without a verdict on the service (cancelled, or never sent)."""
        if probe and self.state is HALF_OPEN:
            self._probing = False  # the next call probes instead

    def wait(self) -> float:
        """Seconds a call refused now should wait: until the next probe, plus jitter.

        While a probe is under way, about one base backoff: the probe's answer is near.
        """
        circuits = self._circuits
        spread = circuits.base_backoff * circuits.rng()
        if self.state is OPEN:
            return max(0.0, self._probe_at - circuits.clock()) + spread
        return circuits.base_backoff + spread

    def _open(self, now: float) -> None:
        circuits = self._circuits
        backoff = min(circuits.max_backoff, circuits.base_backoff * 2.0**self._reopens)
        self._probe_at = now + backoff * (1.0 - circuits.jitter * circuits.rng())
        self._probing = False
        self.opened += 1
        if self.state is CLOSED:
            self._opened_at = now
            self.deferred = 0
            circuits.log.warning(
                "circuit opened: calls wait for the service",
                service=self.service,
                account=self.account,
                failures=self.failures,
                probe_in=round(self._probe_at - now, 3),
                error=self._last_error,
            )
        self.state = OPEN

    def _close(self) -> None:
        circuits = self._circuits
        circuits.log.info(
            "circuit closed: the service answers again",
            service=self.service,
            account=self.account,
            down_for=round(circuits.clock() - self._opened_at, 3),
            failed_probes=self._reopens,
            deferred_calls=self.deferred,
        )
        self.state = CLOSED
        self.failures = 0
        self._reopens = 0
        self._probing = False

    def _unavailable(self) -> ServiceUnavailableError:
        delay = self.wait()
        who = f" (account {self.account!r})" if self.account else ""
        why = f": {self._last_error}" if self._last_error else ""
        return ServiceUnavailableError(
            f"{self.service}{who} is unavailable: its circuit opened after {self.failures}"
            f" failed calls in a row{why}. Nothing was sent; the message waits {delay:.3g} s"
            " for the next probe, using no attempt",
            delay=delay,
            service=self.service,
            account=self.account,
        )

    def __repr__(self) -> str:
        return f"Circuit({self.service!r}, account={self.account!r}, {self.state.name})"


class Circuits:
    """The circuits of every service and account called by one process (one engine).

    ``threshold``, ``base_backoff``, ``max_backoff`` and ``jitter`` are described in the module
    docs; ``clock`` (seconds, monotonic) and ``rng`` (uniform in [0, 1)) are there for tests.
    """

    def __init__(
        self,
        *,
        threshold: int = THRESHOLD,
        base_backoff: float = BASE_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        jitter: float = JITTER,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, not {threshold}")
        if not 0 < base_backoff <= max_backoff:
            raise ValueError(
                f"backoffs must be 0 < base_backoff <= max_backoff, not {base_backoff}"
                f" and {max_backoff}"
            )
        if not 0 <= jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), not {jitter}")
        self.threshold = threshold
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.clock = clock
        self.rng = rng
        self.log: FilteringBoundLogger = logger or structlog.get_logger("flowmixer.circuit")
        self._circuits: dict[tuple[str, str | None], Circuit] = {}

    def circuit(self, service: str, account: str | None = None) -> Circuit:
        """The circuit of ``service`` for ``account`` (None: the service's own)."""
        key = (service, account)
        found = self._circuits.get(key)
        if found is None:
            found = self._circuits[key] = Circuit(self, service, account)
        return found

    def __iter__(self) -> Iterator[Circuit]:
        """Every circuit made so far (for ``/metrics``)."""
        return iter(list(self._circuits.values()))
