"""Which database: ``sqlite:///PATH`` or ``postgresql://...``, read from one URL.

``sqlite:///data/flowmixer.db`` is relative to the working directory and
``sqlite:////var/lib/flowmixer.db`` absolute (three slashes, then the path);
``sqlite:///:memory:`` is a private in-memory database. ``postgresql://`` (or ``postgres://``)
URLs go to the driver as given, in libpq's form: ``postgresql://user:password@host:5432/name``.
A password is never printed: messages use :meth:`DatabaseUrl.redacted`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from runtime.stores.contracts import DataStore

DEFAULT_FILE: Final = "flowmixer.db"
_POSTGRES_SCHEMES: Final = ("postgresql", "postgres")
_HIDDEN: Final = "***"

# What is kept outside the store contracts, so far in a SQLite file only.
NOT_YET_ON_POSTGRES: Final = "a store opened by file path"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed database URL: ``kind`` says which backend; ``path`` is set for SQLite."""

    kind: Literal["sqlite", "postgres"]
    text: str = field(repr=False)  # as given: it may hold a password
    path: Path | None = None

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.redacted()!r})"

    def __str__(self) -> str:
        return self.redacted()

    def redacted(self) -> str:
        """The URL with any password replaced by ``***``, for messages and logs."""
        if self.kind == "sqlite":
            return self.text
        parts = urlsplit(self.text)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            name = user.partition(":")[0]
            netloc = f"{name}:{_HIDDEN}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, _HIDDEN if k.lower() == "password" else v) for k, v in pairs], safe="*"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def sqlite_url(path: Path) -> DatabaseUrl:
    """The URL of the SQLite file at ``path`` (made absolute)."""
    absolute = path.expanduser().resolve()
    return DatabaseUrl("sqlite", f"sqlite:///{absolute}", absolute)


def default_url(home: Path) -> DatabaseUrl:
    """The default database: ``flowmixer.db`` in the flowmixer home."""
    return sqlite_url(home / DEFAULT_FILE)


def parse_url(text: str, *, name: str = "the database URL") -> DatabaseUrl:
    """``text`` as a :class:`DatabaseUrl`; :class:`ConfigurationError` naming ``name`` (the
    option or variable it came from) and the accepted forms when it is not one."""
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "sqlite":
        return _sqlite(value, rest, name)
    if sep and scheme in _POSTGRES_SCHEMES:
        _check_postgres(value, name)
        return DatabaseUrl("postgres", value)
    shown = value if not sep or scheme == "sqlite" else f"{scheme}://..."
    raise ConfigurationError(
        f"{name} is {shown!r}, which is not accepted; use sqlite:///PATH (sqlite:////ABSOLUTE)"
        " or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )


def _sqlite(value: str, rest: str, name: str) -> DatabaseUrl:
    host, slash, path = rest.partition("/")
    if host or not slash or not path or "?" in path or "#" in path:
        raise ConfigurationError(
            f"{name} is {value!r}, which is not accepted; a SQLite URL is sqlite:///PATH"
            " (relative to the working directory) or sqlite:////ABSOLUTE/PATH, with no host"
            " and no query"
        )
    if path == ":memory:":
        return DatabaseUrl("sqlite", "sqlite:///:memory:", Path(":memory:"))
    return sqlite_url(Path(path))


def _check_postgres(value: str, name: str) -> None:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        redacted = DatabaseUrl("postgres", value).redacted()
        raise ConfigurationError(
            f"{name} is {redacted!r}: its port is not a number from 0 to 65535"
        ) from None


async def open_store(url: DatabaseUrl | str, *, max_connections: int = 10) -> DataStore:
    """Open the store ``url`` names (PostgreSQL needs the ``postgres`` extra: asyncpg).

    The schema is brought up to date first; a database newer than this flowmixer is refused.
    """
    target = parse_url(url) if isinstance(url, str) else url
    if target.kind == "sqlite":
        from runtime.stores.sqlite import SQLiteStore

        assert target.path is not None
        return await SQLiteStore.open(target.path)
    from runtime.stores.postgres import PostgresStore

    return await PostgresStore.open(target.text, max_size=max_connections)


@contextlib.asynccontextmanager
async def opened_store(url: DatabaseUrl | str) -> AsyncIterator[DataStore]:
    """:func:`open_store`, closed when the block ends."""
    store = await open_store(url)
    try:
        yield store
    finally:
        await store.close()


async def join_loop(store: object) -> None:
    """Let the running event loop, on a thread of its own, use ``store`` (opened on another
    loop): a PostgreSQL store gives it a pool of its own; the others serve any loop."""
    join = getattr(store, "join_loop", None)
    if join is not None:
        await join()


async def leave_loop(store: object) -> None:
    """Undo :func:`join_loop` on the running loop (before the store is closed)."""
    leave = getattr(store, "leave_loop", None)
    if leave is not None:
        await leave()


def refuse_postgres(url: DatabaseUrl, command: str | None = None) -> None:
    """Refuse a PostgreSQL ``url`` where only a SQLite file will do (a store opened by path,
    e.g. ``SQLiteStore.open()`` with no path under a ``postgresql://`` database URL)."""
    if url.kind == "postgres":
        who = f"flowmixer {command}" if command else "this command"
        raise ConfigurationError(
            f"{who} cannot use {url.redacted()}: {NOT_YET_ON_POSTGRES} is a SQLite file;"
            " open the database with runtime.stores.urls.open_store instead"
        )
