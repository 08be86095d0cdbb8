"""Creating an object once per effect, though the service has no idempotency keys.

A create component records each attempt in the effects ledger (:mod:`runtime.effects`) and
goes through three cases (:func:`reuse`, then :func:`create_once`):

- the effect is **done** (made before, e.g. a crash came between the create and the
  acknowledgement): the recorded object is sent again and the service is not called;
- the effect is **uncertain** (an earlier attempt may have made the object, see
  :func:`may_have_taken_effect`): it is resolved (:mod:`.resolution`) before anything else;
- otherwise it is created, and the answer recorded before it is sent.

An attempt that fails in a way that may have made the object is resolved at once, in the same
delivery, not after the messages queued behind it: the object is looked up, with short and
growing pauses, among everything made since the first attempt (a connector's :class:`Lookup`,
often reading a listing with :func:`made_since`). Found, it is recorded and sent. Proved
absent (a lookup read every candidate), the failure is raised as it was and the next attempt
creates without looking again. Where the service cannot tell, the
message goes to the dead letters as :class:`~runtime.errors.UncertainEffectError` and the
effect stays uncertain, so a retry of that dead letter looks again before creating.

A lookup never adopts an object another effect recorded as its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel

from runtime.auth.oauth2 import OAuth2Error
from runtime.connector.errors import InputError, ServiceError, TransportError
from runtime.connector.polling import epoch_seconds
from runtime.connector.resolution import Lookup, LookupIncompleteError, Resolution, resolve
from runtime.errors import DeferError, ReauthorizeError

if TYPE_CHECKING:
    from runtime.component import Context
    from runtime.effects import Effect

M = TypeVar("M")

CLOCK_SKEW: Final = 300.0
"""Seconds by which the service's clock may be behind ours: an object whose ``created_at`` is
earlier than the first attempt minus this cannot be the one the attempt made."""

PAGE: Final = 250
"""Items per page of a lookup's listing: where :func:`made_since` may stop reading."""

MAX_LOOKUP_ITEMS: Final = 25_000
"""A lookup that would read more items than this gives up: the service cannot tell in time."""


def may_have_taken_effect(exc: BaseException) -> bool:
    """Whether a create that raised ``exc`` may still have made its object.

    The one rule. **No** when the service answered with a 4xx (it refused the request: 400, 401,
    403, 404, 409, 429), when our own checks refused the input before sending, when the call
    waited for its quota instead (:class:`~runtime.errors.DeferError`), when no token could be
    had (a refused or failed refresh), or when no connection could be opened (nothing was
    sent). **Yes** for
    everything else: the connection dropped after the request went out, no answer came in
    time, the service answered 5xx, or a success answer could not be read.
    """
    if isinstance(exc, InputError):
        return False
    if isinstance(exc, ServiceError) and exc.status is not None:
        return not 400 <= exc.status < 500
    if isinstance(exc, TransportError):
        return exc.sent
    return not isinstance(exc, ReauthorizeError | DeferError | OAuth2Error)


def unanswered_in_time(exc: BaseException) -> bool:
    """Whether ``exc`` is a request that got no answer in time: the service may still be at work."""
    return isinstance(exc, TransportError) and isinstance(exc.__cause__, TimeoutError)


def as_payload(made: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """What a create component sends (and records): the object as the service answered it."""
    if isinstance(made, BaseModel):
        return made.model_dump(mode="json", exclude_none=True)
    return dict(made)


def policy_of(context: Context) -> Resolution:
    """The resolution of the component's ``uncertainWait`` property (60 s when absent)."""
    wait = context.properties.get("uncertainWait")
    return Resolution() if wait is None else Resolution(budget=float(wait))


async def reuse(context: Context, effect: Effect, lookup: Lookup[Any]) -> dict[str, Any] | None:
    """The object to send without creating one: the recorded one of a done effect, or the one
    an uncertain effect's lookup finds (recorded now); None when one must be created.

    Raises :class:`~runtime.errors.UncertainEffectError` where the service cannot tell.
    """
    if effect.done:
        result: dict[str, Any] = effect.result
        return result
    if not effect.uncertain:
        return None
    found = await resolve(context, effect, lookup, policy_of(context))
    if found is None:
        await effect.found_nothing()
        context.log.info("an earlier attempt made nothing; creating it")
        return None
    return _recorded(effect, found)


async def create_once(
    context: Context,
    effect: Effect,
    create: Callable[[], Awaitable[BaseModel | Mapping[str, Any]]],
    lookup: Lookup[Any],
) -> dict[str, Any]:
    """Call ``create`` with the attempt recorded around it; the created object as a payload.

    A failure that may have made the object is resolved before this returns or raises: the
    object found is returned; when a complete lookup proves nothing was made, the failure is
    raised (the next attempt creates again).
    """
    await effect.sending()
    try:
        try:
            created = await create()
        finally:
            effect.landed()
    except Exception as exc:
        if not may_have_taken_effect(exc):
            await effect.sent_nothing()
            raise
        policy = policy_of(context)
        first = policy.late_delay if unanswered_in_time(exc) else policy.first_delay
        found = await resolve(context, effect, lookup, policy, first_delay=first)
        if found is None:
            await effect.found_nothing()
            raise
        return _recorded(effect, found)
    payload = as_payload(created)
    await effect.complete(payload, ref=_ref(payload))
    return payload


def _recorded(effect: Effect, found: BaseModel) -> dict[str, Any]:
    """What to send for the object a lookup found: the effect's recorded result (the same
    object, as recorded when it was adopted or made by another delivery of the message)."""
    if effect.done and isinstance(effect.result, dict):
        return dict(effect.result)
    return as_payload(found)


def _ref(payload: Mapping[str, Any]) -> str | None:
    ref = payload.get("id")
    return None if ref is None else str(ref)


def created_since(created_at: str | None, since: float | None) -> bool:
    """Whether an object made at ``created_at`` (an ISO time, UTC when naive) may have been made
    by an attempt first sent at ``since`` (epoch seconds); True when either is unknown."""
    when = epoch_seconds(created_at)
    if when is None or since is None:
        return True
    return when >= since - CLOCK_SKEW


async def made_since(
    listing: AsyncIterator[M],
    since: float | None,
    matches: Callable[[M], bool],
    *,
    page: int = PAGE,
    max_items: int = MAX_LOOKUP_ITEMS,
) -> list[M]:
    """The items of ``listing`` that ``matches``, read until none made since ``since`` (epoch
    seconds, less :data:`CLOCK_SKEW`) can follow; the listing is closed at the end.

    The order of a service's listings is not promised: the reading stops early only once
    everything read so far came newest first and a whole page of ``page`` items was made
    before the cutoff. Any other listing (or an item without ``created_at``, or no ``since``)
    is read to its end. More than ``max_items`` raises :class:`LookupIncompleteError`.
    """
    cutoff = None if since is None else since - CLOCK_SKEW
    found: list[M] = []
    count, previous, newest_first, page_old = 0, None, True, True
    try:
        async for item in listing:
            created = epoch_seconds(getattr(item, "created_at", None))
            if created is None or (previous is not None and created > previous):
                newest_first = False
            previous = created
            page_old = page_old and cutoff is not None and created is not None and created < cutoff
            if matches(item):
                found.append(item)
            count += 1
            if count % page == 0:
                if newest_first and page_old:
                    break
                page_old = True
            if count >= max_items:
                raise LookupIncompleteError(
                    f"the listing has more than {max_items:,} objects that could be the one made"
                )
    finally:
        aclose = getattr(listing, "aclose", None)
        if aclose is not None:
            await aclose()
    return found
