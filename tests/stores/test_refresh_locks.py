"""The refresh lock of every store backend: one holder per account at a time, across handles
onto one database (another process's connection, for SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from tests.stores.conftest import Backend

SERVICE = "acme:pins"


async def test_a_second_holder_of_an_accounts_refresh_lock_enters_only_after_the_first_leaves(
    store_backend: Backend,
) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    order: list[str] = []

    async def later() -> None:
        async with second.refresh_lock(SERVICE, "ana") as held:
            assert held
            order.append("second in")

    async with first.refresh_lock(SERVICE, "ana") as held:
        assert held
        waiting = asyncio.create_task(later())
        await asyncio.sleep(0.2)  # room for the second to (wrongly) enter
        order.append("first out")
    await waiting
    assert order == ["first out", "second in"]


async def test_a_refresh_lock_left_is_taken_again_at_once(store_backend: Backend) -> None:
    store = await store_backend.open()
    for _ in range(3):
        async with store.refresh_lock(SERVICE, "ana") as held:
            assert held


async def test_refresh_locks_of_two_accounts_are_held_together_where_the_store_keys_them(
    store_backend: Backend,
) -> None:
    if store_backend.name == "sqlite":
        return  # one lock file per database: one refresh at a time in all
    first, second = await store_backend.open(), await store_backend.open()
    async with (
        first.refresh_lock(SERVICE, "ana") as one,
        second.refresh_lock(SERVICE, "bo") as other,
    ):
        assert one
        assert other
