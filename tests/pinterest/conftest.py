"""Fixtures for Pinterest tests: a running emulator whose every exchange is checked.

``emulator`` yields an :class:`~tests.pinterest.emulator_harness.EmulatorHarness` (``.base``,
``.api``, ``.emu``, ``.clock``, ``.session``, ``.token(scopes=...)``, ``.call(...)``);
``make_emulator(seed=..., **EmulatorConfig fields)`` starts one with other settings.

When Pinterest's OpenAPI description is absent (see ``tests/pinterest/openapi.py``), the
emulator still runs, unchecked, and tests that need the description skip, saying where it was
looked for; with ``CI`` set, every test that uses the emulator or the description fails instead.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from runtime.auth import generate_key
from tests.pinterest.emulator_harness import EmulatorHarness, run_emulator
from tests.pinterest.openapi import Spec, spec_missing, spec_path, spec_required
from tests.pinterest.stub_api import StubApi
from tests.postgres_server import create_database


@pytest.fixture(scope="session")
def openapi_spec() -> Spec | None:
    """The loaded description, or ``None`` when it is not there (an error when ``CI`` is set)."""
    path = spec_path()
    if path.is_file():
        return Spec.load(path)
    if spec_required():
        spec_missing("the emulator would run unchecked")
    return None


@pytest.fixture
def spec(openapi_spec: Spec | None) -> Spec:
    """The description; skips the test when it is absent."""
    if openapi_spec is None:
        spec_missing()
    return openapi_spec


@pytest.fixture
def make_emulator(
    openapi_spec: Spec | None,
) -> Callable[..., contextlib.AbstractAsyncContextManager[EmulatorHarness]]:
    """``async with make_emulator(seed=..., **EmulatorConfig fields) as harness``."""
    return functools.partial(run_emulator, openapi_spec)


@pytest.fixture
async def emulator(openapi_spec: Spec | None) -> AsyncIterator[EmulatorHarness]:
    async with run_emulator(openapi_spec) as harness:
        yield harness


@pytest.fixture
async def stub() -> AsyncIterator[StubApi]:
    """A tiny API on 127.0.0.1 for the edge cases the emulator does not produce."""
    async with StubApi().running() as api:
        yield api


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that points a ``flowmixer serve`` child at its database: nothing (the
    home's SQLite file) or a new database on the session's throwaway PostgreSQL cluster, where
    its durable broker queues too, with the key every process on it shares."""
    if request.param == "sqlite":
        return {}
    url = await create_database(request.getfixturevalue("postgres_cluster"))
    return {"FLOWMIXER_DATABASE_URL": url, "FLOWMIXER_SECRET_KEY": generate_key()}
