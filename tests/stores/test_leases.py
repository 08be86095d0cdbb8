"""Leases on every backend: one owner at a time, a token that grows at every grant, renewal
and release only by the owner with the current token, and a stale owner's tick committing
nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import LeaseLostError, StaleStateError
from runtime.stores.leases import Lease
from tests.stores.conftest import AnyStore, Backend

LONG = 3600.0  # a ttl no test outlives
SHORT = 0.2


async def _expired(store: AnyStore, name: str) -> None:
    """Wait (by the store's clock) until ``name`` has no unexpired holder."""
    async with asyncio.timeout(10):
        while await store.holder(name) is not None:  # noqa: ASYNC110 - the store's clock
            await asyncio.sleep(0.02)


async def test_a_free_name_is_granted_and_its_holder_is_known(store: AnyStore) -> None:
    lease = await store.acquire("tick:f/poll", "host:1:a", LONG)
    assert lease is not None
    assert (lease.name, lease.owner) == ("tick:f/poll", "host:1:a")
    assert lease.token >= 1
    assert await store.holder("tick:f/poll") == Lease(
        "tick:f/poll", "host:1:a", lease.token, pytest.approx(lease.expires_at, abs=1)
    )


async def test_a_held_name_is_refused_to_another_owner(store_backend: Backend) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    held = await first.acquire("n", "a", LONG)
    assert held is not None
    assert await second.acquire("n", "b", LONG) is None
    found = await second.holder("n")
    assert found is not None
    assert (found.owner, found.token) == ("a", held.token)


async def test_an_expired_lease_is_taken_over_with_a_greater_token(
    store_backend: Backend,
) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    old = await first.acquire("n", "a", SHORT)
    assert old is not None
    await _expired(second, "n")
    new = await second.acquire("n", "b", LONG)
    assert new is not None
    assert new.token > old.token
    assert await first.renew(old, LONG) is False  # the old owner cannot get it back by renewing


async def test_only_the_owner_with_the_current_token_renews(store: AnyStore) -> None:
    lease = await store.acquire("n", "a", LONG)
    assert lease is not None
    assert await store.renew(Lease("n", "b", lease.token, 0), LONG) is False
    assert await store.renew(Lease("n", "a", lease.token - 1, 0), LONG) is False
    assert await store.renew(lease, LONG) is True


async def test_a_renewal_keeps_a_lease_past_its_first_ttl(store: AnyStore) -> None:
    lease = await store.acquire("n", "a", SHORT)
    assert lease is not None
    assert await store.renew(lease, LONG) is True
    await asyncio.sleep(SHORT * 2)
    found = await store.holder("n")
    assert found is not None
    assert found.token == lease.token
    assert await store.acquire("n", "b", LONG) is None


async def test_a_released_name_is_free_at_once_and_its_next_token_is_greater(
    store: AnyStore,
) -> None:
    lease = await store.acquire("n", "a", LONG)
    assert lease is not None
    assert await store.release(Lease("n", "b", lease.token, 0)) is False  # not b's to give
    assert await store.release(lease) is True
    assert await store.holder("n") is None
    taken = await store.acquire("n", "b", LONG)
    assert taken is not None
    assert taken.token > lease.token


async def test_the_owner_acquiring_again_gets_a_new_token_that_fences_its_old_one(
    store: AnyStore,
) -> None:
    # A flow restarted in the same process: the tick of its previous run must not commit.
    old = await store.acquire("n", "a", LONG)
    new = await store.acquire("n", "a", LONG)
    assert old is not None
    assert new is not None
    assert new.token > old.token
    with pytest.raises(LeaseLostError):
        await store.commit_tick_state([("f", "poll", "seen", '"old"', None)], old)


@pytest.mark.parametrize(
    ("name", "owner", "ttl", "field"),
    [
        ("", "a", 1.0, "lease name"),
        ("n", "", 1.0, "lease owner"),
        ("n", "a", 0.0, "lease ttl"),
        ("n", "a", -1.0, "lease ttl"),
        ("n", "a", float("inf"), "lease ttl"),
        ("n", "a", float("nan"), "lease ttl"),
    ],
    ids=["empty name", "empty owner", "zero ttl", "negative ttl", "infinite ttl", "nan ttl"],
)
async def test_an_acquire_with_a_bad_argument_is_refused_naming_it(
    store: AnyStore, name: str, owner: str, ttl: float, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        await store.acquire(name, owner, ttl)
    assert name == "" or await store.holder(name) is None


async def test_of_owners_racing_for_a_free_name_exactly_one_wins(store_backend: Backend) -> None:
    handles = [await store_backend.open() for _ in range(4)]
    grants = await asyncio.gather(
        *(handle.acquire("n", f"owner-{i}", LONG) for i, handle in enumerate(handles))
    )
    assert len([g for g in grants if g is not None]) == 1


async def test_a_tick_commit_by_the_current_owner_writes_its_state(store: AnyStore) -> None:
    lease = await store.acquire("tick:f/poll", "a", LONG)
    assert lease is not None
    await store.commit_tick_state([("f", "poll", "seen", '["1"]', 0)], lease)
    found = await store.get_versioned_state("f", "poll", "seen")
    assert (found.value, found.version) == (["1"], 1)


async def test_a_stale_owners_tick_commit_is_refused_and_writes_nothing(
    store_backend: Backend,
) -> None:
    first, second = await store_backend.open(), await store_backend.open()
    stale = await first.acquire("tick:f/poll", "a", SHORT)
    assert stale is not None
    await _expired(second, "tick:f/poll")
    assert await second.acquire("tick:f/poll", "b", LONG) is not None
    with pytest.raises(LeaseLostError) as caught:
        await first.commit_tick_state(
            [("f", "poll", "seen", '["1"]', 0), ("f", "poll", "other", "2", None)], stale
        )
    assert (caught.value.name, caught.value.token) == ("tick:f/poll", stale.token)
    assert await second.get_state("f", "poll", "seen") is None
    assert await second.get_state("f", "poll", "other") is None


async def test_a_tick_commit_with_a_stale_version_writes_none_of_its_state(
    store: AnyStore,
) -> None:
    lease = await store.acquire("tick:f/poll", "a", LONG)
    assert lease is not None
    await store.set_state("f", "poll", "b", "newer")
    with pytest.raises(StaleStateError):
        await store.commit_tick_state(
            [("f", "poll", "a", '"kept?"', None), ("f", "poll", "b", '"stale"', 0)], lease
        )
    assert await store.get_state("f", "poll", "a") is None
    assert await store.get_state("f", "poll", "b") == "newer"


# An operation on one name by one of three owners: (what, who).
_STEPS = st.lists(
    st.tuples(st.sampled_from(["acquire", "renew", "release", "renew old"]), st.integers(0, 2)),
    max_size=15,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS, name=st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t))
async def test_a_name_has_one_owner_at_a_time_and_its_token_grows_at_every_grant(
    store: AnyStore, steps: list[tuple[str, int]], name: str
) -> None:
    name = f"{name}/{uuid.uuid4()}"  # a fresh name per example on the test's one database
    held: dict[int, Lease] = {}  # owner -> its newest lease
    owner: int | None = None  # the model: who holds the name (no lease expires here)
    token = 0
    for what, who in steps:
        mine = held.get(who)
        if what == "acquire":
            got = await store.acquire(name, f"owner-{who}", LONG)
            if owner in (None, who):
                assert got is not None
                assert got.token > token
                owner, token, held[who] = who, got.token, got
            else:
                assert got is None
        elif what == "renew" and mine is not None:
            assert await store.renew(mine, LONG) is (owner == who and mine.token == token)
        elif what == "release" and mine is not None:
            released = await store.release(mine)
            assert released is (owner == who and mine.token == token)
            if released:
                owner = None
        elif what == "renew old" and mine is not None and mine.token > 1:
            assert await store.renew(Lease(name, mine.owner, mine.token - 1, 0), LONG) is False
        found = await store.holder(name)
        assert (None if found is None else found.owner) == (
            None if owner is None else f"owner-{owner}"
        )
