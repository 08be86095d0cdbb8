"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.registry import Registry
from tests.postgres_server import PostgresCluster, create_database, start_cluster
from tests.redis_server import RedisServer, fresh_database, start_server

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def sample_registry() -> Registry:
    """The small test components of ``tests/fixtures/manifests`` (service ``test:svc``)."""
    return Registry.load(FIXTURES / "manifests")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster for the session (skipped, or failed under CI, when the
    binaries or the driver are missing: see ``tests/postgres_server.py``)."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
async def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """The URL of a new empty database on the session's cluster."""
    return await create_database(postgres_cluster)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A throwaway ``redis-server`` for the session (skipped, or failed under CI, when the
    binary or the client are missing: see ``tests/redis_server.py``)."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty logical database on the session's Redis server."""
    return await fresh_database(redis_server)
