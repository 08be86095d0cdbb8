"""One sender per attempt: deliveries of one message in two ledgers (as two processes would
hold) claim each attempt in the store, and a late one waits for the other's outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runtime.effects import EffectClaimedError, EffectLedger, input_digest
from runtime.errors import DeferError
from runtime.stores import MemoryStore, SQLiteStore, Store

PIN = {"boardId": "2002", "title": "Soup"}


@pytest.fixture(params=["memory", "sqlite"], ids=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "memory":
        opened = MemoryStore()
    else:
        opened = await SQLiteStore.open(tmp_path / "flowmixer.db")
    yield opened
    await opened.close()


def process(store: Store, settle: float = 5.0) -> EffectLedger:
    """The ledger of one process's component (each process has its own)."""
    return EffectLedger(store, "repin", "pin", settle=settle)


async def test_of_two_deliveries_that_found_the_effect_new_only_the_first_to_claim_may_send(
    store,
):
    first = await process(store).begin("event-1", PIN)
    second = await process(store).begin("event-1", PIN)

    await first.sending()
    with pytest.raises(EffectClaimedError, match="another delivery") as refused:
        await second.sending()

    assert isinstance(refused.value, DeferError)  # it comes back without using an attempt
    assert not second.twin_in_flight  # the loser never counted as sending


async def test_a_delivery_finding_an_attempt_just_claimed_elsewhere_gets_its_outcome(store):
    sender = await process(store).begin("event-1", PIN)
    await sender.sending()

    late = asyncio.create_task(process(store).begin("event-1", PIN))
    await asyncio.sleep(0.1)
    assert not late.done()  # waiting: the request may still be in flight
    await sender.complete({"id": "p1"}, ref="p1")
    effect = await late

    assert (effect.done, effect.result) == (True, {"id": "p1"})


async def test_an_attempt_claimed_elsewhere_that_never_ends_is_uncertain_after_the_settle_time(
    store,
):
    sender = await process(store).begin("event-1", PIN)
    await sender.sending()  # ... and that process dies

    effect = await process(store, settle=0.2).begin("event-1", PIN)

    assert (effect.done, effect.uncertain, effect.sent_before) == (False, True, 1)


async def test_a_process_does_not_wait_for_an_attempt_it_sent_itself(store):
    effects = process(store, settle=3600)
    first = await effects.begin("event-1", PIN)
    await first.sending()
    first.landed()  # the answer was lost; resolving it deferred, so the message comes back

    again = await asyncio.wait_for(effects.begin("event-1", PIN), timeout=5)

    assert again.uncertain


async def test_a_note_never_undoes_a_claim_another_delivery_made_since(store):
    first = await process(store).begin("event-1", PIN)
    second = await process(store).begin("event-1", PIN)
    await first.sending()

    await second.note(media_id="m2")  # e.g. it uploaded the video too

    with pytest.raises(EffectClaimedError):
        await second.sending()
    assert second.notes == {"media_id": "m2"}  # kept for this attempt
    kept = await store.get_effect("repin", "pin", "event-1", input_digest(PIN))
    assert kept is not None
    assert (kept.attempts, kept.uncertain, kept.notes) == (1, True, {})


async def test_a_note_of_an_effect_read_before_is_kept_when_nobody_wrote_since(store):
    effects = process(store)
    first = await effects.begin("event-1", PIN)
    await first.note(media_id="m1")
    await first.note(upload="done")

    again = await effects.begin("event-1", PIN)

    assert again.notes == {"media_id": "m1", "upload": "done"}


async def test_a_lookup_that_found_nothing_never_overwrites_what_another_delivery_recorded(store):
    effects = process(store, settle=0)
    sender = await effects.begin("event-1", PIN)
    await sender.sending()
    sender.landed()  # the answer was lost: both deliveries now look for the object
    looking = await effects.begin("event-1", PIN)
    await sender.complete({"id": "p1"}, ref="p1")  # ...and the first one found it

    with pytest.raises(EffectClaimedError, match="another delivery"):
        await looking.found_nothing()

    kept = await effects.begin("event-1", PIN)
    assert (kept.done, kept.result) == (True, {"id": "p1"})
    assert (looking.done, looking.ref) == (True, "p1")  # it holds that delivery's record now


async def test_a_delivery_waits_for_another_in_this_process_that_is_sending_the_effect(store):
    effects = process(store, settle=30)
    sender = await effects.begin("event-1", PIN)
    await sender.sending()

    late = asyncio.create_task(effects.begin("event-1", PIN))
    await asyncio.sleep(0.1)
    assert not late.done()  # its own process's request is in flight: it waits for it
    await sender.complete({"id": "p1"}, ref="p1")
    effect = await asyncio.wait_for(late, timeout=5)

    assert (effect.done, effect.result) == (True, {"id": "p1"})
    assert not effect.sent_by_another
