"""Idempotent creates: which failure may have made the object, and reading a listing back."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel

from runtime.auth.oauth2 import OAuth2Error
from runtime.connector.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.connector.idempotent import as_payload, created_since, may_have_taken_effect
from runtime.errors import ReauthorizeError, RetryError
from runtime.quota import QuotaWaitError


def _dropped(cause: BaseException) -> TransportError:
    error = TransportError("POST /api/widgets failed")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "maybe"),
    [
        (_dropped(aiohttp.ServerDisconnectedError()), True),
        (_dropped(TimeoutError()), True),
        (_dropped(aiohttp.ClientPayloadError("cut")), True),
        (ServerError("HTTP 503", status=503), True),
        (ServerError("HTTP 200 with a body that is not JSON", status=200), True),
        (ServiceError("the answer is not a valid Pin"), True),
        (RetryError("anything else"), True),
        (TransportError("POST /api/widgets failed: cannot connect", sent=False), False),
        (BadRequestError("HTTP 400", status=400), False),
        (UnauthorizedError("HTTP 401", status=401), False),
        (ForbiddenError("HTTP 403", status=403), False),
        (NotFoundError("HTTP 404", status=404), False),
        (ConflictError("HTTP 409", status=409), False),
        (RateLimitedError("HTTP 429", wait=1.0), False),
        (InputError("title", "too long"), False),
        (ReauthorizeError("the account must be connected again"), False),
        (QuotaWaitError("quota", delay=60, service="acme:widgets", resource="org_write"), False),
        (OAuth2Error("the token endpoint did not answer"), False),
    ],
    ids=[
        "connection dropped after sending",
        "no answer in time",
        "answer cut off",
        "5xx",
        "unreadable success",
        "success of another shape",
        "an unknown failure",
        "no connection opened",
        "400",
        "401",
        "403",
        "404",
        "409",
        "429",
        "our own input check",
        "no token",
        "held by the quota before sending",
        "the refresh failed before sending",
    ],
)
def test_only_failures_that_may_have_reached_the_service_make_the_next_attempt_look_first(
    error, maybe
):
    assert may_have_taken_effect(error) is maybe


class Widget(BaseModel):
    id: str
    name: str | None = None
    note: str | None = None


def test_what_a_create_sends_on_is_the_object_as_answered_without_empty_fields():
    assert as_payload(Widget(id="1", name="a")) == {"id": "1", "name": "a"}
    assert as_payload({"id": "2"}) == {"id": "2"}


@pytest.mark.parametrize(
    ("created_at", "since", "maybe"),
    [
        ("2026-01-01T00:10:00", 1_767_225_600.0, True),
        ("2026-01-01T00:00:00", 1_767_225_600.0 + 299, True),
        ("2026-01-01T00:00:00", 1_767_225_600.0 + 301, False),
        (None, 1_767_225_600.0, True),
        ("not a time", 1_767_225_600.0, True),
        ("2026-01-01T00:00:00", None, True),
    ],
    ids=["after", "within-skew", "before-skew", "no-time", "unreadable", "no-since"],
)
def test_an_object_made_before_the_first_attempt_less_the_clock_skew_is_not_the_one_made(
    created_at: Any, since: float | None, maybe: bool
):
    assert created_since(created_at, since) is maybe
