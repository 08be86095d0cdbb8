"""OnStart: a trigger that sends one message each time its flow starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.core.clock import utc_now
from runtime.component import Component

if TYPE_CHECKING:
    from runtime.component import Context


class OnStart(Component):
    """Sends ``{"startedAt", "flowId"}`` plus the ``payload`` property once per flow start.

    ``startedAt`` and ``flowId`` win over keys of the same name in ``payload``.
    """

    async def start(self, context: Context) -> None:
        payload = context.properties.get("payload") or {}
        await context.send({**payload, "startedAt": utc_now(), "flowId": context.flow_id})
