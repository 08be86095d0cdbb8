"""Component state versions on every backend: a write fenced by an old version is refused."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import StaleStateError
from tests.stores.conftest import AnyStore, Backend


async def test_a_value_counts_its_writes_and_an_absent_one_is_version_zero(
    store: AnyStore,
) -> None:
    assert (await store.get_versioned_state("f", "c", "k")).version == 0
    await store.set_state("f", "c", "k", {"n": 1})
    await store.set_state("f", "c", "k", {"n": 2})
    found = await store.get_versioned_state("f", "c", "k")
    assert (found.value, found.version) == ({"n": 2}, 2)


async def test_a_write_expecting_the_stored_version_is_kept(store: AnyStore) -> None:
    await store.set_state("f", "c", "k", 1, expected_version=0)
    await store.set_state("f", "c", "k", 2, expected_version=1)
    found = await store.get_versioned_state("f", "c", "k")
    assert (found.value, found.version) == (2, 2)


@pytest.mark.parametrize(
    "stale", [0, 1, 5], ids=["expects absent", "expects older", "expects newer"]
)
async def test_a_write_expecting_another_version_is_refused_and_changes_nothing(
    store: AnyStore, stale: int
) -> None:
    await store.set_state("f", "c", "k", "first")
    await store.set_state("f", "c", "k", "second")
    with pytest.raises(StaleStateError) as caught:
        await store.set_state("f", "c", "k", "stale", expected_version=stale)
    assert (caught.value.key, caught.value.expected) == ("k", stale)
    found = await store.get_versioned_state("f", "c", "k")
    assert (found.value, found.version) == ("second", 2)


async def test_a_write_expecting_a_value_that_was_deleted_is_refused(store: AnyStore) -> None:
    await store.set_state("f", "c", "k", "v")
    await store.delete_state("f", "c", "k")
    with pytest.raises(StaleStateError):
        await store.set_state("f", "c", "k", "late", expected_version=1)
    assert await store.get_state("f", "c", "k") is None


async def test_of_two_writers_holding_one_version_exactly_one_saves(
    store_backend: Backend,
) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    await first.set_state("f", "c", "ledger", {"seen": []})
    version = (await second.get_versioned_state("f", "c", "ledger")).version
    outcomes = await asyncio.gather(
        first.set_state("f", "c", "ledger", {"seen": [1]}, expected_version=version),
        second.set_state("f", "c", "ledger", {"seen": [2]}, expected_version=version),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "StaleStateError"]
    assert (await first.get_versioned_state("f", "c", "ledger")).version == version + 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(writes=st.lists(st.tuples(st.integers(0, 4), st.integers()), max_size=12))
async def test_a_fenced_write_is_kept_exactly_when_it_expects_the_stored_version(
    store: AnyStore, writes: list[tuple[int, int]]
) -> None:
    key = f"k{id(writes)}"
    version = (await store.get_versioned_state("f", "c", key)).version
    for expected, value in writes:
        try:
            await store.set_state("f", "c", key, value, expected_version=expected)
        except StaleStateError:
            assert expected != version
        else:
            assert expected == version
            version += 1
    assert (await store.get_versioned_state("f", "c", key)).version == version
