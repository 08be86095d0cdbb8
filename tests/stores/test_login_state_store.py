"""OAuth login states on every backend: each is taken once, whoever asks for it."""

from __future__ import annotations

import asyncio

from runtime.stores.contracts import LoginStateRow
from tests.stores.conftest import AnyStore, Backend


def login(state_hash: str = "h1", *, expires_at: float = 2_000.0) -> LoginStateRow:
    return LoginStateRow(
        state_hash=state_hash,
        service="acme:pins",
        account=None,
        redirect_uri="http://127.0.0.1:1/cb",
        binding_hash="b" * 64,
        options='{"scopes":["r"],"replace":false}',
        expires_at=expires_at,
    )


async def test_a_state_is_taken_whole_and_only_once(store: AnyStore) -> None:
    await store.add_login_state(login(), now=1_000.0)
    assert await store.take_login_state("h1") == login()
    assert await store.take_login_state("h1") is None


async def test_adding_a_state_forgets_the_expired_ones(store: AnyStore) -> None:
    await store.add_login_state(login("old", expires_at=1_500.0), now=1_000.0)
    await store.add_login_state(login("new", expires_at=3_000.0), now=1_600.0)
    assert await store.take_login_state("old") is None
    assert await store.take_login_state("new") is not None


async def test_of_two_callbacks_racing_with_one_state_exactly_one_gets_it(
    store_backend: Backend,
) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    await first.add_login_state(login(), now=1_000.0)
    taken = await asyncio.gather(*(s.take_login_state("h1") for s in (first, second) * 4))
    assert [row for row in taken if row is not None] == [login()]
