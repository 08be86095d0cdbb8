"""What the Pinterest components share: a client for the context, and sending list results.

List and search components have an ``outputMode`` property:

- ``first``: the first item as one message on ``out`` (no further page is fetched);
- ``array``: one message ``{"items": [...], "count": n}`` on ``out``;
- ``each``: one message per item on ``out``.

With no items at all, every mode sends one message ``{"count": 0, "input": <input>}`` on
``notFound`` and nothing on ``out``, so an empty result is an outcome a flow can wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel

from components.pinterest.client import PinterestClient
from components.pinterest.connector import PINTEREST
from components.pinterest.limits import check_limit
from runtime.component import Component
from runtime.connector import InputError
from runtime.connector import client_for as service_client_for

if TYPE_CHECKING:
    from runtime.component import Context

OUTPUT_MODES: Final = ("first", "array", "each")


def client_for(context: Context) -> PinterestClient:
    """A client for the account the component's flow uses, held to the engine's quotas and
    circuits (see :func:`runtime.connector.client_for`)."""
    return PinterestClient(service_client_for(context, PINTEREST))


def fetch_limit(mode: str, limit: int) -> int:
    """How many items to ask the client for: one is enough for ``first``."""
    return 1 if mode == "first" else limit


def _payload(item: Any) -> Any:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_none=True)
    return item


async def send_items(
    context: Context, items: AsyncIterator[Any], *, mode: str, limit: int, input: Any
) -> int:
    """Send up to ``limit`` of ``items`` as ``mode`` says; return how many items were sent.

    Every item is read before the first is sent: when paging fails half-way, the message is
    retried without having sent anything twice. The iterator is closed before returning, so no
    page is fetched beyond what was used; ask the client for :func:`fetch_limit` items so that
    ``first`` fetches a one-item page.
    """
    if mode not in OUTPUT_MODES:
        raise InputError("outputMode", f"{mode!r} is not one of {', '.join(OUTPUT_MODES)}")
    check_limit(limit, required=True)
    wanted = fetch_limit(mode, limit)
    collected: list[Any] = []
    try:
        async for item in items:
            collected.append(_payload(item))
            if len(collected) >= wanted:
                break
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
    if not collected:
        await context.send({"count": 0, "input": input}, "notFound")
    elif mode == "array":
        await context.send({"items": collected, "count": len(collected)}, "out")
    else:
        for payload in collected:
            await context.send(payload, "out")
    return len(collected)


class ListComponent(Component):
    """A list or search component: a subclass says what to list (:meth:`items`); the
    ``outputMode`` and ``limit`` properties and the ``notFound`` port are handled here."""

    def items(self, client: PinterestClient, context: Context, limit: int) -> AsyncIterator[Any]:
        """The items to send, asking the API for at most ``limit`` of them."""
        raise NotImplementedError

    async def receive(self, context: Context) -> None:
        mode, limit = context.properties["outputMode"], context.properties["limit"]
        found = self.items(client_for(context), context, fetch_limit(mode, limit))
        await send_items(context, found, mode=mode, limit=limit, input=context.message)
