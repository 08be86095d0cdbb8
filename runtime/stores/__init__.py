"""Stores keep what must outlive a message: component state, dead letters, the effects
ledger, and the records of the auth modules and the server (:mod:`runtime.stores.contracts`)."""

from __future__ import annotations

from runtime.stores.base import DeadLetter, DeadLetterStore, StateStore, Store, VersionedState
from runtime.stores.contracts import (
    AccountRow,
    AppConfigRows,
    AuthStore,
    ConfigRow,
    DataStore,
    DeploymentStore,
    FlowRow,
    HookSecretStore,
    LoginStateRow,
    LoginStateStore,
    SealedTokens,
    ServerStore,
    VaultStore,
)
from runtime.stores.letters import DeadLetterCount, DeadLetterPage, DeadLetterQuery
from runtime.stores.memory import MemoryStore
from runtime.stores.sqlite import SQLiteStore

__all__ = [
    "AccountRow",
    "AppConfigRows",
    "AuthStore",
    "ConfigRow",
    "DataStore",
    "DeadLetter",
    "DeadLetterCount",
    "DeadLetterPage",
    "DeadLetterQuery",
    "DeadLetterStore",
    "DeploymentStore",
    "FlowRow",
    "HookSecretStore",
    "LoginStateRow",
    "LoginStateStore",
    "MemoryStore",
    "SQLiteStore",
    "SealedTokens",
    "ServerStore",
    "StateStore",
    "Store",
    "VaultStore",
    "VersionedState",
]
