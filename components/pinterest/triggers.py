"""Polling triggers: new Pins on a board, new Pins of the account, new boards.

Each lists its items through the client, newest first as Pinterest usually answers (though
nothing promises it); :class:`runtime.connector.PollingTrigger` does the rest.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from components.pinterest.base import client_for
from components.pinterest.limits import PAGE_SIZE_MAX
from runtime.connector import PollingTrigger

if TYPE_CHECKING:
    from runtime.component import Context


class PinterestTrigger(PollingTrigger):
    """Pinterest lists pages of 250 items."""

    page_size = PAGE_SIZE_MAX


class NewPinOnBoard(PinterestTrigger):
    """Sends each Pin new on board ``boardId`` (or its section ``sectionId``), oldest first."""

    def listing(self, context: Context, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        return client_for(context).list_board_pins(
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


class NewPin(PinterestTrigger):
    """Sends each new Pin of the account, on any board, oldest first."""

    def listing(self, context: Context, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        return client_for(context).list_pins()


class NewBoard(PinterestTrigger):
    """Sends each new board of the account (group boards it joins included), oldest first."""

    def listing(self, context: Context, properties: Mapping[str, Any]) -> AsyncIterator[Any]:
        return client_for(context).list_boards()
