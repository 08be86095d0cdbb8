"""The error table: which answer raises which error, and so what the engine does next.

A connector declares an :class:`ErrorTable` (rows of status range, optionally the service's own
error code, to error class); :func:`classify` is the one place an answer becomes an error. The
next step is the class's, computed by :func:`runtime.retry.next_step`. The default table,
:data:`DEFAULT_ERRORS`:

==========  ===================  =============  ==============================================
answer      error                next           why
==========  ===================  =============  ==============================================
400         BadRequestError      dead-letter    the request is invalid
401         UnauthorizedError    re-authorize   the token was refused after one refresh
403         ForbiddenError       dead-letter    a scope or the account's role is missing
404         NotFoundError        dead-letter    the object does not exist or is not visible
408         RequestTimeoutError  retry          the server gave up waiting for the request
409         ConflictError        retry          the object is busy
429         RateLimitedError     wait           after ``Retry-After`` / ``X-RateLimit-Reset``;
                                                uses no attempt, only the flow's maxElapsed
other 4xx   BadRequestError      dead-letter    sending the same request again will not help
5xx         ServerError          retry          the service failed
no answer   TransportError       retry          refused, dropped or timed out (transport.py)
other       ServerError          retry          a status outside 400-599: not an answer we know
==========  ===================  =============  ==============================================

Dead letters keep the message, which holds the service's ``code`` and ``message``; never a
token, never a request body. "re-authorize" parks the message until the account is connected
again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from runtime.connector.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.connector.rate_limit import RateLimit

if TYPE_CHECKING:
    from runtime.connector.response import ApiResponse

# A service's messages are short; a longer one is cut so that a message stays one readable line.
_MAX_API_MESSAGE: Final = 300


def only(status: int) -> range:
    """The one-status range of a row."""
    return range(status, status + 1)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: the answers it covers (``statuses``; None for no answer at all; ``code`` the
    service's error code it needs, None for any) and the error they raise. ``answer`` names
    the row in documentation. ``refreshable`` is False for a 401 a refreshed token cannot
    cure (e.g. a missing scope): it is raised at once."""

    answer: str
    statuses: range | None
    error: type[ServiceError]
    code: int | str | None = None
    refreshable: bool = True

    def covers(self, status: int | None, code: int | str | None = None) -> bool:
        if self.code is not None and self.code != code:
            return False
        return status is None if self.statuses is None else status in self.statuses


DEFAULT_RULES: Final[tuple[Rule, ...]] = (
    Rule("400", only(400), BadRequestError),
    Rule("401", only(401), UnauthorizedError),
    Rule("403", only(403), ForbiddenError),
    Rule("404", only(404), NotFoundError),
    Rule("408", only(408), RequestTimeoutError),
    Rule("409", only(409), ConflictError),
    Rule("429", only(429), RateLimitedError),
    Rule("other 4xx", range(400, 500), BadRequestError),
    Rule("5xx", range(500, 600), ServerError),
    Rule("no answer", None, TransportError),
    Rule("other", range(0, 1000), ServerError),
)
"""The rows of :data:`DEFAULT_ERRORS`, drawn in the module docstring (a test keeps them equal)."""


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """Rows read first to last (the first that covers an answer decides); ``code_field`` and
    ``message_field`` name the fields of the service's error body (``{"code", "message"}``);
    a code of a type not in ``code_types`` is not read as a code."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    code_field: str = "code"
    message_field: str = "message"
    code_types: tuple[type[int] | type[str], ...] = (int, str)

    def with_rules(self, *rules: Rule) -> ErrorTable:
        """This table with ``rules`` read before its own."""
        return replace(self, rules=(*rules, *self.rules))

    def rule_for(self, status: int | None, code: int | str | None = None) -> Rule:
        """The row for an answer with ``status`` (None: no answer came) and error ``code``."""
        for rule in self.rules:
            if rule.covers(status, code):
                return rule
        return self.rules[-1]

    def fields(self, body: Any) -> tuple[int | str | None, str | None]:
        """The service's error code and message in ``body``, tolerating any other shape."""
        if not isinstance(body, Mapping):
            return None, None
        code = body.get(self.code_field)
        message = body.get(self.message_field)
        if isinstance(code, bool) or not isinstance(code, self.code_types) or code == "":
            code = None
        if not isinstance(message, str) or not message.strip():
            return code, None
        message = " ".join(message.split())
        if len(message) > _MAX_API_MESSAGE:
            message = message[: _MAX_API_MESSAGE - 3] + "..."
        return code, message


DEFAULT_ERRORS: Final = ErrorTable()
"""The table of a connector that declares none (see the module docstring)."""


def classify(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    label: str,
    table: ErrorTable = DEFAULT_ERRORS,
    service: str | None = None,
    request: str | None = None,
    response: ApiResponse | None = None,
) -> ServiceError:
    """The error for an HTTP answer with ``status`` >= 400 (``body`` is parsed JSON or None).

    ``label`` names the service in the message (``"Widgets answered HTTP 404, Widgets code
    8: ..."``); ``request`` (e.g. ``"GET /boards/123"``, no query string) starts it when given.
    """
    code, api_message = table.fields(body)
    detail = f"HTTP {status}"
    if code is not None:
        detail += f", {label} code {code}"
    detail += f": {api_message}" if api_message else f" (no {label} error message)"
    message = f"{request} failed: {detail}" if request else f"{label} answered {detail}"
    rule = table.rule_for(status, code)
    fields: dict[str, Any] = {
        "status": status,
        "code": code,
        "api_message": api_message,
        "service": service,
        "response": response,
    }
    if issubclass(rule.error, RateLimitedError):
        wait = RateLimit.from_headers(headers).wait()
        if wait is not None:
            message += f" (retry in {wait:g} s)"
        return rule.error(message, wait=wait, **fields)
    error = rule.error(message, **fields)
    if isinstance(error, UnauthorizedError) and not rule.refreshable:
        error.refreshable = False
    return error
