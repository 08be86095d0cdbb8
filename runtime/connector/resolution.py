"""Resolving an uncertain effect: was the object made, and which one is it?

:func:`resolve` looks the object up (a :class:`Lookup`) with pauses that start short and double
up to ``max_delay``, for at most ``budget`` seconds, and ends in one of three ways:

- **found**: one matching object that no other effect recorded is adopted (recorded as this
  effect's, under the component's adoption lock, newest first) and returned;
- **proved absent**: a lookup read everything made since the first attempt and nothing matched
  that is not another effect's; None is returned;
- **cannot tell**: :class:`~runtime.errors.UncertainEffectError` is raised, the message goes to
  the dead letters with a reason that says what to check, and the effect stays uncertain.
  The service cannot tell when a lookup keeps failing (5xx, no answer, an unreadable page) for
  the whole budget, when a lookup is refused (a 4xx such as 404 for a deleted board: retrying
  would not help), when the listing is too long to read (see
  :data:`~.idempotent.MAX_LOOKUP_ITEMS`), or when it stays ambiguous: a matching object was
  found while another event's create of the same input was in flight in this process, so
  the object may be that one's (the pauses give that create time to land and be recorded).

A :class:`~runtime.errors.DeferError` (a quota wait, an open circuit: nothing was sent), a
:class:`~runtime.errors.ReauthorizeError`, and a ``RetryError`` marked ``outage`` are raised as
they are: the message comes back later, and its effect, still uncertain, is resolved first then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from runtime.errors import (
    CancelError,
    DeferError,
    ReauthorizeError,
    RetryError,
    UncertainEffectError,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runtime.component import Context
    from runtime.effects import Effect

T = TypeVar("T", bound="BaseModel")

_ADOPTED: Final = "reusing what an earlier attempt made"


@dataclass(frozen=True, slots=True)
class Resolution:
    """How long and how often an uncertain effect is looked up before it is parked.

    ``first_delay``: seconds after a failed attempt before the first lookup (the service has
    answered or dropped the call; the object, if made, is listed). ``late_delay``: the same after
    an attempt that got no answer in time, which the service may still be working on.
    ``max_delay``: the longest pause between lookups. ``budget``: seconds from the first lookup
    after which the service is taken not to be able to tell.
    """

    first_delay: float = 0.25
    late_delay: float = 5.0
    max_delay: float = 5.0
    budget: float = 60.0

    def __post_init__(self) -> None:
        for name in ("first_delay", "late_delay", "max_delay", "budget"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")


@dataclass(frozen=True, slots=True)
class Lookup(Generic[T]):
    """How to find what an uncertain attempt made.

    ``find`` lists every object the attempt could have made that matches what it sent, in no
    particular order (it raises :class:`LookupIncompleteError` when it cannot read them all);
    ``where`` tells an operator where to look (e.g. ``board 123``); ``label`` names the
    service that could not tell (e.g. ``Widgets``, a connector's ``label``).
    """

    find: Callable[[], Awaitable[list[T]]]
    where: str
    label: str = "the service"


class LookupIncompleteError(Exception):
    """A lookup could not read every object the attempt could have made."""


class _Ambiguous(Exception):
    """A match was found while a create of the same input is in flight."""


async def resolve(
    context: Context,
    effect: Effect,
    lookup: Lookup[T],
    policy: Resolution,
    *,
    first_delay: float = 0.0,
) -> T | None:
    """The object the uncertain ``effect`` made (now recorded), or None when surely none."""
    if first_delay > 0:
        await asyncio.sleep(first_delay)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.budget
    delay = policy.first_delay or 0.05
    while True:
        try:
            return await _adopt(context, effect, lookup)
        except (DeferError, ReauthorizeError):
            raise
        except CancelError as exc:
            raise _parked(effect, lookup, f"the lookup was refused ({exc})") from exc
        except LookupIncompleteError as exc:
            raise _parked(effect, lookup, str(exc)) from exc
        except _Ambiguous:
            why = (
                "a matching object was found while another event's identical create was in"
                " flight, so it may be that one's"
            )
        except Exception as exc:
            if isinstance(exc, RetryError) and exc.outage:
                raise
            why = f"the lookup kept failing ({type(exc).__name__}: {exc})"
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _parked(effect, lookup, f"{why}, for {policy.budget:g} s")
        context.log.debug("looking again for what an earlier attempt made", why=why)
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, policy.max_delay)


async def _adopt(context: Context, effect: Effect, lookup: Lookup[T]) -> T | None:
    candidates = await lookup.find()
    if not candidates:
        if effect.sent_by_another:  # its object may not be listed yet
            raise _Ambiguous
        return None
    # One adoption at a time per component: two uncertain effects with the same input must
    # not both adopt the object only one of them made.
    async with effect.adoption:
        claimed = await effect.claimed([_id(c) for c in candidates])
        free = [c for c in candidates if _id(c) not in claimed]
        if not free:
            # Another delivery of this very message may have made and recorded one of them.
            if await effect.completed_elsewhere():
                mine = [c for c in candidates if _id(c) == effect.ref]
                return mine[0] if mine else candidates[0]
            return None
        if effect.twin_in_flight:
            raise _Ambiguous
        # Newest first: an identical object made a little before the first attempt is older.
        found = max(free, key=lambda c: str(getattr(c, "created_at", None) or ""))
        ref = _id(found) or None
        await effect.complete(found.model_dump(mode="json", exclude_none=True), ref=ref)
    context.log.info(_ADOPTED, object_id=ref)
    return found


def _id(item: Any) -> str:
    return str(getattr(item, "id", "") or "")


def _parked(effect: Effect, lookup: Lookup[Any], why: str) -> UncertainEffectError:
    first = effect.first_sent_at
    since = (
        "at an unknown time"
        if first is None
        else datetime.fromtimestamp(first, UTC).isoformat(timespec="seconds")
    )
    return UncertainEffectError(
        f"uncertain effect: an earlier attempt (first sent {since}) may have made this object"
        f" and {lookup.label} cannot tell: {why}. Look for it on {lookup.where}: if it is there,"
        " delete this dead letter (the steps after this one did not get it); if not, retry"
        " it (a retry looks for it again before creating)"
    )
