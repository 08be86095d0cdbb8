"""The compiled, immutable plan of a validated flow: what the engine runs.

``runtime.flow`` builds it once per flow; the engine's per-message path reads only these
precomputed fields, never the flow file.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.manifest import DEFAULT_TIMEOUT
from runtime.retry import RetryPolicy

if TYPE_CHECKING:
    from runtime.component import Component
    from runtime.envelope import Trail
    from runtime.manifest import ComponentManifest

# Returns ``None`` when the payload is valid, else a sentence saying what is wrong.
PayloadValidator = Callable[[Any], "str | None"]
# Renders an in-port's input from the outputs of upstream components of the same event.
Renderer = Callable[["Trail"], Any]


@dataclass(frozen=True, slots=True)
class Route:
    """One wire: messages go to ``component_id``'s in-port ``port``."""

    component_id: str
    port: str


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One component of a flow, ready to run."""

    id: str
    type: str
    manifest: ComponentManifest
    handler: builtins.type[Component]
    properties: Mapping[str, Any]
    # out-port -> the in-ports it feeds (an unwired port maps to an empty tuple)
    routes: Mapping[str, tuple[Route, ...]]
    # in-port -> renderer of ``config.transform.<port>``; absent when the payload passes as is
    transforms: Mapping[str, Renderer] = field(default_factory=dict)
    # in-port -> validator of the (mapped) payload; absent when the schema accepts anything
    validators: Mapping[str, PayloadValidator] = field(default_factory=dict)
    concurrency: int = 1
    # seconds between ticks for polling triggers, else None
    tick_interval: float | None = None
    webhook: bool = False
    # True when some template downstream reads this component's outputs
    keep_output: bool = False
    # seconds one receive or tick call may run before it is cancelled
    timeout: float = DEFAULT_TIMEOUT

    @property
    def is_trigger(self) -> bool:
        return not self.manifest.in_ports

    @property
    def is_sink(self) -> bool:
        """No wire leaves this component: its outputs leave the flow."""
        return not any(self.routes.values())


@dataclass(frozen=True, slots=True)
class FlowPlan:
    """A validated flow."""

    id: str
    name: str
    nodes: Mapping[str, NodePlan]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    accounts: Mapping[str, str] = field(default_factory=dict)
    """The account named for each service (services not named use their only account)."""
