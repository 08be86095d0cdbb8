"""The SQLite store's schema: its steps in order, and how a database is brought up to date.

Run on the store's thread by :class:`~runtime.stores.sqlite.SQLiteStore` when it opens a file.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from runtime.errors import ConfigurationError

# Schema steps in order; the database's ``PRAGMA user_version`` counts those applied. Later
# tables are added by appending a step, never by editing one that has shipped.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE state (
            flow_id TEXT NOT NULL,
            component_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value_json TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (flow_id, component_id, key)
        )""",
        """CREATE TABLE dead_letters (
            id TEXT PRIMARY KEY,
            flow_id TEXT NOT NULL,
            component_id TEXT NOT NULL,
            correlation_id TEXT NOT NULL,
            error TEXT NOT NULL,
            error_type TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            failed_at REAL NOT NULL,
            retry_requested INTEGER NOT NULL DEFAULT 0,
            envelope_json TEXT NOT NULL
        )""",
        "CREATE INDEX dead_letters_by_flow ON dead_letters (flow_id, failed_at)",
    ),
    # Auth: app configuration per service (secret values sealed by runtime.auth.secretbox)
    # and the token vault (one sealed token set per account; the other columns are plain).
    (
        """CREATE TABLE app_config (
            service TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            secret INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (service, key)
        )""",
        """CREATE TABLE accounts (
            service TEXT NOT NULL,
            name TEXT NOT NULL,
            sealed_tokens BLOB NOT NULL,
            status TEXT NOT NULL,
            scopes TEXT NOT NULL,
            expires_at REAL,
            reason TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (service, name)
        )""",
    ),
    # OAuth logins under way: the SHA-256 of each single-use ``state`` and what it is bound to.
    (
        """CREATE TABLE oauth_states (
            state_hash TEXT PRIMARY KEY,
            service TEXT NOT NULL,
            account TEXT,
            redirect_uri TEXT NOT NULL,
            binding_hash TEXT NOT NULL,
            scopes TEXT NOT NULL,
            expires_at REAL NOT NULL
        )""",
    ),
    # The server: deployed flows, and the SHA-256 of each webhook trigger's secret.
    (
        """CREATE TABLE flows (
            id TEXT PRIMARY KEY,
            definition_json TEXT NOT NULL,
            status TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE hooks (
            flow_id TEXT NOT NULL,
            component_id TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            PRIMARY KEY (flow_id, component_id)
        )""",
    ),
    # The effects ledger (runtime.effects): one row per effect, pruned by age.
    (
        """CREATE TABLE effects (
            flow_id TEXT NOT NULL,
            component_id TEXT NOT NULL,
            correlation_id TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at REAL NOT NULL,
            attempts INTEGER NOT NULL,
            first_sent_at REAL,
            uncertain INTEGER NOT NULL,
            completed_at REAL,
            result_json TEXT NOT NULL,
            ref TEXT,
            notes_json TEXT NOT NULL,
            PRIMARY KEY (flow_id, component_id, correlation_id, digest)
        )""",
        "CREATE INDEX effects_by_age ON effects (updated_at)",
        "CREATE INDEX effects_by_ref ON effects (ref) WHERE ref IS NOT NULL",
    ),
    # The durable broker (runtime.brokers.sqlite): every message not yet acknowledged, in
    # order of arrival; a parked one waits for its flow to resume (``error`` says why).
    (
        """CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            flow_id TEXT NOT NULL,
            component_id TEXT NOT NULL,
            parked INTEGER NOT NULL DEFAULT 0,
            available_at REAL NOT NULL,
            error TEXT,
            envelope_json TEXT NOT NULL
        )""",
        "CREATE INDEX messages_by_channel ON messages (flow_id, component_id, seq)",
    ),
    # Dead letters found by time alone, or by component and error type (and counted so).
    (
        "CREATE INDEX dead_letters_by_time ON dead_letters (failed_at)",
        "CREATE INDEX dead_letters_by_kind"
        " ON dead_letters (flow_id, component_id, error_type, failed_at)",
    ),
    # Idempotency keys of webhook events (runtime.stores.sqlite_keys), pruned by age.
    (
        """CREATE TABLE hook_keys (
            flow_id TEXT NOT NULL,
            component_id TEXT NOT NULL,
            key TEXT NOT NULL,
            event_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (flow_id, component_id, key)
        )""",
        "CREATE INDEX hook_keys_by_age ON hook_keys (created_at)",
    ),
    # Versions that fence writers (runtime.stores.contracts): a vault record and a state value
    # count their writes, and a write made from an older read is refused.
    (
        "ALTER TABLE accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE state ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
    ),
    # Leases (runtime.stores.leases): which process ticks a polling trigger, and the fencing
    # token of its grant; a released lease keeps its row so the token keeps growing.
    (
        """CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            token INTEGER NOT NULL,
            expires_at REAL NOT NULL
        )""",
    ),
)

SCHEMA_VERSION: Final = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the steps the database has not had yet (refusing a newer schema)."""
    # IMMEDIATE takes the write lock first, so two processes opening a new file at once
    # cannot both apply the same step.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"the database has schema version {version}, newer than the {SCHEMA_VERSION}"
                " this flowmixer knows; upgrade flowmixer to use it"
            )
        for number, steps in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in steps:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
