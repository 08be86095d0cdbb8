"""What a connector is built from: a declaration, a service client, errors, paging, output
modes, polling triggers and idempotent creates.

A connector declares a :class:`Connector`; its components call :func:`client_for` and
:meth:`ServiceClient.request` (or :meth:`ServiceClient.paginate`), which apply the quota, the
circuit and the token, and raise the errors of :mod:`runtime.connector.errors` as the
connector's :class:`ErrorTable` says. List components build on :class:`ListComponent`, polling
triggers on :class:`PollingTrigger`, creates that must not repeat on
:mod:`runtime.connector.idempotent`. The public names, in one sorted list (``tests/connector``
checks it).
"""

from __future__ import annotations

from runtime.connector.answers import DEFAULT_ERRORS, ErrorTable, Rule, classify
from runtime.connector.client import Connector, ServiceClient, api_base_for, client_for
from runtime.connector.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.connector.output import (
    OUTPUT_MODES,
    ListComponent,
    check_output,
    fetch_limit,
    send_items,
)
from runtime.connector.pagination import (
    CursorPages,
    FetchPage,
    NextLinkPages,
    Pages,
    PaginationError,
    check_limit,
    check_page_size,
    field_at,
    matching,
    paginate,
)
from runtime.connector.pipeline import HeaderAuth
from runtime.connector.polling import LedgerState, PollPolicy, Scan, epoch_seconds
from runtime.connector.polling_trigger import PollingTrigger
from runtime.connector.rate_limit import RateLimit
from runtime.connector.response import ApiResponse

__all__ = [
    "DEFAULT_ERRORS",
    "OUTPUT_MODES",
    "ApiResponse",
    "BadRequestError",
    "ConflictError",
    "Connector",
    "CursorPages",
    "ErrorTable",
    "FetchPage",
    "ForbiddenError",
    "HeaderAuth",
    "InputError",
    "LedgerState",
    "ListComponent",
    "NextLinkPages",
    "NotFoundError",
    "Pages",
    "PaginationError",
    "PollPolicy",
    "PollingTrigger",
    "RateLimit",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "Rule",
    "Scan",
    "ServerError",
    "ServiceClient",
    "ServiceError",
    "TransportError",
    "UnauthorizedError",
    "api_base_for",
    "check_limit",
    "check_output",
    "check_page_size",
    "classify",
    "client_for",
    "epoch_seconds",
    "fetch_limit",
    "field_at",
    "matching",
    "paginate",
    "send_items",
]
