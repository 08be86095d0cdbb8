"""MakeApiCall: any Pinterest API v5 operation, for what the other components do not cover."""

from __future__ import annotations

from components.pinterest.base import client_for
from runtime.component import Component, Context
from runtime.connector import InputError


class MakeApiCall(Component):
    """Calls ``method path`` (below /v5) with ``query`` and ``body``; sends the answer.

    The answer goes on ``out`` as ``{"status", "headers", "body"}``; an error answer is raised
    like in every other component (dead letters for 4xx, a retry for 408, 409, 429 and 5xx).
    """

    async def receive(self, context: Context) -> None:
        message = context.message
        method, path, body = message["method"], message["path"], message.get("body")
        if "//" in path or ".." in path.split("/"):
            raise InputError("path", "must be a plain path below /v5, without // or ..")
        if body is not None and method in ("GET", "DELETE"):
            raise InputError("body", f"a {method} request takes no body")
        response = await client_for(context).request(
            method, path, params=message.get("query"), json=body
        )
        await context.send(
            {"status": response.status, "headers": response.headers, "body": response.body}
        )
