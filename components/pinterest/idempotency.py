"""Creating a Pin, board or section once per effect, though Pinterest has no idempotency keys.

A create component records each attempt in the effects ledger (:mod:`runtime.effects`) and
goes through three cases:

- the effect is **done** (made before, e.g. a crash came between the create and the
  acknowledgement): the recorded object is sent again and Pinterest is not called;
- the effect is **uncertain** (an earlier attempt may have made the object, see
  :func:`may_have_taken_effect`): the object is looked up first (:mod:`.lookups`) and, when
  found, recorded and sent without creating another;
- otherwise it is created, and the answer recorded before it is sent.

A lookup never adopts an object another effect recorded as its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp

from components.pinterest.errors import PinterestError, PinterestInputError, TransportError
from runtime.auth.oauth2 import OAuth2Error
from runtime.errors import DeferError, ReauthorizeError

if TYPE_CHECKING:
    from components.pinterest.models import PinterestModel
    from runtime.component import Context
    from runtime.effects import Effect

M = TypeVar("M", bound="PinterestModel")

CLOCK_SKEW: Final = 300.0
"""Seconds by which Pinterest's clock may be behind ours: an object whose ``created_at`` is
earlier than the first attempt minus this cannot be the one the attempt made."""

_NOT_SENT: Final = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def may_have_taken_effect(exc: BaseException) -> bool:
    """Whether a create that raised ``exc`` may still have made its object.

    The one rule. **No** when Pinterest answered with a 4xx (it refused the request: 400, 401,
    403, 404, 409, 429), when our own checks refused the input before sending, when the call
    waited for its quota instead (:class:`~runtime.errors.DeferError`), when no token could be
    had (a refused or failed refresh), or when no connection could be opened (nothing was
    sent). **Yes** for
    everything else: the connection dropped after the request went out, no answer came in
    time, Pinterest answered 5xx, or a success answer could not be read.
    """
    if isinstance(exc, PinterestInputError):
        return False
    if isinstance(exc, PinterestError) and exc.status is not None:
        return not 400 <= exc.status < 500
    if isinstance(exc, TransportError):
        return not isinstance(exc.__cause__, _NOT_SENT)
    return not isinstance(exc, ReauthorizeError | DeferError | OAuth2Error)


def as_payload(model: PinterestModel) -> dict[str, Any]:
    """What a create component sends (and records): the object as Pinterest answered it."""
    return model.model_dump(mode="json", exclude_none=True)


async def reuse(
    context: Context, effect: Effect, find: Callable[[], Awaitable[PinterestModel | None]]
) -> dict[str, Any] | None:
    """The object to send without creating one: the recorded one of a done effect, or the one
    ``find`` finds for an uncertain effect (recorded now); None when one must be created."""
    if effect.done:
        result: dict[str, Any] = effect.result
        return result
    if not effect.uncertain:
        return None
    # One lookup at a time per component: two uncertain effects with the same input must not
    # both adopt the object only one of them made.
    async with effect.adoption:
        found = await find()
        if found is None:
            context.log.info("an earlier attempt made nothing that can be found; creating it")
            return None
        payload = as_payload(found)
        ref = getattr(found, "id", None)
        await effect.complete(payload, ref=ref)
    context.log.info("reusing what an earlier attempt made", object_id=ref)
    return payload


async def create_once(
    effect: Effect, create: Callable[[], Awaitable[PinterestModel]]
) -> dict[str, Any]:
    """Call ``create`` with the attempt recorded around it; the created object as a payload."""
    await effect.sending()
    try:
        created = await create()
    except Exception as exc:
        if not may_have_taken_effect(exc):
            await effect.sent_nothing()
        raise
    payload = as_payload(created)
    await effect.complete(payload, ref=getattr(created, "id", None))
    return payload


def created_since(created_at: str | None, since: float | None) -> bool:
    """Whether an object made at ``created_at`` (Pinterest's ISO time, UTC) may have been made
    by an attempt first sent at ``since`` (epoch seconds); True when either is unknown."""
    if created_at is None or since is None:
        return True
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() >= since - CLOCK_SKEW


async def first_unclaimed(
    effect: Effect, listing: AsyncIterator[M], matches: Callable[[M], bool]
) -> M | None:
    """The newest object of ``listing`` that ``matches`` and no other effect made, or None.

    The listing is read to its end (ask it for a bounded number of items), then closed.
    """
    candidates: list[M] = []
    try:
        async for item in listing:
            if matches(item):
                candidates.append(item)
    finally:
        aclose = getattr(listing, "aclose", None)
        if aclose is not None:
            await aclose()
    if not candidates:
        return None
    claimed = await effect.claimed([str(getattr(c, "id", "")) for c in candidates])
    free = [c for c in candidates if str(getattr(c, "id", "")) not in claimed]
    # Newest first: an identical object made a little before the first attempt is older.
    free.sort(key=lambda c: str(getattr(c, "created_at", None) or ""), reverse=True)
    return free[0] if free else None
