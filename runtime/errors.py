"""Every error flowmixer raises on purpose, grouped by what happens next.

::

    FlowmixerError                      root: catch this to catch everything of ours
    ├── ConfigurationError              the set-up is wrong; nothing runs until it is fixed
    │   ├── ManifestError               a manifest file is broken (file + field named)
    │   └── FlowValidationError         a flow file is broken (every problem, by JSON path)
    ├── ComponentError                  raised by a handler about one message
    │   ├── CancelError                 drop the message: dead-letter it now, no retry
    │   │   └── InvalidInputError       the mapped input does not match the in-port schema
    │   ├── RetryError                  try again later (optionally after ``delay`` seconds)
    │   │   ├── DeferError              wait for a rate limit; uses no attempt, only time
    │   │   └── CallTimeoutError        the handler did not finish in time (raised by the engine)
    │   └── ReauthorizeError            the account's grant is gone; a person must reconnect it
    └── EngineError                     the engine was asked for something it cannot do

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


class RetryError(ComponentError):
    """Try this message again, after ``delay`` seconds when given (else the policy's backoff)."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class DeferError(RetryError):
    """Not a failure of the message: the work must wait (for a rate limit), ``delay`` seconds.

    It is tried again without using one of the flow's attempts; the flow's time limit
    (``retry.maxElapsed``) still bounds how long a message may be deferred.
    """


class CallTimeoutError(RetryError):
    """Raised by the engine, not by handlers: ``receive`` ran past its timeout and was cancelled.

    Retried like any :class:`RetryError` (it uses an attempt), then dead-lettered.
    """


class ReauthorizeError(ComponentError):
    """The account's authorization is gone; a person has to connect it again."""


class EngineError(FlowmixerError):
    """The engine was asked for something it cannot do (unknown flow, flow not running...)."""
