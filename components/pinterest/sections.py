"""Board section components: list, create, rename and delete the sections of a board.

CreateBoardSection makes a section once per event and input even when the message is delivered
again (:mod:`runtime.connector.idempotent`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any

from components.pinterest.base import ListComponent, client_for
from components.pinterest.lookups import section_lookup
from runtime.component import Component, Context
from runtime.connector.idempotent import create_once, reuse

if TYPE_CHECKING:
    from components.pinterest.client import PinterestClient


class ListBoardSections(ListComponent):
    """Sends the sections of board ``boardId`` as ``outputMode`` says."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        return client.list_board_sections(context.message["boardId"], limit=limit)


class CreateBoardSection(Component):
    """Adds section ``name`` to board ``boardId`` and sends it."""

    async def receive(self, context: Context) -> None:
        message, client = context.message, client_for(context)
        board_id, name = message["boardId"], message["name"]
        effect = await context.effects.begin(context.correlation_id, message)
        lookup = section_lookup(client, board_id, name)
        section = await reuse(context, effect, lookup)
        if section is None:
            create = partial(client.create_board_section, board_id, name)
            section = await create_once(context, effect, create, lookup)
        await context.send(section)


class UpdateBoardSection(Component):
    """Renames section ``sectionId`` of board ``boardId`` to ``name`` and sends it."""

    async def receive(self, context: Context) -> None:
        message = context.message
        section = await client_for(context).update_board_section(
            message["boardId"], message["sectionId"], message["name"]
        )
        await context.send(section.model_dump(mode="json", exclude_none=True))


class DeleteBoardSection(Component):
    """Deletes a section; sends ``{"deleted": true, "boardId": id, "sectionId": id}``."""

    async def receive(self, context: Context) -> None:
        board_id, section_id = context.message["boardId"], context.message["sectionId"]
        await client_for(context).delete_board_section(board_id, section_id)
        await context.send({"deleted": True, "boardId": board_id, "sectionId": section_id})
