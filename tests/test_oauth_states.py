"""Login states: random, single-use, ten minutes, bound to their login; anything else refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from components.pinterest.emulator import ManualClock
from runtime.auth.states import LoginStateError, LoginStates
from runtime.stores.sqlite import SQLiteStore

REDIRECT = "http://127.0.0.1:8123/auth/pinterest/callback"
SERVICE = "acme:pinterest"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with await SQLiteStore.open(tmp_path / "f.db") as opened:
        yield opened


async def test_a_state_is_accepted_once_with_what_its_login_was_started_for(
    store: SQLiteStore,
) -> None:
    states = LoginStates(store)
    state = await states.issue(
        SERVICE, redirect_uri=REDIRECT, binding="b1", account="shop", scopes=["pins:read"]
    )
    pending = await states.consume(state, service=SERVICE, redirect_uri=REDIRECT, binding="b1")
    assert (pending.account, pending.scopes, pending.redirect_uri) == (
        "shop",
        ("pins:read",),
        REDIRECT,
    )
    with pytest.raises(LoginStateError, match="already used"):
        await states.consume(state, service=SERVICE, redirect_uri=REDIRECT, binding="b1")


async def test_states_are_random_and_only_their_digest_is_stored(store: SQLiteStore) -> None:
    states = LoginStates(store)
    issued = {await states.issue(SERVICE, redirect_uri=REDIRECT, binding="b") for _ in range(20)}
    assert len(issued) == 20
    assert all(len(state) >= 43 for state in issued)
    dump = "\n".join(await store.with_connection(lambda conn: list(conn.iterdump())))
    assert not any(state in dump for state in issued)


async def test_a_state_older_than_ten_minutes_is_refused(store: SQLiteStore) -> None:
    clock = ManualClock(1_000_000.0)
    states = LoginStates(store, clock=clock)
    state = await states.issue(SERVICE, redirect_uri=REDIRECT, binding="b")
    clock.advance(600)
    with pytest.raises(LoginStateError, match="more than 10 minutes"):
        await states.consume(state, service=SERVICE, redirect_uri=REDIRECT, binding="b")


async def test_a_state_just_under_ten_minutes_old_is_accepted(store: SQLiteStore) -> None:
    clock = ManualClock(1_000_000.0)
    states = LoginStates(store, clock=clock)
    state = await states.issue(SERVICE, redirect_uri=REDIRECT, binding="b")
    clock.advance(599)
    await states.consume(state, service=SERVICE, redirect_uri=REDIRECT, binding="b")


@pytest.mark.parametrize(
    ("service", "redirect_uri", "binding"),
    [
        (SERVICE, REDIRECT, "another-browser"),
        (SERVICE, "http://127.0.0.1:9999/auth/pinterest/callback", "b"),
        ("acme:other", REDIRECT, "b"),
    ],
    ids=["other-binding", "other-redirect-uri", "other-service"],
)
async def test_a_state_presented_by_another_login_is_refused_and_spent(
    store: SQLiteStore, service: str, redirect_uri: str, binding: str
) -> None:
    states = LoginStates(store)
    state = await states.issue(SERVICE, redirect_uri=REDIRECT, binding="b")
    with pytest.raises(LoginStateError, match="another login"):
        await states.consume(state, service=service, redirect_uri=redirect_uri, binding=binding)
    with pytest.raises(LoginStateError, match="already used"):
        await states.consume(state, service=SERVICE, redirect_uri=REDIRECT, binding="b")


@pytest.mark.parametrize("forged", ["", "forged", "x" * 43], ids=["empty", "word", "long"])
async def test_a_forged_state_is_refused(store: SQLiteStore, forged: str) -> None:
    states = LoginStates(store)
    await states.issue(SERVICE, redirect_uri=REDIRECT, binding="b")
    with pytest.raises(LoginStateError):
        await states.consume(forged, service=SERVICE, redirect_uri=REDIRECT, binding="b")


async def test_a_login_without_a_binding_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="binding"):
        await LoginStates(store).issue(SERVICE, redirect_uri=REDIRECT, binding="")
