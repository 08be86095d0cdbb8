"""How the admin API shows a flow: its id, wanted status, state in the engine and why it paused."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.server.context import ServerContext


def flow_summary(ctx: ServerContext, flow_id: str, status: str) -> dict[str, Any]:
    summary = {"id": flow_id, "status": status, "state": ctx.engine.status(flow_id)}
    reason = ctx.engine.pause_reason(flow_id)
    if reason is not None:
        summary["reason"] = reason
    return summary
