"""The auth modules and the server's deployments work on every backend through the contracts:
secrets sealed or hashed before they reach the store, and the fencing rules kept."""

from __future__ import annotations

import asyncio

import pytest

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.auth.states import LoginStateError, LoginStates
from runtime.auth.vault import TokenSet, TokenVault
from runtime.envelope import Envelope
from runtime.server.deployments import Deployments
from runtime.stores.base import DeadLetter
from tests.stores.conftest import AnyStore, Backend


def tokens(access: str) -> TokenSet:
    return TokenSet(access, f"refresh-{access}", None, None, ("pins:read",))


async def test_the_vault_keeps_tokens_sealed_and_refuses_a_stale_refresh(
    store_backend: Backend,
) -> None:
    box = SecretBox([generate_key()])
    first = TokenVault(await store_backend.open(), box)
    second = TokenVault(await store_backend.open(), box)
    await first.save("acme:pins", "ana", tokens("a1"))
    found = await (await store_backend.open()).sealed_tokens("acme:pins", "ana")
    assert found is not None
    assert b"refresh-a1" not in found.sealed  # "a1" alone turns up in random base64 now and then
    read_first, read_second = (
        await first.stored("acme:pins", "ana"),
        await second.stored("acme:pins", "ana"),
    )
    assert read_first is not None
    assert read_second is not None
    assert await second.save("acme:pins", "ana", tokens("a2"), expected=read_second.version)
    assert not await first.save("acme:pins", "ana", tokens("a-stale"), expected=read_first.version)
    assert not await first.mark_needs_reauthorization(
        "acme:pins", "ana", "invalid_grant", version=read_first.version
    )
    assert await first.load("acme:pins", "ana") == tokens("a2")


async def test_a_login_state_is_consumed_once_when_two_callbacks_race(store: AnyStore) -> None:
    states = LoginStates(store)
    state = await states.issue("acme:pins", redirect_uri="http://127.0.0.1:9/cb", binding="b")

    async def consume() -> bool:
        try:
            await states.consume(
                state, service="acme:pins", redirect_uri="http://127.0.0.1:9/cb", binding="b"
            )
        except LoginStateError:
            return False
        return True

    assert sorted(await asyncio.gather(consume(), consume())) == [False, True]


async def test_deployments_keep_only_a_hash_of_each_hook_secret(store: AnyStore) -> None:
    deployments = Deployments(store)
    secrets = await deployments.save("f", {"id": "f"}, ["hook"])
    assert await store.hook_secret_hash("f", "hook") != secrets["hook"]
    assert await deployments.check_hook_secret("f", "hook", secrets["hook"])
    assert not await deployments.check_hook_secret("f", "hook", "guess")
    assert await deployments.save("f", {"id": "f", "v": 2}, ["hook"]) == {}
    found = await deployments.get("f")
    assert found is not None
    assert (found.definition, found.status) == ({"id": "f", "v": 2}, "stopped")


@pytest.mark.parametrize("count", [0, 3], ids=["no letters", "three letters"])
async def test_dead_letter_counts_for_the_metrics_come_from_the_store_contract(
    store: AnyStore, count: int
) -> None:
    for n in range(count):
        envelope = Envelope("f", "c", "in", {"n": n}, f"corr-{n}")
        await store.add_dead_letter(DeadLetter(f"l{n}", envelope, "boom", "E" + str(n % 2), 1, 1.0))
    expected = [("f", "c", count)] if count else []
    assert await Deployments(store).dead_letter_counts() == expected
