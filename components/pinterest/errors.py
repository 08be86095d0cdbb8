"""What can go wrong talking to Pinterest, grouped by what the engine does next.

::

    PinterestError (ComponentError)        root; .status, .code, .api_message (None when unknown)
    ├── PinterestInputError   (CancelError)      our own check refused an input before sending
    ├── BadRequestError       (CancelError)      400, and any other 4xx not listed here
    ├── UnauthorizedError     (ReauthorizeError) 401 after one refresh, or a scope is missing
    ├── ForbiddenError        (CancelError)      403: a scope or the account's role is missing
    ├── NotFoundError         (CancelError)      404
    ├── RequestTimeoutError   (RetryError)       408: the server gave up waiting for the request
    ├── ConflictError         (RetryError)       409: the object is busy; try again later
    ├── RateLimitedError      (DeferError)       429; .wait seconds (the delay; uses no attempt)
    ├── ServerError           (RetryError)       5xx
    ├── TransportError        (RetryError)       no answer: connection refused or dropped, timeout
    ├── PaginationError                          the API repeated a bookmark (would loop forever)
    ├── MediaFailedError      (CancelError)      an uploaded video could not be processed
    └── MediaNotReadyError    (RetryError)       a video was still processing when the wait ended

Which answer raises which error, and so what the engine does next, is one table,
:data:`FAILURES`, read by :func:`classify` (HTTP error answers) and :func:`rule_for`:

==========  ===================  =============  ==============================================
answer      error                next           why
==========  ===================  =============  ==============================================
400         BadRequestError      dead-letter    the request is invalid
401         UnauthorizedError    re-authorize   the token was refused after one refresh
403         ForbiddenError       dead-letter    a scope or the account's role is missing
404         NotFoundError        dead-letter    the object does not exist or is not visible
408         RequestTimeoutError  retry          the server gave up waiting for the request
409         ConflictError        retry          the object is busy (Pinterest could not get
                                                exclusive access to it)
429         RateLimitedError     wait           after ``Retry-After`` / ``X-RateLimit-Reset``;
                                                uses no attempt, only the flow's maxElapsed
other 4xx   BadRequestError      dead-letter    sending the same request again will not help
5xx         ServerError          retry          Pinterest failed
no answer   TransportError       retry          refused, dropped or timed out (transport.py)
other       ServerError          retry          a status outside 400-599: not an answer we know
==========  ===================  =============  ==============================================

Dead letters keep the message, which holds Pinterest's ``code`` and ``message``; never a token,
never a request body. "re-authorize" parks the message until the account is connected again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from components.pinterest.models import RateLimit
from runtime.errors import CancelError, ComponentError, DeferError, ReauthorizeError, RetryError

SCOPES_MISSING_CODE: Final = 3
"""Pinterest's code for a 401 whose token lacks a scope the operation needs."""

# Pinterest's messages are short; a longer one is cut so that a message stays one readable line.
_MAX_API_MESSAGE: Final = 300


