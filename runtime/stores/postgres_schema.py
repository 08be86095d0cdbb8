"""The PostgreSQL store's schema: numbered steps, and how a database is brought up to date.

The table ``schema_migrations`` holds one row per applied step (its version and when it was
applied). :func:`migrate` runs at every open, in one transaction under an advisory lock, so two
processes starting together on a new database apply each step once. Later tables are added by
appending a step, never by editing one that has shipped.

JSON values are kept as ``text`` (what :mod:`runtime.stores.codec` writes), not ``jsonb``: they
are never queried inside, the same text serves every backend, and ``jsonb`` refuses some text a
Python string can hold (a lone surrogate escape such as ``"\\ud83d"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.stores.postgres_letters import Conn


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered step: what it brings (``name``) and its statements, applied together."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: Final[tuple[Migration, ...]] = (
    Migration(
        1,
        "component state, dead letters, effects, webhook idempotency keys",
        (
            """CREATE TABLE state (
                flow_id text NOT NULL,
                component_id text NOT NULL,
                key text NOT NULL,
                value_json text NOT NULL,
                updated_at double precision NOT NULL,
                PRIMARY KEY (flow_id, component_id, key)
            )""",
            # seq orders letters failing at the same time (SQLite's rowid); a replaced letter
            # takes a new one, as it does there.
            "CREATE SEQUENCE dead_letter_seq",
            """CREATE TABLE dead_letters (
                id text PRIMARY KEY,
                seq bigint NOT NULL DEFAULT nextval('dead_letter_seq'),
                flow_id text NOT NULL,
                component_id text NOT NULL,
                correlation_id text NOT NULL,
                error text NOT NULL,
                error_type text NOT NULL,
                attempts integer NOT NULL,
                failed_at double precision NOT NULL,
                retry_requested boolean NOT NULL DEFAULT false,
                envelope_json text NOT NULL
            )""",
            "CREATE INDEX dead_letters_by_time ON dead_letters (failed_at, seq)",
            "CREATE INDEX dead_letters_by_flow ON dead_letters (flow_id, failed_at, seq)",
            "CREATE INDEX dead_letters_by_kind"
            " ON dead_letters (flow_id, component_id, error_type, failed_at)",
            """CREATE TABLE effects (
                flow_id text NOT NULL,
                component_id text NOT NULL,
                correlation_id text NOT NULL,
                digest text NOT NULL,
                updated_at double precision NOT NULL,
                attempts integer NOT NULL,
                first_sent_at double precision,
                uncertain boolean NOT NULL,
                completed_at double precision,
                result_json text NOT NULL,
                ref text,
                notes_json text NOT NULL,
                PRIMARY KEY (flow_id, component_id, correlation_id, digest)
            )""",
            "CREATE INDEX effects_by_age ON effects (updated_at)",
            "CREATE INDEX effects_by_ref ON effects (ref) WHERE ref IS NOT NULL",
            """CREATE TABLE hook_keys (
                flow_id text NOT NULL,
                component_id text NOT NULL,
                key text NOT NULL,
                event_id text NOT NULL,
                created_at double precision NOT NULL,
                PRIMARY KEY (flow_id, component_id, key)
            )""",
            "CREATE INDEX hook_keys_by_age ON hook_keys (created_at)",
        ),
    ),
    Migration(
        2,
        "state versions: a state write may be fenced by the version it read",
        ("ALTER TABLE state ADD COLUMN version bigint NOT NULL DEFAULT 1",),
    ),
    Migration(
        3,
        "the vault, app configuration and OAuth login states",
        (
            """CREATE TABLE app_config (
                service text NOT NULL,
                key text NOT NULL,
                value text NOT NULL,
                secret boolean NOT NULL,
                updated_at double precision NOT NULL,
                PRIMARY KEY (service, key)
            )""",
            """CREATE TABLE accounts (
                service text NOT NULL,
                name text NOT NULL,
                sealed_tokens bytea NOT NULL,
                status text NOT NULL,
                scopes text NOT NULL,
                expires_at double precision,
                reason text,
                updated_at double precision NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                PRIMARY KEY (service, name)
            )""",
            """CREATE TABLE oauth_states (
                state_hash text PRIMARY KEY,
                service text NOT NULL,
                account text,
                redirect_uri text NOT NULL,
                binding_hash text NOT NULL,
                options text NOT NULL,
                expires_at double precision NOT NULL
            )""",
            "CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at)",
        ),
    ),
    Migration(
        4,
        "deployed flows and their webhook triggers' secret digests",
        (
            """CREATE TABLE flows (
                id text PRIMARY KEY,
                definition_json text NOT NULL,
                status text NOT NULL,
                updated_at double precision NOT NULL
            )""",
            # A flow's hooks go with it (delete_flow); the cascade keeps that true everywhere.
            """CREATE TABLE hooks (
                flow_id text NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
                component_id text NOT NULL,
                secret_hash text NOT NULL,
                PRIMARY KEY (flow_id, component_id)
            )""",
        ),
    ),
    # -- the durable broker's steps (runtime/brokers/postgres*.py): one contiguous block ------
    Migration(
        5,
        "the durable broker's messages, leased to the broker process holding them",
        (
            # A broker's number: it holds pg_advisory_lock(BROKER_LOCK, number) while it lives.
            "CREATE SEQUENCE broker_owner_seq MAXVALUE 2147483647 CYCLE",
            """CREATE TABLE messages (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                flow_id text NOT NULL,
                component_id text NOT NULL,
                parked boolean NOT NULL DEFAULT false,
                available_at double precision NOT NULL,
                error text,
                envelope_json text NOT NULL,
                owner integer
            )""",
            "CREATE INDEX messages_by_channel ON messages (flow_id, component_id, seq)",
        ),
    ),
    # -- end of the durable broker's steps ---------------------------------------------------
    Migration(
        6,
        "leases: which process ticks a polling trigger, with a fencing token",
        (
            # A released lease keeps its row, so its token keeps growing.
            """CREATE TABLE leases (
                name text PRIMARY KEY,
                owner text NOT NULL,
                token bigint NOT NULL,
                expires_at double precision NOT NULL
            )""",
        ),
    ),
)

SCHEMA_VERSION: Final = len(MIGRATIONS)

# pg_advisory_xact_lock's key for schema changes: any constant shared by every flowmixer.
_LOCK_KEY: Final = 0x666C6F776D6978  # "flowmix"

_LEDGER: Final = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def current_version(conn: Conn) -> int:
    """The last step applied to the database (0: none, or not a flowmixer database yet)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return 0 if version is None else int(version)


def refuse_newer(version: int, where: str) -> None:
    """Refuse a database at ``version`` when this code knows fewer steps."""
    if version > len(MIGRATIONS):
        raise ConfigurationError(
            f"the database {where} has schema version {version}, newer than the"
            f" {len(MIGRATIONS)} this flowmixer knows; upgrade flowmixer to use it"
        )


async def migrate(conn: Conn, where: str) -> tuple[int, int]:
    """Apply the steps the database has not had (refusing a newer schema); the versions
    before and after. ``where`` names the database in messages (without its password)."""
    async with conn.transaction():
        # Held until the transaction ends: a second process waits, then finds nothing to do.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_LEDGER)
        before = await current_version(conn)
        refuse_newer(before, where)
        for step in MIGRATIONS[before:]:
            for statement in step.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                step.version,
                step.name,
            )
    return before, len(MIGRATIONS)
