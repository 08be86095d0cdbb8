"""GetUserAccount: the account of the connected user."""

from __future__ import annotations

from components.pinterest.base import client_for
from runtime.component import Component, Context


class GetUserAccount(Component):
    """Sends the connected user's account (``GET /user_account``) for each message."""

    async def receive(self, context: Context) -> None:
        account = await client_for(context).get_user_account()
        await context.send(account.model_dump(mode="json", exclude_none=True))
