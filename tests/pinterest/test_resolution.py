"""Resolving an uncertain effect without HTTP: what a lookup's outcomes lead to.

The lookups here are plain coroutines over a real ledger in a memory store; the lookups over
the emulator are in ``test_uncertain_effects.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from components.pinterest.models import Pin
from runtime.connector.errors import NotFoundError, ServerError, TransportError
from runtime.connector.resolution import Lookup, LookupIncompleteError, Resolution, resolve
from runtime.effects import Effect, EffectLedger
from runtime.errors import DeferError, ReauthorizeError, RetryError, UncertainEffectError
from runtime.stores import MemoryStore

SOUP = {"boardId": "1", "title": "Soup"}
QUICK = Resolution(first_delay=0.001, max_delay=0.002, budget=0.05)


class Handling:
    """What resolve needs of a handler's context."""

    log = structlog.get_logger()
    properties: dict[str, Any] = {}


async def uncertain(ledger: EffectLedger, event: str = "event-a") -> Effect:
    effect = await ledger.begin(event, SOUP)
    await effect.sending()
    effect.landed()
    return await ledger.begin(event, SOUP)


def pins(*ids: str) -> Lookup[Pin]:
    async def find() -> list[Pin]:
        return [Pin(id=i, title="Soup") for i in ids]

    return Lookup(find, "board 1")


def failing(*errors: BaseException, then: list[str] | None = None) -> Lookup[Pin]:
    left = list(errors)

    async def find() -> list[Pin]:
        if left:
            raise left.pop(0)
        return [Pin(id=i, title="Soup") for i in then or []]

    return Lookup(find, "board 1")


@pytest.fixture
def ledger() -> EffectLedger:
    return EffectLedger(MemoryStore(), "f", "pin")


async def test_a_found_object_is_adopted_and_recorded(ledger):
    effect = await uncertain(ledger)
    found = await resolve(Handling(), effect, pins("7"), QUICK)  # type: ignore[arg-type]

    assert (found.id if found else None) == "7"
    assert (await ledger.begin("event-a", SOUP)).result["id"] == "7"


async def test_an_object_another_effect_recorded_is_not_adopted(ledger):
    theirs = await ledger.begin("event-b", SOUP)
    await theirs.complete({"id": "7"}, ref="7")
    effect = await uncertain(ledger)

    assert await resolve(Handling(), effect, pins("7"), QUICK) is None  # type: ignore[arg-type]


async def test_a_lookup_that_fails_for_a_while_is_tried_again(ledger):
    effect = await uncertain(ledger)
    lookup = failing(ServerError("HTTP 503", status=503), TransportError("dropped"), then=["7"])
    found = await resolve(Handling(), effect, lookup, QUICK)  # type: ignore[arg-type]

    assert (found.id if found else None) == "7"


@pytest.mark.parametrize(
    ("lookup", "why"),
    [
        (failing(*[ServerError("HTTP 503", status=503)] * 1000), "the lookup kept failing"),
        (failing(NotFoundError("HTTP 404", status=404)), "the lookup was refused"),
        (failing(LookupIncompleteError("more than 25,000 objects")), "more than 25,000"),
    ],
    ids=["failing for the whole budget", "refused", "too long to read"],
)
async def test_where_pinterest_cannot_tell_the_effect_is_parked_and_stays_uncertain(
    ledger, lookup, why
):
    effect = await uncertain(ledger)
    with pytest.raises(UncertainEffectError) as raised:
        await resolve(Handling(), effect, lookup, QUICK)  # type: ignore[arg-type]

    assert why in str(raised.value)
    assert "Look for it on board 1" in str(raised.value)
    assert (await ledger.begin("event-a", SOUP)).uncertain


async def test_a_match_found_while_an_identical_create_is_in_flight_is_ambiguous(ledger):
    effect = await uncertain(ledger)
    twin = await ledger.begin("event-b", SOUP)
    await twin.sending()  # its Pin may be the one listed

    with pytest.raises(UncertainEffectError, match="another event's identical create"):
        await resolve(Handling(), effect, pins("7"), QUICK)  # type: ignore[arg-type]
    assert (await ledger.begin("event-a", SOUP)).uncertain


async def test_an_identical_create_that_lands_meanwhile_ends_the_ambiguity(ledger):
    effect = await uncertain(ledger)
    twin = await ledger.begin("event-b", SOUP)
    await twin.sending()
    calls = 0

    async def find() -> list[Pin]:
        nonlocal calls
        calls += 1
        if calls == 2:  # the twin's answer came: its Pin is 8, recorded as its own
            twin.landed()
            await twin.complete({"id": "8"}, ref="8")
        return [Pin(id="7", title="Soup"), Pin(id="8", title="Soup")]

    patient = Resolution(first_delay=0.001, max_delay=0.002, budget=5)
    found = await resolve(Handling(), effect, Lookup(find, "board 1"), patient)  # type: ignore[arg-type]

    assert (found.id if found else None) == "7"


class Outage(RetryError):
    outage = True


@pytest.mark.parametrize(
    "error",
    [
        DeferError("quota", delay=5),
        ReauthorizeError("connect the account again"),
        Outage("the service is down"),
    ],
    ids=["a quota or circuit wait", "re-authorization", "an outage"],
)
async def test_a_wait_raised_while_resolving_is_raised_as_it_is_and_the_effect_stays_uncertain(
    ledger, error
):
    effect = await uncertain(ledger)
    with pytest.raises(type(error)):
        await resolve(Handling(), effect, failing(error), QUICK)  # type: ignore[arg-type]
    assert (await ledger.begin("event-a", SOUP)).uncertain
