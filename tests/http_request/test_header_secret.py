"""A header secret comes from the service's app configuration, sealed at rest, and a flow
whose secret is not set does not start, saying how to set it."""

from __future__ import annotations

import aiohttp
import pytest

from runtime.auth.app_config import AppConfigStore
from runtime.auth.header_secret import HeaderSecretCredentials
from runtime.auth.resolution import AccountCredentials
from runtime.auth.secretbox import SecretBox, generate_key
from runtime.auth.vault import TokenVault
from runtime.engine import Engine
from runtime.errors import ConfigurationError, EngineError, ReauthorizeError
from runtime.flow import validate_flow
from runtime.stores.sqlite import SQLiteStore
from tests.http_request import kit

API_KEY = "wx-live-8c1d6e0f5a7b"
AUTH = {"service": "acme:weather", "header": "X-Api-Key", "secret": "apiKey"}
REGISTRY = kit.registry()


@pytest.fixture
async def store(tmp_path):
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        yield store


async def resolver(store: SQLiteStore, values: dict[str, str] | None = None):
    box = SecretBox([generate_key()])
    config = AppConfigStore(store, box, REGISTRY.services(), environ={})
    if values:
        await config.set("acme:weather", values)
    session = aiohttp.ClientSession()
    credentials = await AccountCredentials.create(
        REGISTRY, config, TokenVault(store, box), session, environ={}
    )
    return credentials, config, session


def plan(**properties):
    return validate_flow(kit.flow({"url": "/forecast", "auth": AUTH, **properties}), REGISTRY)


async def test_the_secret_of_the_app_configuration_is_the_credential_in_its_header(store):
    credentials, _, session = await resolver(
        store, {"apiKey": API_KEY, "apiBase": "http://127.0.0.1:9/v1"}
    )
    async with session:
        found = credentials(plan().nodes["call"].manifest)
    assert isinstance(found, HeaderSecretCredentials)
    assert await found.access_token() == API_KEY
    assert (found.header_name, found.scheme) == ("X-Api-Key", "")
    assert found.settings == {"apiBase": "http://127.0.0.1:9/v1"}
    assert API_KEY not in repr(found)


async def test_the_secret_is_sealed_in_the_store(store, tmp_path):
    _, _, session = await resolver(store, {"apiKey": API_KEY})
    await session.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert API_KEY.encode() not in stored


async def test_a_flow_whose_secret_is_not_set_does_not_start_and_says_how_to_set_it(store):
    credentials, _, session = await resolver(store)
    async with session, Engine(store, credentials=credentials) as engine:
        with pytest.raises(EngineError) as caught:
            await engine.start_flow(plan())
    message = str(caught.value)
    assert "acme:weather (needed by call)" in message
    assert "`flowmixer config set acme:weather apiKey=...`" in message
    assert "FLOWMIXER_WEATHER_API_KEY" in message


async def test_a_secret_set_later_is_used_after_a_reload(store):
    credentials, config, session = await resolver(store)
    async with session:
        manifest = plan().nodes["call"].manifest
        with pytest.raises(ConfigurationError, match="has no apiKey"):
            credentials(manifest)
        await config.set("acme:weather", {"apiKey": API_KEY})
        await credentials.reload()
        found = credentials(manifest)
    assert found is not None
    assert await found.access_token() == API_KEY


async def test_a_refused_secret_pauses_for_a_person_without_showing_it():
    found = HeaderSecretCredentials(
        "acme:weather", "apiKey", API_KEY, header_name="X-Api-Key", scheme="Token"
    )
    with pytest.raises(ReauthorizeError) as caught:
        await found.token_rejected(API_KEY)
    assert "flowmixer config set acme:weather apiKey=..." in str(caught.value)
    assert API_KEY not in str(caught.value)
