"""Settings of one emulator: token lifetimes, rate limits, faults, the sign-in behaviour."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from components.pinterest.emulator.clock import Clock
from components.pinterest.emulator.faults import FaultPlan
from runtime.errors import ConfigurationError


def _frozen(values: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests allowed per fixed window, by rate-limit category.

    ``per_user`` counts one user's calls through one app; ``per_app`` counts all calls made with
    one app's credentials. A category missing from a mapping is not limited at that level.
    The defaults are modest but generous enough for tests (the real Standard tier allows
    1000 ``org_read`` and 100 ``org_write`` calls per user per minute).
    """

    per_user: Mapping[str, int] = field(
        default_factory=lambda: _frozen({"org_read": 1000, "org_write": 100})
    )
    per_app: Mapping[str, int] = field(
        default_factory=lambda: _frozen({"org_read": 10_000, "org_write": 1000})
    )
    window_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ConfigurationError(f"window_seconds must be positive, not {self.window_seconds}")
        for level, limits in (("per_user", self.per_user), ("per_app", self.per_app)):
            for category, limit in limits.items():
                if limit < 1:
                    raise ConfigurationError(
                        f"{level}[{category!r}] must be at least 1, not {limit}"
                    )
            object.__setattr__(self, level, _frozen(limits))


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How an :class:`~components.pinterest.emulator.Emulator` behaves.

    Lifetimes are in seconds and default to the real ones (access token 30 days, continuous
    refresh token 60 days, authorization code 10 minutes). ``media_processing_seconds`` is how
    long an uploaded video stays ``processing`` before it reads ``succeeded``. With
    ``auto_approve`` the authorize page redirects at once as if the user had clicked Approve.
    """

    access_token_seconds: int = 2_592_000
    refresh_token_seconds: int = 5_184_000
    code_seconds: int = 600
    media_processing_seconds: float = 0.0
    rate_limits: RateLimits = field(default_factory=RateLimits)
    faults: FaultPlan = field(default_factory=FaultPlan)
    auto_approve: bool = False
    clock: Clock = time.time

    def __post_init__(self) -> None:
        for name in ("access_token_seconds", "refresh_token_seconds", "code_seconds"):
            if getattr(self, name) < 1:
                raise ConfigurationError(
                    f"{name} must be at least 1 second, not {getattr(self, name)}"
                )
        if self.media_processing_seconds < 0:
            raise ConfigurationError("media_processing_seconds must not be negative")
