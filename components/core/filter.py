"""Filter: routes each message to ``out`` or ``rejected`` by a condition on one field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.core.conditions import MISSING, Condition, compile_condition
from runtime.component import Component

if TYPE_CHECKING:
    from runtime.component import Context


class Filter(Component):
    """Messages that meet the condition go to ``out``, the others to ``rejected``, unchanged.

    The condition (see :mod:`components.core.conditions`) is compiled once, in ``start``.
    """

    def __init__(self) -> None:
        self._condition: Condition | None = None

    async def start(self, context: Context) -> None:
        props = context.properties
        self._condition = compile_condition(
            props.get("field", ""),
            props.get("operator", ""),
            props.get("value", MISSING),
            case_sensitive=props.get("caseSensitive", True),
        )

    async def receive(self, context: Context) -> None:
        condition = self._condition
        assert condition is not None, "start() compiles the condition before any message"
        message = context.message
        await context.send(message, "out" if condition(message) else "rejected")
