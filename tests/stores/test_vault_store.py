"""The vault's records on every backend: sealed bytes kept as given, and versions that refuse a
stale writer."""

from __future__ import annotations

import asyncio

from runtime.stores.contracts import AccountRow
from tests.stores.conftest import AnyStore, Backend


def account(
    name: str = "ana", *, status: str = "connected", scopes: tuple[str, ...] = ("r",)
) -> AccountRow:
    return AccountRow(
        service="acme:pins",
        name=name,
        status=status,
        scopes=scopes,
        expires_at=1_900_000_000.0,
        updated_at=0.0,
        reason=None,
        version=0,
    )


async def test_a_saved_account_reads_back_its_sealed_bytes_at_version_one(store: AnyStore) -> None:
    assert await store.save_account(account(), b"\x00sealed\xff")
    found = await store.sealed_tokens("acme:pins", "ana")
    assert found is not None
    assert (found.sealed, found.version) == (b"\x00sealed\xff", 1)
    [row] = await store.list_accounts("acme:pins")
    assert (row.name, row.status, row.scopes, row.expires_at, row.version) == (
        "ana",
        "connected",
        ("r",),
        1_900_000_000.0,
        1,
    )
    assert row.updated_at > 0


async def test_every_write_of_an_account_gives_it_the_next_version(store: AnyStore) -> None:
    await store.save_account(account(), b"one")
    await store.save_account(account(), b"two")
    assert await store.mark_account("acme:pins", "ana", "needs_reauthorization", "revoked")
    assert await store.reseal_accounts(lambda sealed: sealed + b"!") == 1
    found = await store.sealed_tokens("acme:pins", "ana")
    assert found is not None
    assert (found.sealed, found.version) == (b"two!", 4)
    [row] = await store.list_accounts()
    assert (row.status, row.reason, row.version) == ("needs_reauthorization", "revoked", 4)


async def test_a_save_expecting_an_old_version_is_refused_and_changes_nothing(
    store: AnyStore,
) -> None:
    await store.save_account(account(), b"first")
    await store.save_account(account(), b"rotated", expected_version=1)
    assert not await store.save_account(account(), b"stale", expected_version=1)
    found = await store.sealed_tokens("acme:pins", "ana")
    assert found is not None
    assert (found.sealed, found.version) == (b"rotated", 2)


async def test_a_mark_expecting_an_old_version_is_refused(store: AnyStore) -> None:
    await store.save_account(account(), b"first")
    await store.save_account(account(), b"rotated")
    assert not await store.mark_account(
        "acme:pins", "ana", "needs_reauthorization", "old grant", expected_version=1
    )
    [row] = await store.list_accounts()
    assert (row.status, row.version) == ("connected", 2)


async def test_a_new_only_save_keeps_an_existing_account_untouched(store: AnyStore) -> None:
    await store.save_account(account(), b"first")
    assert not await store.save_account(account(), b"other", only_new=True)
    assert await store.save_account(account("bo"), b"bo's", only_new=True)
    found = await store.sealed_tokens("acme:pins", "ana")
    assert found is not None
    assert found.sealed == b"first"


async def test_unknown_accounts_are_neither_saved_by_version_nor_marked_nor_deleted(
    store: AnyStore,
) -> None:
    assert not await store.save_account(account(), b"x", expected_version=1)
    assert not await store.mark_account("acme:pins", "ana", "needs_reauthorization", None)
    assert not await store.delete_account("acme:pins", "ana")
    assert await store.sealed_tokens("acme:pins", "ana") is None


async def test_accounts_list_by_service_then_name_and_go_when_deleted(store: AnyStore) -> None:
    for service, name in [("b:svc", "zed"), ("a:svc", "yan"), ("b:svc", "amy")]:
        await store.save_account(
            AccountRow(service, name, "connected", (), None, 0.0, None, 0), b"s"
        )
    listed = [(row.service, row.name) for row in await store.list_accounts()]
    assert listed == [("a:svc", "yan"), ("b:svc", "amy"), ("b:svc", "zed")]
    assert [row.name for row in await store.list_accounts("b:svc")] == ["amy", "zed"]
    assert await store.delete_account("b:svc", "amy")
    assert [row.name for row in await store.list_accounts("b:svc")] == ["zed"]


async def test_of_two_writers_holding_one_version_only_one_saves(store_backend: Backend) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    await first.save_account(account(), b"original")
    read_by_first = await first.sealed_tokens("acme:pins", "ana")
    read_by_second = await second.sealed_tokens("acme:pins", "ana")
    assert read_by_first is not None
    assert read_by_second is not None
    saved = await asyncio.gather(
        first.save_account(account(), b"by first", expected_version=read_by_first.version),
        second.save_account(account(), b"by second", expected_version=read_by_second.version),
    )
    assert sorted(saved) == [False, True]
    found = await first.sealed_tokens("acme:pins", "ana")
    winner = b"by first" if saved[0] else b"by second"
    assert found is not None
    assert (found.sealed, found.version) == (winner, 2)
