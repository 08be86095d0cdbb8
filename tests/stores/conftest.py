"""The store backends every contract test runs against: one fixture, ``store_backend``.

A backend is a name and an async factory: ``open()`` gives a handle onto the backend's
database, and each further ``open()`` another handle onto the same one (another connection;
the in-memory backend, which no second process can share, hands out the same store), so a
test can stage two writers. To add a backend, add its factory to :data:`BACKENDS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from runtime.stores.base import Store
from runtime.stores.contracts import AuthStore, ServerStore
from runtime.stores.leases import LeaseStore
from runtime.stores.memory import MemoryStore
from runtime.stores.postgres import PostgresStore
from runtime.stores.sqlite import SQLiteStore
from tests.postgres_server import create_database


class AnyStore(Store, AuthStore, ServerStore, LeaseStore, Protocol):
    """Everything a store backend keeps."""


@dataclass
class Backend:
    """One backend under test: ``open()`` a handle onto its database (closed after the test)."""

    name: str
    factory: Callable[[Backend], Awaitable[AnyStore]]
    folder: Path
    url: str = ""  # the PostgreSQL backend's database
    opened: list[AnyStore] = field(default_factory=list)

    async def open(self) -> AnyStore:
        store = await self.factory(self)
        self.opened.append(store)
        return store

    async def close(self) -> None:
        for store in reversed(self.opened):
            await store.close()


async def _memory(backend: Backend) -> AnyStore:
    # One store per test: a "second handle" is the same dictionaries.
    return backend.opened[0] if backend.opened else MemoryStore()


async def _sqlite(backend: Backend) -> AnyStore:
    return await SQLiteStore.open(backend.folder / "flowmixer.db")


async def _postgres(backend: Backend) -> AnyStore:
    return await PostgresStore.open(backend.url, max_size=4)


BACKENDS: dict[str, Callable[[Backend], Awaitable[AnyStore]]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
async def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    backend = Backend(request.param, BACKENDS[request.param], tmp_path)
    if backend.name == "postgres":
        backend.url = await create_database(request.getfixturevalue("postgres_cluster"))
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def store(store_backend: Backend) -> AnyStore:
    """A handle onto a fresh database of the backend under test."""
    return await store_backend.open()
