"""Board components: create, read, update, delete, list and search boards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from components.pinterest.base import ListComponent, client_for
from runtime.component import Component, Context

if TYPE_CHECKING:
    from components.pinterest.client import PinterestClient


class CreateBoard(Component):
    """Creates a board from ``{name, description?, privacy?}`` and sends it."""

    async def receive(self, context: Context) -> None:
        message = context.message
        board = await client_for(context).create_board(
            name=message["name"],
            description=message.get("description"),
            privacy=message.get("privacy", "PUBLIC"),
        )
        await context.send(board.model_dump(mode="json", exclude_none=True))


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
