"""A service's answer as a call gives it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.connector.rate_limit import RateLimit


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """An answer: ``body`` is the parsed JSON (None when there was no body or it was not JSON),
    ``text`` the body as text, ``rate_limit`` what its headers say about the quota."""

    status: int
    headers: dict[str, str]
    body: Any
    text: str = ""
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit())
