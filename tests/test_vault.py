"""TokenVault: several accounts per service, tokens sealed at rest, status for re-authorization."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.auth.vault import AccountRecord, TokenSet, TokenVault
from runtime.errors import ConfigurationError
from runtime.stores.sqlite import SQLiteStore

SERVICE = "acme:pinterest"
ACCESS = "pina_ACCESS-7c1e0b9d2f"
REFRESH = "pinr_REFRESH-3a8d5e6f10"
KEY = generate_key()
TOKENS = TokenSet(
    access_token=ACCESS,
    refresh_token=REFRESH,
    expires_at=1_900_000_000.0,
    refresh_expires_at=1_950_000_000.5,
    scopes=("boards:read", "pins:read"),
)


@pytest.fixture
async def store(tmp_path: Path):
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        yield store


def stored_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file())


async def test_tokens_are_kept_and_are_not_in_the_database_file(tmp_path):
    with capture_logs() as logs:
        async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
            vault = TokenVault(store, SecretBox([KEY]))
            await vault.save(SERVICE, "acme_shop", TOKENS)
            assert await vault.load(SERVICE, "acme_shop") == TOKENS
    raw = stored_bytes(tmp_path)
    assert b"acme_shop" in raw
    assert ACCESS.encode() not in raw
    assert REFRESH.encode() not in raw
    assert ACCESS not in repr(logs)
    assert REFRESH not in repr(logs)


async def test_tokens_survive_reopening_the_store(tmp_path):
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        await TokenVault(store, SecretBox([KEY])).save(SERVICE, "acme_shop", TOKENS)
    async with await SQLiteStore.open(tmp_path / "flowmixer.db") as store:
        assert await TokenVault(store, SecretBox([KEY])).load(SERVICE, "acme_shop") == TOKENS


async def test_a_service_has_several_accounts_listed_without_tokens(store):
    vault = TokenVault(store, SecretBox([KEY]))
    other = dataclasses.replace(TOKENS, access_token="other-access", refresh_token=None)
    await vault.save(SERVICE, "shop_two", other)
    await vault.save(SERVICE, "acme_shop", TOKENS)
    await vault.save("acme:other", "someone", other)
    records = await vault.accounts(SERVICE)
    assert [r.name for r in records] == ["acme_shop", "shop_two"]
    assert records[0] == AccountRecord(
        service=SERVICE,
        name="acme_shop",
        status="connected",
        scopes=("boards:read", "pins:read"),
        expires_at=1_900_000_000.0,
        updated_at=records[0].updated_at,
        reason=None,
    )
    assert [(r.service, r.name) for r in await vault.accounts()] == [
        ("acme:other", "someone"),
        (SERVICE, "acme_shop"),
        (SERVICE, "shop_two"),
    ]
    assert await vault.load(SERVICE, "shop_two") == other
    assert ACCESS not in repr(records)


async def test_an_unknown_account_has_no_tokens_and_no_record(store):
    vault = TokenVault(store, SecretBox([KEY]))
    assert await vault.load(SERVICE, "nobody") is None
    assert await vault.account(SERVICE, "nobody") is None
    assert await vault.delete(SERVICE, "nobody") is False


async def test_an_account_needing_reauthorization_says_why_until_it_is_saved_again(store):
    vault = TokenVault(store, SecretBox([KEY]))
    await vault.save(SERVICE, "acme_shop", TOKENS)
    await vault.mark_needs_reauthorization(
        SERVICE, "acme_shop", f"the refresh was refused (invalid_grant) refresh_token={REFRESH}"
    )
    record = await vault.account(SERVICE, "acme_shop")
    assert record is not None
    assert record.status == "needs_reauthorization"
    assert record.reason == "the refresh was refused (invalid_grant) refresh_token=***"
    assert await vault.load(SERVICE, "acme_shop") == TOKENS
    await vault.save(SERVICE, "acme_shop", TOKENS)
    record = await vault.account(SERVICE, "acme_shop")
    assert record is not None
    assert (record.status, record.reason) == ("connected", None)


async def test_marking_an_unknown_account_changes_nothing(store):
    vault = TokenVault(store, SecretBox([KEY]))
    await vault.mark_needs_reauthorization(SERVICE, "nobody", "gone")
    assert await vault.accounts() == []


async def test_a_deleted_account_is_gone(store):
    vault = TokenVault(store, SecretBox([KEY]))
    await vault.save(SERVICE, "acme_shop", TOKENS)
    assert await vault.delete(SERVICE, "acme_shop") is True
    assert await vault.load(SERVICE, "acme_shop") is None
    assert await vault.accounts() == []


async def test_tokens_sealed_with_another_key_are_refused_without_showing_them(store):
    await TokenVault(store, SecretBox([KEY])).save(SERVICE, "acme_shop", TOKENS)
    with pytest.raises(ConfigurationError, match="cannot be opened") as caught:
        await TokenVault(store, SecretBox([generate_key()])).load(SERVICE, "acme_shop")
    assert ACCESS not in str(caught.value)
    assert REFRESH not in str(caught.value)


async def test_reseal_moves_every_account_to_the_first_key(store):
    old, new = KEY, generate_key()
    await TokenVault(store, SecretBox([old])).save(SERVICE, "acme_shop", TOKENS)
    assert await TokenVault(store, SecretBox([new, old])).reseal() == 1
    assert await TokenVault(store, SecretBox([new])).load(SERVICE, "acme_shop") == TOKENS


def test_the_repr_of_a_token_set_hides_the_tokens():
    text = repr(TOKENS)
    assert ACCESS not in text
    assert REFRESH not in text
    assert "boards:read" in text


def test_a_token_set_needs_an_access_token():
    with pytest.raises(ValueError, match="needs an access token"):
        dataclasses.replace(TOKENS, access_token="")


async def test_an_account_needs_a_name(store):
    with pytest.raises(ConfigurationError, match="account: it is empty"):
        await TokenVault(store, SecretBox([KEY])).save(SERVICE, "", TOKENS)
