"""One view of the schema of either backend: which version a database is at, which steps are
pending, and applying them (``flowmixer db status`` and ``flowmixer db upgrade``).

SQLite counts its steps in ``PRAGMA user_version`` (:mod:`runtime.stores.sqlite_schema`),
PostgreSQL in the table ``schema_migrations`` (:mod:`runtime.stores.postgres_schema`). Opening
a store applies the pending steps too; a database newer than this flowmixer is refused.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from runtime.errors import ConfigurationError
from runtime.stores import postgres_schema, sqlite_schema
from runtime.stores.urls import DatabaseUrl

_CREATED: Final = re.compile(r"CREATE\s+(?:TABLE|INDEX|SEQUENCE)\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands: ``current`` of ``latest`` steps applied, and what
    each pending step brings (``"5: effects, effects_by_age"``)."""

    database: str  # the URL without its password
    current: int
    latest: int
    pending: tuple[str, ...]

    @property
    def newer(self) -> bool:
        """Whether the database has steps this flowmixer does not know."""
        return self.current > self.latest

    def refusal(self) -> str:
        return (
            f"the database {self.database} has schema version {self.current}, newer than the"
            f" {self.latest} this flowmixer knows; upgrade flowmixer to use it"
        )


def _sqlite_steps() -> list[str]:
    """What each SQLite step creates, named by its tables and indexes."""
    return [
        ", ".join(name for statement in step for name in _CREATED.findall(statement))
        for step in sqlite_schema.MIGRATIONS
    ]


def _status(url: DatabaseUrl, current: int, names: list[str]) -> SchemaStatus:
    pending = tuple(f"{n}: {name}" for n, name in enumerate(names, 1) if n > current)
    return SchemaStatus(url.redacted(), current, len(names), pending)


def _sqlite_version(path: Path) -> int:
    """The file's ``user_version``, read without creating or changing it (0: no file)."""
    if str(path) == ":memory:" or not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ConfigurationError(
            f"cannot read the flowmixer database {str(path)!r}: {exc}"
        ) from exc
    return version


async def _postgres_version(url: DatabaseUrl) -> int:
    from runtime.stores.postgres import connect_error, import_driver

    driver = import_driver()
    try:
        conn = await driver.connect(url.text)
    except (OSError, driver.PostgresError, driver.InterfaceError) as exc:
        raise connect_error(url.text, exc) from None
    try:
        version: int = await postgres_schema.current_version(conn)
    finally:
        await conn.close()
    return version


async def schema_status(url: DatabaseUrl) -> SchemaStatus:
    """Where the schema of the database ``url`` stands; nothing is created or changed."""
    if url.kind == "sqlite":
        assert url.path is not None
        current = await asyncio.to_thread(_sqlite_version, url.path)
        return _status(url, current, _sqlite_steps())
    names = [step.name for step in postgres_schema.MIGRATIONS]
    return _status(url, await _postgres_version(url), names)


async def upgrade(url: DatabaseUrl) -> tuple[SchemaStatus, SchemaStatus]:
    """Apply the pending steps to the database ``url`` (creating an SQLite file when
    missing); its status before and after. A newer database raises ConfigurationError."""
    before = await schema_status(url)
    if before.newer:
        raise ConfigurationError(before.refusal())
    if url.kind == "sqlite":
        from runtime.stores.sqlite import SQLiteStore

        assert url.path is not None
        await (await SQLiteStore.open(url.path)).close()
    else:
        from runtime.stores.postgres import PostgresStore

        await (await PostgresStore.open(url.text, min_size=1, max_size=1)).close()
    return before, await schema_status(url)
