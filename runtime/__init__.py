"""flowmixer: a small runtime for integration flows.

The public API, in one sorted list: components subclass :class:`Component` and get a
:class:`Context`; flows are loaded with :func:`load_flow` or :func:`validate_flow` against a
:class:`Registry` of manifests and run by an :class:`Engine` over a store.
"""

from __future__ import annotations

__version__ = "0.1.0"

from runtime.brokers import Broker, Channel, MemoryBroker, SQLiteBroker
from runtime.circuit import Circuits
from runtime.component import Component, Context, State
from runtime.credentials import Credentials, StaticCredentials
from runtime.effects import Effect, EffectLedger
from runtime.engine import ComponentStats, Engine, Output
from runtime.envelope import Envelope
from runtime.errors import (
    CancelError,
    ComponentError,
    ConfigurationError,
    DeferError,
    EngineError,
    FlowmixerError,
    FlowValidationError,
    InvalidInputError,
    ManifestError,
    Problem,
    ReauthorizeError,
    RetryError,
    ServiceUnavailableError,
    UncertainEffectError,
)
from runtime.flow import load_flow, validate_flow
from runtime.manifest import ComponentManifest, ServiceManifest
from runtime.plan import FlowPlan
from runtime.quota import Quotas
from runtime.registry import Registry
from runtime.retry import RetryPolicy
from runtime.settings import Settings
from runtime.stores import DeadLetter, MemoryStore, SQLiteStore, Store

__all__ = [
    "Broker",
    "CancelError",
    "Channel",
    "Circuits",
    "Component",
    "ComponentError",
    "ComponentManifest",
    "ComponentStats",
    "ConfigurationError",
    "Context",
    "Credentials",
    "DeadLetter",
    "DeferError",
    "Effect",
    "EffectLedger",
    "Engine",
    "EngineError",
    "Envelope",
    "FlowPlan",
    "FlowValidationError",
    "FlowmixerError",
    "InvalidInputError",
    "ManifestError",
    "MemoryBroker",
    "MemoryStore",
    "Output",
    "Problem",
    "Quotas",
    "ReauthorizeError",
    "Registry",
    "RetryError",
    "RetryPolicy",
    "SQLiteBroker",
    "SQLiteStore",
    "ServiceManifest",
    "ServiceUnavailableError",
    "Settings",
    "State",
    "StaticCredentials",
    "Store",
    "UncertainEffectError",
    "__version__",
    "load_flow",
    "validate_flow",
]
