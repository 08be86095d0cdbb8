"""Polling triggers: new Pins on a board, new Pins of the account, new boards.

Each tick lists the items (newest first, as Pinterest usually answers, though nothing promises
it) and hands the listing to a :class:`~components.pinterest.polling.Scan`; every new item is
sent on ``out`` as its own event, oldest first, and only then is the ledger saved. See
:mod:`components.pinterest.polling` for why that neither misses nor repeats an item.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from components.pinterest.base import client_for
from components.pinterest.limits import PAGE_SIZE_MAX
from components.pinterest.polling import LedgerState, PollPolicy, Scan, epoch_seconds
from runtime.component import Component

if TYPE_CHECKING:
    from components.pinterest.client import PinterestClient
    from runtime.component import Context

STATE_KEY: Final = "ledger"
DEFAULT_LOOKBACK: Final = 86_400.0
FULL_LISTING_EVERY: Final = 10
"""Every so many ticks (the first one included) the listing is read to its end even when it
looks newest first, in case it only looked so."""


class Listed(Protocol):
    """What a trigger lists: a Pin or a Board model."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> str | None: ...

    def model_dump(self, *, mode: str, exclude_none: bool) -> dict[str, Any]: ...


class PollingTrigger(Component):
    """Base of the triggers: subclasses say what they list (:meth:`listing`)."""

    def __init__(self) -> None:
        self._busy = asyncio.Lock()
        self._ticks = 0

    def listing(self, client: PinterestClient, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        """The items to watch, as the client pages through them."""
        raise NotImplementedError

    def listing_key(self, properties: Mapping[str, Any]) -> str:
        """What is listed; when it changes the saved ledger no longer applies."""
        return type(self).__name__

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
        saved = await context.state.get(STATE_KEY)
        if isinstance(saved, dict) and saved.get("listing") != key:
            context.log.info("the watched listing changed; recording a new baseline")
            saved = None
        state = LedgerState.from_json(saved)
        policy = PollPolicy(
            lookback=float(properties.get("lookback", DEFAULT_LOOKBACK)), page_size=PAGE_SIZE_MAX
        )
        scan: Scan[Listed] = Scan(
            state,
            policy,
            emit_existing=bool(properties.get("emitExisting", False)),
            early_stop=self._ticks % FULL_LISTING_EVERY != 0,
        )
        self._ticks += 1
        items = self.listing(client_for(context), properties)
        try:
            async for item in items:
                if not scan.add(item.id, epoch_seconds(item.created_at), item):
                    break
        finally:
            aclose = getattr(items, "aclose", None)  # stop the pages we did not need
            if aclose is not None:
                await aclose()
        fresh = scan.new_items()
        sent = 0
        try:
            for item in fresh:
                await context.send(item.model_dump(mode="json", exclude_none=True))
                sent += 1
        except BaseException:
            # What was handed over is recorded; the rest comes again on the next tick.
            if sent:
                await _save(context, scan.state_after(sent), key)
            raise
        after = scan.state_after(sent)
        if after != state or saved is None:
            await _save(context, after, key)
        if not state.baseline_done:
            context.log.info("baseline recorded", known=len(after.ledger), sent=sent)


async def _save(context: Context, state: LedgerState, key: str) -> None:
    await context.state.set(STATE_KEY, {**state.to_json(), "listing": key})


class NewPinOnBoard(PollingTrigger):
    """Sends each Pin new on board ``boardId`` (or its section ``sectionId``), oldest first."""

    def listing(self, client: PinterestClient, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        return client.list_board_pins(
            properties["boardId"],
            section_id=properties.get("sectionId"),
            creative_types=properties.get("creativeTypes"),
        )

    def listing_key(self, properties: Mapping[str, Any]) -> str:
        types = sorted(properties.get("creativeTypes") or [])
        return json.dumps(
            ["board", properties["boardId"], properties.get("sectionId"), types],
            separators=(",", ":"),
        )


class NewPin(PollingTrigger):
    """Sends each new Pin of the account, on any board, oldest first."""

    def listing(self, client: PinterestClient, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        return client.list_pins()


class NewBoard(PollingTrigger):
    """Sends each new board of the account (group boards it joins included), oldest first."""

    def listing(self, client: PinterestClient, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        return client.list_boards()
