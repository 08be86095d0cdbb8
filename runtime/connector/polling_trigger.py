"""PollingTrigger: a trigger that lists items on every tick and sends each new one once.

A subclass says what it lists (:meth:`PollingTrigger.listing`, an async iterator of items,
ideally newest first) and, when the listing depends on properties, what identifies it
(:meth:`~PollingTrigger.listing_key`). Each tick hands the listing to a
:class:`~runtime.connector.polling.Scan`; every new item is sent on ``out`` as its own event,
oldest first, and only then is the ledger saved. See :mod:`runtime.connector.polling` for why
that neither misses nor repeats an item.

Properties read here: ``emitExisting`` (send what the first tick finds instead of recording it
silently) and ``lookback`` (seconds of ``created_at`` behind the newest item within which a late
item is still sent; a day by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from runtime.component import Component
from runtime.connector.output import payload
from runtime.connector.polling import LedgerState, PollPolicy, Scan, epoch_seconds
from runtime.errors import ComponentError

if TYPE_CHECKING:
    from runtime.component import Context

STATE_KEY: Final = "ledger"
"""The key of the trigger's state (``context.state``) that holds its ledger."""
DEFAULT_LOOKBACK: Final = 86_400.0


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


class PollingTrigger(Component):
    """Base of polling triggers: subclasses give :meth:`listing`, the rest is done here."""

    page_size: ClassVar[int] = 100
    """The page length of the listing: paging stops early only after a whole page of this many
    items lay out of reach (the listing's own page length is best)."""
    full_listing_every: ClassVar[int] = 10
    """Every so many ticks (the first one included) the listing is read to its end even when it
    looks newest first, in case it only looked so."""

    def __init__(self) -> None:
        self._busy = asyncio.Lock()
        self._ticks = 0

    def listing(self, context: Context, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        """The items to watch, page by page (stopping early closes it: no page is wasted)."""
        raise NotImplementedError

    def listing_key(self, properties: Mapping[str, Any]) -> str:
        """What is listed; when it changes the saved ledger no longer applies (a new baseline
        is recorded). The default, the class's name, suits a listing without parameters."""
        return type(self).__name__

    def item_id(self, item: Any) -> str:
        """The item's id: its ``id`` (key of a dict, attribute of a model), as text."""
        value = _field(item, "id")
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise ComponentError(
                f"{type(self).__name__}: a listed item has no 'id' (text or a whole number);"
                " override item_id to read another field"
            )
        return str(value)

    def created_at(self, item: Any) -> float | None:
        """When the item was made, in Unix seconds: its ``created_at`` (ISO-8601 time or a
        number of seconds); None (the Unix epoch) when absent or unreadable."""
        return epoch_seconds(_field(item, "created_at"))

    def payload(self, item: Any) -> Any:
        """What is sent for the item: a pydantic model as JSON without empty fields, else the
        item itself."""
        return payload(item)

    async def tick(self, context: Context) -> None:
        # The engine never overlaps ticks; this keeps any other caller from doing so.
        if self._busy.locked():
            context.log.debug("tick skipped: the previous one is still running")
            return
        async with self._busy:
            await self._poll(context)

    async def _poll(self, context: Context) -> None:
        properties = context.properties
        key = self.listing_key(properties)
        # The version read fences the save: of two tickers of one trigger (two processes) only
        # one saves; the other's tick fails (StaleStateError), on the durable broker before
        # anything of it is sent.
        versioned = await context.state.get_versioned(STATE_KEY)
        saved, version = versioned.value, versioned.version
        if isinstance(saved, dict) and saved.get("listing") != key:
            context.log.info("the watched listing changed; recording a new baseline")
            saved = None
        state = LedgerState.from_json(saved)
        policy = PollPolicy(
            lookback=float(properties.get("lookback", DEFAULT_LOOKBACK)), page_size=self.page_size
        )
        scan: Scan[Any] = Scan(
            state,
            policy,
            emit_existing=bool(properties.get("emitExisting", False)),
            early_stop=self._ticks % self.full_listing_every != 0,
        )
        self._ticks += 1
        await self._scan(scan, self.listing(context, properties))
        fresh = scan.new_items()
        sent = 0
        try:
            for item in fresh:
                await context.send(self.payload(item))
                sent += 1
        except BaseException:
            # What was handed over is recorded; the rest comes again on the next tick.
            if sent:
                await _save(context, scan.state_after(sent), key, version)
            raise
        after = scan.state_after(sent)
        if after != state or saved is None:
            await _save(context, after, key, version)
        if not state.baseline_done:
            context.log.info("baseline recorded", known=len(after.ledger), sent=sent)

    async def _scan(self, scan: Scan[Any], items: AsyncIterator[Any]) -> None:
        try:
            async for item in items:
                if not scan.add(self.item_id(item), self.created_at(item), item):
                    break
        finally:
            aclose = getattr(items, "aclose", None)  # stop the pages we did not need
            if aclose is not None:
                await aclose()


async def _save(context: Context, state: LedgerState, key: str, version: int) -> None:
    value = {**state.to_json(), "listing": key}
    await context.state.set(STATE_KEY, value, expected_version=version)
