"""Board components: create, read, update, delete, list and search boards.

CreateBoard makes a board once per event and input even when the message is delivered again
(:mod:`runtime.connector.idempotent`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from components.pinterest.base import ListComponent, client_for
from components.pinterest.lookups import board_lookup
from runtime.component import Component, Context
from runtime.connector.idempotent import create_once, reuse

if TYPE_CHECKING:
    from components.pinterest.client import PinterestClient


class CreateBoard(Component):
    """Creates a board from ``{name, description?, privacy?}`` and sends it."""

    async def receive(self, context: Context) -> None:
        message, client = context.message, client_for(context)
        name, description = message["name"], message.get("description")
        privacy = message.get("privacy") or "PUBLIC"
        effect = await context.effects.begin(context.correlation_id, message)
        lookup = board_lookup(client, effect, name, description, privacy)
        board = await reuse(context, effect, lookup)
        if board is None:
            board = await create_once(
                context,
                effect,
                lambda: client.create_board(name=name, description=description, privacy=privacy),
                lookup,
            )
        await context.send(board)


class GetBoard(Component):
    """Sends the board ``boardId``."""

    async def receive(self, context: Context) -> None:
        board = await client_for(context).get_board(context.message["boardId"])
        await context.send(board.model_dump(mode="json", exclude_none=True))


class UpdateBoard(Component):
    """Changes the given fields of board ``boardId``; privacy may become PUBLIC or SECRET."""

    async def receive(self, context: Context) -> None:
        message = context.message
        board = await client_for(context).update_board(
            message["boardId"],
            name=message.get("name"),
            description=message.get("description"),
            privacy=message.get("privacy"),
        )
        await context.send(board.model_dump(mode="json", exclude_none=True))


class DeleteBoard(Component):
    """Deletes board ``boardId`` and sends ``{"deleted": true, "boardId": id}``."""

    async def receive(self, context: Context) -> None:
        board_id = context.message["boardId"]
        await client_for(context).delete_board(board_id)
        await context.send({"deleted": True, "boardId": board_id})


class ListBoards(ListComponent):
    """Sends the account's boards (optionally of one ``privacy``) as ``outputMode`` says."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        return client.list_boards(privacy=context.properties.get("privacy"), limit=limit)


class SearchBoards(ListComponent):
    """Sends the account's boards matching ``query`` (all when absent), secret ones included."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        return client.search_boards(context.message.get("query"), limit=limit)
