"""AppConfigStore: each service's app configuration, secrets sealed, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from runtime.auth.app_config import AppConfigStore, env_var
from runtime.auth.secretbox import SecretBox, generate_key
from runtime.errors import ConfigurationError
from runtime.manifest import ServiceManifest
from runtime.registry import Registry
from runtime.stores.sqlite import SQLiteStore

SERVICE = "acme:pinterest"
CLIENT_SECRET = "pinterest-client-secret-4f9a2c"
KEY = generate_key()


@pytest.fixture(scope="module")
def services() -> dict[str, ServiceManifest]:
    return Registry.load().services()


@pytest.fixture
async def store(tmp_path: Path):
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        yield store


def config_of(store, services, environ=None, key=KEY) -> AppConfigStore:
    return AppConfigStore(store, SecretBox([key]), services, environ=environ or {})


def stored_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file())


async def test_values_are_kept_and_the_client_secret_is_sealed_on_disk(tmp_path, services):
    with capture_logs() as logs:
        async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
            config = config_of(store, services)
            await config.set(SERVICE, {"clientId": "acme-app", "clientSecret": CLIENT_SECRET})
            assert await config.get(SERVICE) == {
                "clientId": "acme-app",
                "clientSecret": CLIENT_SECRET,
            }
            assert await config.list() == {
                SERVICE: {"clientId": "acme-app", "clientSecret": CLIENT_SECRET}
            }
    raw = stored_bytes(tmp_path)
    assert b"acme-app" in raw
    assert CLIENT_SECRET.encode() not in raw
    assert CLIENT_SECRET not in repr(logs)


async def test_values_survive_reopening_the_store(tmp_path, services):
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        await config_of(store, services).set(SERVICE, {"clientSecret": CLIENT_SECRET})
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        assert await config_of(store, services).get(SERVICE) == {"clientSecret": CLIENT_SECRET}


async def test_an_unknown_service_is_refused_naming_the_known_ones(store, services):
    with pytest.raises(ConfigurationError, match="no service 'acme:nope'; the services are: acme"):
        await config_of(store, services).set("acme:nope", {"clientId": "x"})


async def test_an_unknown_key_is_refused_naming_the_valid_ones(store, services):
    with pytest.raises(
        ConfigurationError,
        match="acme:pinterest has no configuration key 'clientID'; its keys are: clientId,",
    ):
        await config_of(store, services).set(SERVICE, {"clientID": "x"})
    with pytest.raises(ConfigurationError, match="no configuration key 'bogus'"):
        await config_of(store, services).unset(SERVICE, ["bogus"])


async def test_an_empty_value_is_refused_pointing_at_unset(store, services):
    with pytest.raises(ConfigurationError, match="flowmixer config unset acme:pinterest clientId"):
        await config_of(store, services).set(SERVICE, {"clientId": ""})


async def test_environment_variables_override_stored_values(store, services):
    environ = {"FLOWMIXER_PINTEREST_CLIENT_ID": "from-env", "FLOWMIXER_PINTEREST_API_BASE": ""}
    config = config_of(store, services, environ)
    await config.set(SERVICE, {"clientId": "stored", "apiBase": "http://127.0.0.1:1/v5"})
    assert await config.get(SERVICE) == {"clientId": "from-env", "apiBase": "http://127.0.0.1:1/v5"}
    assert config.overridden(SERVICE) == ["clientId"]


async def test_a_service_configured_only_by_the_environment_is_listed(store, services):
    config = config_of(store, services, {"FLOWMIXER_PINTEREST_CLIENT_SECRET": CLIENT_SECRET})
    assert await config.list() == {SERVICE: {"clientSecret": CLIENT_SECRET}}


async def test_unset_removes_named_keys_or_every_key(store, services):
    config = config_of(store, services)
    await config.set(SERVICE, {"clientId": "a", "clientSecret": CLIENT_SECRET, "apiBase": "b"})
    await config.unset(SERVICE, ["clientSecret"])
    assert await config.get(SERVICE) == {"clientId": "a", "apiBase": "b"}
    await config.unset(SERVICE)
    assert await config.get(SERVICE) == {}
    assert await config.list() == {}


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ({"clientSecret": CLIENT_SECRET}, {"clientSecret": "****2c"}),
        ({"clientSecret": "short-one"}, {"clientSecret": "****"}),
        ({"clientId": "acme-app"}, {"clientId": "acme-app"}),
    ],
    ids=["long-secret-shows-two-characters", "short-secret-shows-none", "plain-key-shown"],
)
async def test_masked_hides_secret_values(store, services, values, shown):
    assert config_of(store, services).masked(SERVICE, values) == shown


@pytest.mark.parametrize(
    ("key", "variable"),
    [
        ("clientId", "FLOWMIXER_PINTEREST_CLIENT_ID"),
        ("clientSecret", "FLOWMIXER_PINTEREST_CLIENT_SECRET"),
        ("apiBase", "FLOWMIXER_PINTEREST_API_BASE"),
    ],
    ids=["client-id", "client-secret", "api-base"],
)
def test_each_key_has_an_environment_variable(key, variable):
    assert env_var(SERVICE, key) == variable
    assert env_var("acme:google-sheets", "clientId") == "FLOWMIXER_GOOGLE_SHEETS_CLIENT_ID"


async def test_require_says_which_keys_to_set_and_where(store, services):
    config = config_of(store, services)
    await config.set(SERVICE, {"clientId": "acme-app"})
    with pytest.raises(ConfigurationError) as caught:
        await config.require(SERVICE, ["clientId", "clientSecret"])
    assert str(caught.value) == (
        "acme:pinterest has no clientSecret; set it with"
        " `flowmixer config set acme:pinterest clientSecret=...`"
        " or FLOWMIXER_PINTEREST_CLIENT_SECRET"
    )
    await config.unset(SERVICE)
    with pytest.raises(ConfigurationError, match="set them with `flowmixer config set"):
        await config.require(SERVICE, ["clientId", "clientSecret"])


async def test_require_returns_the_configuration_when_it_is_complete(store, services):
    config = config_of(store, services, {"FLOWMIXER_PINTEREST_CLIENT_SECRET": CLIENT_SECRET})
    await config.set(SERVICE, {"clientId": "acme-app"})
    assert await config.require(SERVICE, ["clientId", "clientSecret"]) == {
        "clientId": "acme-app",
        "clientSecret": CLIENT_SECRET,
    }


async def test_secrets_sealed_with_another_key_are_refused_without_showing_them(store, services):
    await config_of(store, services).set(SERVICE, {"clientSecret": CLIENT_SECRET})
    with pytest.raises(ConfigurationError, match="cannot be opened") as caught:
        await config_of(store, services, key=generate_key()).get(SERVICE)
    assert CLIENT_SECRET not in str(caught.value)


async def test_reseal_moves_every_secret_to_the_first_key(store, services):
    old, new = KEY, generate_key()
    await config_of(store, services, key=old).set(
        SERVICE, {"clientId": "acme-app", "clientSecret": CLIENT_SECRET}
    )
    rotating = AppConfigStore(store, SecretBox([new, old]), services, environ={})
    assert await rotating.reseal() == 1
    assert await config_of(store, services, key=new).get(SERVICE) == {
        "clientId": "acme-app",
        "clientSecret": CLIENT_SECRET,
    }
