"""What can go wrong calling a service, grouped by what the engine does next.

::

    ServiceError (ComponentError)       .status .code .api_message (None when unknown), .service
    ├── InputError          (CancelError)      our own check refused an input before sending
    ├── BadRequestError     (CancelError)      400 and any other unlisted 4xx
    ├── UnauthorizedError   (ReauthorizeError) 401 after one refresh; .refreshable
    ├── ForbiddenError      (CancelError)      403
    ├── NotFoundError       (CancelError)      404
    ├── RequestTimeoutError (RetryError)       408
    ├── ConflictError       (RetryError)       409
    ├── RateLimitedError    (DeferError)       429; .wait
    ├── ServerError         (RetryError)       5xx
    └── TransportError      (RetryError)       no answer; .sent

Which answer raises which error is the connector's error table (:mod:`.answers`); what the
engine then does with the message is :func:`runtime.retry.next_step`. An error made from an
answer keeps it as ``response`` (never part of ``str()``), so that a generic component can
route the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.errors import CancelError, ComponentError, DeferError, ReauthorizeError, RetryError

if TYPE_CHECKING:
    from runtime.connector.response import ApiResponse


class ServiceError(ComponentError):
    """Root of the errors of a call.

    ``status`` is the HTTP status (None when there was no answer), ``code`` the service's own
    error code and ``api_message`` its message, when the answer had them; ``service`` names
    the service (e.g. ``acme:widgets``) when known.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        api_message: str | None = None,
        service: str | None = None,
        response: ApiResponse | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = api_message
        self.service = service
        self.response = response

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, status={self.status!r}, code={self.code!r})"


class InputError(ServiceError, CancelError):
    """An input breaks a limit of the API; ``field`` names it (e.g. ``title``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class BadRequestError(ServiceError, CancelError):
    """The service refused the request as invalid (400 or another unlisted 4xx)."""


class UnauthorizedError(ServiceError, ReauthorizeError):
    """The service refused the token (401) after one refresh, or at once when ``refreshable``
    is False (e.g. the token lacks a scope: a refreshed one has the same scopes)."""

    refreshable: bool = True


class ForbiddenError(ServiceError, CancelError):
    """The token lacks a scope, or the account may not touch this object (403)."""


class NotFoundError(ServiceError, CancelError):
    """The object does not exist or is not visible to the account (404)."""


class RequestTimeoutError(ServiceError, RetryError):
    """The server gave up waiting for the request to arrive (408); sending it again may work."""


class ConflictError(ServiceError, RetryError):
    """The object is being changed by another request (409)."""


class RateLimitedError(ServiceError, DeferError):
    """Too many requests (429); ``wait`` is the server's hint in seconds, also ``delay``."""

    def __init__(
        self,
        message: str,
        *,
        wait: float | None = None,
        status: int | None = 429,
        code: int | str | None = None,
        api_message: str | None = None,
        service: str | None = None,
        response: ApiResponse | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            code=code,
            api_message=api_message,
            service=service,
            response=response,
        )
        self.wait = wait
        self.delay = wait


class ServerError(ServiceError, RetryError):
    """The service failed (5xx), or answered what cannot be read."""


class ResponseTooLargeError(ServiceError, CancelError):
    """The answer's body is longer than the call accepts (``max_bytes``); asking again gets
    the same answer, so the message is not retried. The answer is not kept."""


class TransportError(ServiceError, RetryError):
    """No answer: the connection failed, dropped or timed out.

    ``sent`` is False when no connection could be opened, so nothing reached the service.
    """

    def __init__(self, message: str, *, sent: bool = True, service: str | None = None) -> None:
        super().__init__(message, service=service)
        self.sent = sent
