"""Every error flowmixer raises on purpose, grouped by what happens next.

::

    FlowmixerError                      root: catch this to catch everything of ours
    ├── ConfigurationError              the set-up is wrong; nothing runs until it is fixed
    │   ├── ManifestError               a manifest file is broken (file + field named)
    │   └── FlowValidationError         a flow file is broken (every problem, by JSON path)
    ├── ComponentError                  raised by a handler about one message
    │   ├── CancelError                 drop the message: dead-letter it now, no retry
    │   │   ├── InvalidInputError       the mapped input does not match the in-port schema
    │   │   └── UncertainEffectError    an effect may have happened and the API cannot tell
    │   ├── RetryError                  try again later (optionally after ``delay`` seconds)
    │   │   ├── DeferError              wait for a rate limit; uses no attempt, only time
    │   │   │   └── ServiceUnavailableError  a service's circuit is open: nothing was sent
    │   │   └── CallTimeoutError        the handler did not finish in time (raised by the engine)
    │   └── ReauthorizeError            the account's grant is gone; a person must reconnect it
    └── EngineError                     the engine was asked for something it cannot do
        ├── IntakeFullError             a flow's bound stayed reached for the whole wait
        ├── BrokerUnavailableError      the broker's server stayed out of reach for the wait
        ├── DuplicateEventError         an idempotency key already names an accepted event
        ├── StaleStateError             a fenced state write lost to a newer one: nothing written
        └── LeaseLostError              a tick's lease passed to another owner: nothing written

Any other exception a handler raises is handled by the flow's retry policy: retried with
backoff up to the attempt limit, then dead-lettered with its message.

Messages never include secrets: handlers and clients translate library errors at their
boundary and keep only what helps a person act.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlowmixerError(Exception):
    """Root of all flowmixer errors."""


class ConfigurationError(FlowmixerError):
    """The configuration is wrong; retrying will not help."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem: where it is (``path``) and what is wrong (``message``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _ProblemsError(ConfigurationError):
    """A configuration error that lists every problem found, not only the first."""

    heading = "invalid"

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {self.heading} ({len(self.problems)} problem(s)):\n{lines}")


class ManifestError(_ProblemsError):
    """A component or service manifest is broken; ``source`` is its file."""

    heading = "invalid manifest"


class FlowValidationError(_ProblemsError):
    """A flow descriptor is broken; ``problems`` lists each with its JSON path."""

    heading = "invalid flow"


class ComponentError(FlowmixerError):
    """Raised by a component handler about the message it is handling."""


class CancelError(ComponentError):
    """Drop this message: it goes to the dead letters with this reason, without a retry."""


class InvalidInputError(CancelError):
    """The (mapped) input of a message does not match its in-port's JSON Schema."""


class UncertainEffectError(CancelError):
    """An earlier attempt may have made the effect, and the API cannot tell whether it did.

    The message is parked in the dead letters (``error_type`` ``UncertainEffectError``) for a
    person to check, rather than sent again blindly; the effect's record stays uncertain, so a
    retry of the dead letter looks for the object again before making it.
    """


class RetryError(ComponentError):
    """Try this message again, after ``delay`` seconds when given (else the policy's backoff).

    ``outage`` is set by a service's client when the failure opened the service's circuit or
    came while it was open (:mod:`runtime.circuit`): the service is down, not the message at
    fault, so the retry uses no attempt, like a :class:`DeferError`.
    """

    outage: bool = False

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class DeferError(RetryError):
    """Not a failure of the message: the work must wait (for a rate limit), ``delay`` seconds.

    It is tried again without using one of the flow's attempts; the flow's time limit
    (``retry.maxElapsed``) still bounds how long a message may be deferred.
    """


class ServiceUnavailableError(DeferError):
    """A call was not sent because its service's circuit is open (:mod:`runtime.circuit`).

    ``delay`` is the time until the circuit lets a probe call through, plus a little jitter;
    ``account`` is the account whose circuit it is (None when the circuit is the service's).
    """

    def __init__(
        self, message: str, *, delay: float, service: str, account: str | None = None
    ) -> None:
        super().__init__(message, delay=delay)
        self.service = service
        self.account = account


class CallTimeoutError(RetryError):
    """Raised by the engine, not by handlers: ``receive`` ran past its timeout and was cancelled.

    Retried like any :class:`RetryError` (it uses an attempt), then dead-lettered.
    """


class ReauthorizeError(ComponentError):
    """The account's authorization is gone; a person has to connect it again."""


class EngineError(FlowmixerError):
    """The engine was asked for something it cannot do (unknown flow, flow not running...)."""


class IntakeFullError(EngineError):
    """A push found its component's channel full for the whole wait; nothing was accepted."""


class BrokerUnavailableError(EngineError):
    """A push found the broker's server (Redis) out of reach for the whole wait; the event was
    not acknowledged (it may have reached the server just before it went away)."""


class DuplicateEventError(EngineError):
    """An idempotency key already names an event (``event_id``); nothing new was accepted."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"the idempotency key was already used for event {event_id!r}")
        self.event_id = event_id


class StaleStateError(EngineError):
    """A state write made with ``expected_version`` found a newer version stored (another
    writer, e.g. another process ticking the same trigger, saved first); nothing was written."""

    def __init__(self, flow_id: str, component_id: str, key: str, expected: int) -> None:
        super().__init__(
            f"the state {key!r} of {flow_id}/{component_id} changed since it was read"
            f" (version {expected}); the write was refused"
        )
        self.flow_id = flow_id
        self.component_id = component_id
        self.key = key
        self.expected = expected


class LeaseLostError(EngineError):
    """A tick's commit found its polling trigger's lease held by another owner, or with a newer
    token (another process took the trigger over); nothing of the tick was written."""

    def __init__(self, name: str, token: int) -> None:
        super().__init__(
            f"the lease {name!r} is no longer held with token {token}; the write was refused"
        )
        self.name = name
        self.token = token
