"""Sending what a list or search component found, as its ``outputMode`` property says.

- ``first``: the first item as one message on ``out`` (no further page is fetched);
- ``array``: one message ``{"items": [...], "count": n}`` on ``out``;
- ``each``: one message per item on ``out``.

With no items at all, every mode sends one message ``{"count": 0, "input": <input>}`` on
``notFound`` and nothing on ``out``, so an empty result is an outcome a flow can wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from runtime.component import Component
from runtime.connector.errors import InputError
from runtime.connector.pagination import check_limit

if TYPE_CHECKING:
    from runtime.component import Context

OUTPUT_MODES: Final = ("first", "array", "each")


def check_output(mode: Any, limit: Any) -> None:
    """``mode`` is one of :data:`OUTPUT_MODES` and ``limit`` a whole number of at least 1."""
    if mode not in OUTPUT_MODES:
        raise InputError("outputMode", f"{mode!r} is not one of {', '.join(OUTPUT_MODES)}")
    check_limit(limit, required=True)


def fetch_limit(mode: str, limit: int) -> int:
    """How many items to list: one is enough for ``first``."""
    return 1 if mode == "first" else limit


def payload(item: Any) -> Any:
    """What is sent for one item: a pydantic model as JSON without its empty fields, anything
    else as it is."""
    dump = getattr(item, "model_dump", None)
    if dump is not None and not isinstance(item, type):
        return dump(mode="json", exclude_none=True)
    return item


async def send_items(
    context: Context, items: AsyncIterator[Any], *, mode: str, limit: int, input: Any
) -> int:
    """Send up to ``limit`` of ``items`` as ``mode`` says; return how many items were sent.

    Every item is read before the first is sent: when paging fails half-way, the message is
    retried without having sent anything twice. The iterator is closed before returning, so no
    page is fetched beyond what was used; list :func:`fetch_limit` items so that ``first``
    fetches a one-item page.
    """
    check_output(mode, limit)
    wanted = fetch_limit(mode, limit)
    collected: list[Any] = []
    try:
        async for item in items:
            collected.append(payload(item))
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
        for one in collected:
            await context.send(one, "out")
    return len(collected)


class ListComponent(Component):
    """A list or search component: a subclass says how to list (:meth:`items`); the
    ``outputMode`` and ``limit`` properties and the ``notFound`` port are handled here."""

    def items(self, context: Context, limit: int) -> AsyncIterator[Any]:
        """The items to send, listing at most ``limit`` of them (fewer pages for ``first``)."""
        raise NotImplementedError

    async def receive(self, context: Context) -> None:
        mode, limit = context.properties["outputMode"], context.properties["limit"]
        check_output(mode, limit)
        found = self.items(context, fetch_limit(mode, limit))
        await send_items(context, found, mode=mode, limit=limit, input=context.message)
