"""What a connector is built from: a declaration, a service client, errors, idempotent creates.

A connector declares a :class:`Connector`; its components call :func:`client_for` and
:meth:`ServiceClient.request`, which apply the quota, the circuit and the token, and raise the
errors of :mod:`runtime.connector.errors` as the connector's :class:`ErrorTable` says.
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
from runtime.connector.pipeline import HeaderAuth
from runtime.connector.rate_limit import RateLimit
from runtime.connector.response import ApiResponse

__all__ = [
    "DEFAULT_ERRORS",
    "ApiResponse",
    "BadRequestError",
    "ConflictError",
    "Connector",
    "ErrorTable",
    "ForbiddenError",
    "HeaderAuth",
    "InputError",
    "NotFoundError",
    "RateLimit",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "Rule",
    "ServerError",
    "ServiceClient",
    "ServiceError",
    "TransportError",
    "UnauthorizedError",
    "api_base_for",
    "classify",
    "client_for",
]
