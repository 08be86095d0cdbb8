"""A flow's wiring as Mermaid flowchart text."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.plan import FlowPlan


def _label(text: str) -> str:
    # Mermaid labels are quoted; a quote inside one is written as an HTML entity.
    return text.replace('"', "#quot;")


def to_mermaid(plan: FlowPlan) -> str:
    """``flowchart LR`` with one node per component and one edge per wire (ports as labels).

    Triggers are drawn as stadiums, other components as rectangles; an edge is labelled
    ``outPort → inPort`` unless both are the usual ``out`` and ``in``.
    """
    # Mermaid ids are positional (n0, n1...): component ids may hold '-', an arrow character.
    ids = {cid: f"n{i}" for i, cid in enumerate(plan.nodes)}
    lines = ["flowchart LR"]
    for node in plan.nodes.values():
        text = _label(f"{node.id}<br/><small>{node.type}</small>")
        shape = ('(["', '"])') if node.is_trigger else ('["', '"]')
        lines.append(f"    {ids[node.id]}{shape[0]}{text}{shape[1]}")
    for node in plan.nodes.values():
        for out_port, routes in node.routes.items():
            for route in routes:
                ports = (
                    ""
                    if (out_port, route.port) == ("out", "in")
                    else f'|"{_label(out_port)} → {_label(route.port)}"|'
                )
                lines.append(f"    {ids[node.id]} -->{ports} {ids[route.component_id]}")
    return "\n".join(lines) + "\n"
