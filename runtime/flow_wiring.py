"""The wires of a flow as a graph: the cycles they form and what lies upstream of a component.

``Wires`` maps each component id to its ``source`` (in-port -> source component -> out-ports).
A wire may name a component that is not in the map (missing, or too broken to check).
"""

from __future__ import annotations

from collections import deque

Wires = dict[str, dict[str, dict[str, list[str]]]]


def cycles(wires: Wires) -> list[list[str]]:
    """One cycle per loop found by depth-first search, each starting at its smallest id."""
    edges = {cid: _targets(cid, wires) for cid in wires}
    state: dict[str, bool] = {}  # True while on the search path, False when finished
    found: dict[frozenset[str], list[str]] = {}
    for start in edges:
        if start in state:
            continue
        path, stack = [start], [iter(edges[start])]
        state[start] = True
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = False
                stack.pop()
            elif state.get(target) is True:
                loop = path[path.index(target) :]
                at = loop.index(min(loop))
                found.setdefault(frozenset(loop), loop[at:] + loop[:at])
            elif target not in state:
                state[target] = True
                path.append(target)
                stack.append(iter(edges[target]))
    return list(found.values())


def feeding_wires(cid: str, wires: Wires) -> set[tuple[str, str]] | None:
    """Every ``(component, out-port)`` with a path of wires to ``cid``; ``None`` when a wire on
    the way comes from a component not in ``wires``, as then nobody knows."""
    found: set[tuple[str, str]] = set()
    seen = {cid}
    queue = deque([cid])
    while queue:
        for feeds in wires[queue.popleft()].values():
            for source_id, ports in feeds.items():
                if source_id not in wires:
                    return None
                found.update((source_id, port) for port in ports)
                if source_id not in seen:
                    seen.add(source_id)
                    queue.append(source_id)
    return found


def _targets(cid: str, wires: Wires) -> list[str]:
    """The components ``cid`` feeds, in file order."""
    return [t for t, sources in wires.items() if any(cid in f for f in sources.values())]
