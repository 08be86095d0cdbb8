"""Board components: create, read, update, delete, list and search boards."""

from __future__ import annotations

from components.pinterest.base import client_for, fetch_limit, send_items
from runtime.component import Component, Context


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


class ListBoards(Component):
    """Sends the account's boards (optionally of one ``privacy``) as ``outputMode`` says."""

    async def receive(self, context: Context) -> None:
        props = context.properties
        boards = client_for(context).list_boards(
            privacy=props.get("privacy"), limit=fetch_limit(props["outputMode"], props["limit"])
        )
        await send_items(
            context, boards, mode=props["outputMode"], limit=props["limit"], input=context.message
        )


class SearchBoards(Component):
    """Sends the account's boards matching ``query`` (all when absent), secret ones included."""

    async def receive(self, context: Context) -> None:
        props = context.properties
        boards = client_for(context).search_boards(
            context.message.get("query"), limit=fetch_limit(props["outputMode"], props["limit"])
        )
        await send_items(
            context, boards, mode=props["outputMode"], limit=props["limit"], input=context.message
        )
