"""Fixtures of the connector SDK's tests: a scripted loopback service and an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.connector.loopback import LoopbackService


@pytest.fixture
async def service() -> AsyncIterator[LoopbackService]:
    async with LoopbackService().running() as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
