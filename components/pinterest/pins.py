"""Pin components: read, change, delete, save, list and search Pins (CreatePin has its module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from components.pinterest.base import ListComponent, client_for
from runtime.component import Component, Context
from runtime.connector import InputError

if TYPE_CHECKING:
    from components.pinterest.client import PinterestClient

PIN_FIELDS: Final[Mapping[str, str]] = {
    "boardId": "board_id",
    "boardSectionId": "board_section_id",
    "title": "title",
    "description": "description",
    "link": "link",
    "altText": "alt_text",
    "dominantColor": "dominant_color",
    "carouselSlots": "carousel_slots",
}
"""Input field -> field of Pinterest's PinCreate/PinUpdate body."""


def pin_body(message: Mapping[str, Any], *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The API body of the Pin fields ``message`` gives (``skip`` names inputs to leave out)."""
    return {
        api: message[name]
        for name, api in PIN_FIELDS.items()
        if name not in skip and message.get(name) is not None
    }


class GetPin(Component):
    """Sends the Pin ``pinId``."""

    async def receive(self, context: Context) -> None:
        pin = await client_for(context).get_pin(context.message["pinId"])
        await context.send(pin.model_dump(mode="json", exclude_none=True))


class UpdatePin(Component):
    """Changes the given fields of Pin ``pinId`` (text, link, board, section, carousel slots)."""

    async def receive(self, context: Context) -> None:
        body = pin_body(context.message, skip=("dominantColor",))
        if not body:
            changeable = ", ".join(name for name in PIN_FIELDS if name != "dominantColor")
            raise InputError("pin", f"nothing to change: give one of {changeable}")
        pin = await client_for(context).update_pin(context.message["pinId"], body)
        await context.send(pin.model_dump(mode="json", exclude_none=True))


class DeletePin(Component):
    """Deletes Pin ``pinId`` and sends ``{"deleted": true, "pinId": id}``."""

    async def receive(self, context: Context) -> None:
        pin_id = context.message["pinId"]
        await client_for(context).delete_pin(pin_id)
        await context.send({"deleted": True, "pinId": pin_id})


class SavePin(Component):
    """Saves Pin ``pinId`` to ``boardId`` (and ``boardSectionId``) and sends the new Pin."""

    async def receive(self, context: Context) -> None:
        message = context.message
        pin = await client_for(context).save_pin(
            message["pinId"],
            board_id=message.get("boardId"),
            board_section_id=message.get("boardSectionId"),
        )
        await context.send(pin.model_dump(mode="json", exclude_none=True))


class ListPins(ListComponent):
    """Sends the Pins the account owns (filtered by the properties) as ``outputMode`` says."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        return client.list_pins(
            creative_types=context.properties.get("creativeTypes"),
            pin_filter=context.properties.get("pinFilter"),
            limit=limit,
        )


class ListBoardPins(ListComponent):
    """Sends the Pins of board ``boardId``, or of its section ``sectionId``."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        return client.list_board_pins(
            context.message["boardId"],
            section_id=context.message.get("sectionId"),
            creative_types=context.properties.get("creativeTypes"),
            limit=limit,
        )


class SearchPins(ListComponent):
    """Sends the account's Pins matching ``query``, secret ones included."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        return client.search_pins(context.message["query"], limit=limit)
