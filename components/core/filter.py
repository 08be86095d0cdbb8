"""Filter: routes each message to ``out`` or ``rejected`` by a condition on one field."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from components.core.conditions import MISSING, Condition, compile_condition, resolve
from runtime.component import Component

if TYPE_CHECKING:
    from runtime.component import Context

_SHOWN_TEXT = 80  # characters of a rejected text value that a debug line shows


class Filter(Component):
    """Messages that meet the condition go to ``out``, the others to ``rejected``, unchanged.

    The condition (see :mod:`components.core.conditions`) is compiled once, in ``start``. A
    rejected message is logged at ``debug`` (with the flow, component and correlation ids, the
    condition and the value it saw), so a message that "vanished" can be traced.
    """

    def __init__(self) -> None:
        self._condition: Condition | None = None
        self._value: Any = MISSING
        self._trace = False

    async def start(self, context: Context) -> None:
        props = context.properties
        self._value = props.get("value", MISSING)
        self._condition = compile_condition(
            props.get("field", ""),
            props.get("operator", ""),
            self._value,
            case_sensitive=props.get("caseSensitive", True),
        )
        # Decided once: binding a logger per rejected message costs when nobody reads debug.
        self._trace = context.log.is_enabled_for(logging.DEBUG)

    async def receive(self, context: Context) -> None:
        condition = self._condition
        assert condition is not None, "start() compiles the condition before any message"
        message = context.message
        if condition(message):
            await context.send(message, "out")
            return
        if self._trace:
            self._log_rejection(context, condition, message)
        await context.send(message, "rejected")

    def _log_rejection(self, context: Context, condition: Condition, message: Any) -> None:
        extra = {} if self._value is MISSING else {"value": self._value}
        context.log.debug(
            "message rejected",
            field=condition.field,
            operator=condition.operator,
            **extra,
            actual=_shown(resolve(message, condition.path)),
        )


def _shown(actual: Any) -> Any:
    """The rejected field's value as a debug line shows it: short, whole only when scalar."""
    if actual is MISSING:
        return "(missing)"
    if isinstance(actual, str) and len(actual) > _SHOWN_TEXT:
        return actual[:_SHOWN_TEXT] + "..."
    if isinstance(actual, list):
        return f"(an array of {len(actual)} items)"
    if isinstance(actual, dict):
        return "(an object)"
    return actual
