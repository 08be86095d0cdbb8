"""Pydantic models of a flow file, as it is written (before it is checked against manifests).

A flow file names its components (``components.<id>``), their types, their properties, the
wires between them (``source``) and the templates that shape their input (``transform``).
JSON keys are camelCase as in the files; Python attributes are snake_case. The models are
strict: ``"3"`` is not a number and ``true`` is not ``1`` in a flow file.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from runtime.manifest import MAX_CONCURRENCY, MAX_TIMEOUT

FLOW_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, populate_by_name=True
    )


class RetrySpec(_Spec):
    """``retry``: at most ``maxAttempts`` deliveries, backing off from ``baseDelay`` seconds up
    to ``maxDelay``, for at most ``maxElapsed`` seconds after the first failure (``null``: no
    time limit); see :class:`~runtime.retry.RetryPolicy`."""

    max_attempts: int = Field(default=5, ge=1)
    base_delay: float = Field(default=0.5, ge=0, allow_inf_nan=False)
    max_delay: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    max_elapsed: float | None = Field(default=3600.0, gt=0, allow_inf_nan=False)


class ConfigSpec(_Spec):
    """``config`` of a component: its properties and, per in-port, a template of its input."""

    properties: dict[str, Any] = Field(default_factory=dict)
    transform: dict[str, Any] = Field(default_factory=dict)


class ComponentSpec(_Spec):
    """One entry of ``components``; ``source`` maps in-port -> source component -> out-ports."""

    type: str
    source: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    """Messages handled at once; overrides the manifest's ``concurrency`` (``None``: one)."""
    timeout: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)
    """Seconds one ``receive`` or ``tick`` call may run; overrides the manifest's ``timeout``."""
    config: ConfigSpec = Field(default_factory=ConfigSpec)


class FlowSpec(_Spec):
    """The top of a flow file; each of ``components`` is checked as a :class:`ComponentSpec`
    on its own, so one broken component does not hide the problems of the others."""

    id: str = Field(max_length=64)
    name: str | None = None
    description: str | None = None
    retry: RetrySpec = Field(default_factory=RetrySpec)
    accounts: dict[str, str] = Field(default_factory=dict)
    """The connected account each service's components use, e.g. ``{"acme:pinterest": "ann"}``;
    a service not named here uses its only account."""
    components: dict[str, Any]

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not FLOW_ID_PATTERN.match(value):
            raise ValueError(
                'must hold only lowercase letters, digits, "_" and "-", starting with a letter'
                ' or digit (e.g. "repin-new-pins")'
            )
        return value
