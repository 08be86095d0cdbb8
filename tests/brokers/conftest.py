"""A broker of each kind with its store, which a test can restart (close and open again)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.brokers.base import Broker
from runtime.brokers.memory import MemoryBroker
from runtime.brokers.sqlite import SQLiteBroker
from runtime.stores.sqlite import SQLiteStore

KINDS = ["memory", "sqlite", "postgres", "redis"]


class Kit:
    """A broker of ``kind`` over its store; :meth:`restart` closes both and opens them again."""

    def __init__(self, kind: str, url: str, tmp_path: Path) -> None:
        self.kind = kind
        self.url = url  # of the PostgreSQL database or the Redis server
        self._path = tmp_path / "flowmixer.db"
        self.store: object = None
        self.broker: Broker
        self.is_open = False

    async def open(self) -> Kit:
        if self.kind == "postgres":
            from runtime.brokers.postgres import PostgresBroker
            from runtime.stores.postgres import PostgresStore

            store = await PostgresStore.open(self.url)
            self.store, self.broker = store, PostgresBroker(store)
        else:
            sqlite = await SQLiteStore.open(self._path)
            self.store = sqlite
            if self.kind == "memory":
                self.broker = MemoryBroker()
            elif self.kind == "sqlite":
                self.broker = SQLiteBroker(sqlite)
            else:
                from runtime.brokers.redis import RedisBroker

                self.broker = RedisBroker(self.url, sqlite, visibility_timeout=2.0)
        self.is_open = True
        return self

    async def close(self) -> None:
        await self.broker.close()
        await self.store.close()  # type: ignore[attr-defined]
        self.is_open = False

    async def restart(self) -> Kit:
        await self.close()
        return await self.open()


@pytest.fixture(params=KINDS, ids=KINDS)
def service_url(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The kind of broker and the URL of the server it needs ("" for none)."""
    kind: str = request.param
    if kind in ("postgres", "redis"):
        return kind, request.getfixturevalue(f"{kind}_url")
    return kind, ""


@pytest.fixture
async def kit(service_url: tuple[str, str], tmp_path: Path) -> AsyncIterator[Kit]:
    opened = await Kit(*service_url, tmp_path).open()
    yield opened
    if opened.is_open:
        await opened.close()