class PinterestError(ComponentError):
    """Root of the connector's errors.

    ``status`` is the HTTP status (None when there was no answer), ``code`` Pinterest's numeric
    error code and ``api_message`` its message, when the answer had them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        api_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = api_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, status={self.status!r}, code={self.code!r})"


class PinterestInputError(PinterestError, CancelError):
    """An input breaks a limit of the API; ``field`` names it (e.g. ``title``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class BadRequestError(PinterestError, CancelError):
    """Pinterest refused the request as invalid (400 or another unlisted 4xx)."""


class UnauthorizedError(PinterestError, ReauthorizeError):
    """Pinterest refused the token (401): after one refresh, or at once for missing scopes."""

    @property
    def scopes_missing(self) -> bool:
        """Whether the token is valid but lacks a scope (a refresh cannot add one)."""
        return self.code == SCOPES_MISSING_CODE


class ForbiddenError(PinterestError, CancelError):
    """The token lacks a scope, or the account may not touch this object (403)."""


class NotFoundError(PinterestError, CancelError):
    """The board, section, Pin, media or user does not exist or is not visible (404)."""


class RequestTimeoutError(PinterestError, RetryError):
    """The server gave up waiting for the request to arrive (408); sending it again may work."""


class ConflictError(PinterestError, RetryError):
    """The object is being changed by another request (409)."""


class RateLimitedError(PinterestError, DeferError):
    """Too many requests (429); ``wait`` is the server's hint in seconds, also ``delay``."""

    def __init__(
        self,
        message: str,
        *,
        wait: float | None = None,
        status: int | None = 429,
        code: int | None = None,
        api_message: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, api_message=api_message)
        self.wait = wait
        self.delay = wait


class ServerError(PinterestError, RetryError):
    """Pinterest failed (5xx)."""


class TransportError(PinterestError, RetryError):
    """No answer: the connection failed, dropped or timed out."""


class PaginationError(PinterestError):
    """The API sent a bookmark it had sent before; following it would never end."""


class MediaFailedError(PinterestError, CancelError):
    """Pinterest reported ``failed`` for an uploaded video; uploading it again will not help."""


class MediaNotReadyError(PinterestError, RetryError):
    """An uploaded video was still not ``succeeded`` when the wait ended; ``media_id`` names it."""

    def __init__(self, message: str, *, media_id: str) -> None:
        super().__init__(message)
        self.media_id = media_id


NextStep = Literal["retry", "wait", "dead-letter", "re-authorize"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of :data:`FAILURES`: the answers it covers (``statuses``; None for no answer at
    all), the error they raise and what the engine then does with the message."""

    answer: str
    statuses: range | None
    error: type[PinterestError]
    next_step: NextStep

    def covers(self, status: int | None) -> bool:
        return status is None if self.statuses is None else status in self.statuses


def _only(status: int) -> range:
    return range(status, status + 1)


# The module docstring explains each row; a test keeps the two the same.
FAILURES: Final[tuple[Rule, ...]] = (
    Rule("400", _only(400), BadRequestError, "dead-letter"),
    Rule("401", _only(401), UnauthorizedError, "re-authorize"),
    Rule("403", _only(403), ForbiddenError, "dead-letter"),
    Rule("404", _only(404), NotFoundError, "dead-letter"),
    Rule("408", _only(408), RequestTimeoutError, "retry"),
    Rule("409", _only(409), ConflictError, "retry"),
    Rule("429", _only(429), RateLimitedError, "wait"),
    Rule("other 4xx", range(400, 500), BadRequestError, "dead-letter"),
    Rule("5xx", range(500, 600), ServerError, "retry"),
    Rule("no answer", None, TransportError, "retry"),
    Rule("other", range(0, 1000), ServerError, "retry"),
)
"""What each failed exchange with Pinterest raises; the first row that covers it decides."""


def rule_for(status: int | None) -> Rule:
    """The row of :data:`FAILURES` for an answer with ``status`` (None: no answer came)."""
    for rule in FAILURES:
        if rule.covers(status):
            return rule
    return FAILURES[-1]


def _error_fields(body: Any) -> tuple[int | None, str | None]:
    """Pinterest's ``{"code": int, "message": str}``, tolerating any other shape."""
    if not isinstance(body, Mapping):
        return None, None
    code = body.get("code")
    message = body.get("message")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    if not isinstance(message, str) or not message.strip():
        return code, None
    message = " ".join(message.split())
    if len(message) > _MAX_API_MESSAGE:
        message = message[: _MAX_API_MESSAGE - 3] + "..."
    return code, message


def rate_limit_wait(rate_limit: RateLimit, *, now: float | None = None) -> float | None:
    """Seconds to wait after a 429: ``Retry-After``, else ``X-RateLimit-Reset``, else None.

    A reset value larger than a year of seconds is read as an epoch time, not a duration.
    """
    if rate_limit.retry_after is not None:
        return max(0.0, rate_limit.retry_after)
    reset = rate_limit.reset
    if reset is None:
        return None
    if reset > 365 * 86_400:
        reset -= time.time() if now is None else now
    return max(0.0, reset)


def classify(
    status: int, body: Any, headers: Mapping[str, str], *, request: str | None = None
) -> PinterestError:
    """The error for an HTTP answer with ``status`` >= 400 (``body`` is parsed JSON or None).

    ``request`` (e.g. ``"GET /boards/123"``, no query string) starts the message when given.
    """
    code, api_message = _error_fields(body)
    detail = f"HTTP {status}"
    if code is not None:
        detail += f", Pinterest code {code}"
    detail += f": {api_message}" if api_message else " (no Pinterest error message)"
    message = f"{request} failed: {detail}" if request else f"Pinterest answered {detail}"
    fields: dict[str, Any] = {"status": status, "code": code, "api_message": api_message}
    error = rule_for(status).error
    if error is RateLimitedError:
        wait = rate_limit_wait(RateLimit.from_headers(headers))
        if wait is not None:
            message += f" (retry in {wait:g} s)"
        return RateLimitedError(message, wait=wait, **fields)
    return error(message, **fields)
