"""The wires of a flow as a graph: the cycles they form and what lies upstream of a component.

``Wires`` maps each component id to its ``source`` (in-port -> source component -> out-ports).
A wire may name a component that is not in the map (missing, or too broken to check).
Everything here is linear in the number of wires, so that checking a flow of thousands of
components takes time in proportion to it (:class:`Upstream` adds one bitset per component
whose templates read beyond their direct sources).
"""

from __future__ import annotations

from collections.abc import Iterator

MAX_CYCLES = 100
"""Cycles reported at most: a flow with more is refused all the same."""

Wires = dict[str, dict[str, dict[str, list[str]]]]


def cycles(wires: Wires) -> list[list[str]]:
    """One cycle per loop found by depth-first search, each starting at its smallest id."""
    edges = _targets(wires)
    state: dict[str, bool] = {}  # True while on the search path, False when finished
    position: dict[str, int] = {}  # index on the search path
    found: dict[frozenset[str], list[str]] = {}
    for start in wires:
        if start in state:
            continue
        path, stack = [start], [iter(edges.get(start, ()))]
        state[start], position[start] = True, 0
        while stack and len(found) < MAX_CYCLES:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = False
                stack.pop()
            elif state.get(target) is True:
                loop = path[position[target] :]
                at = loop.index(min(loop))
                found.setdefault(frozenset(loop), loop[at:] + loop[:at])
            elif target not in state:
                state[target], position[target] = True, len(path)
                path.append(target)
                stack.append(iter(edges.get(target, ())))
    return list(found.values())


class Upstream:
    """Which ``(component, out-port)`` has a path of wires to a component, asked per template
    variable: a direct source answers at once; others read a bitset of the components upstream,
    computed once per component and only when asked."""

    def __init__(self, wires: Wires) -> None:
        self._wires = wires
        self._index = {cid: i for i, cid in enumerate(wires)}
        self._reach: dict[str, int | None] = {}
        # (source, out-port) -> the components that port feeds
        self._fed: dict[tuple[str, str], list[str]] = {}
        for target, sources in wires.items():
            for feeds in sources.values():
                for source_id, ports in feeds.items():
                    for port in ports:
                        self._fed.setdefault((source_id, port), []).append(target)

    def feeds(self, ref: str, port: str, cid: str) -> bool | None:
        """Whether out-port ``port`` of ``ref`` has a path of wires to ``cid``; ``None`` when
        nobody knows (a wire on the way comes from a broken component, or there is a cycle)."""
        if any(ref in feeds and port in feeds[ref] for feeds in self._wires[cid].values()):
            return True
        reach = self.reach(cid)
        if reach is None:
            return None
        index = self._index
        return any(t == cid or reach >> index[t] & 1 for t in self._fed.get((ref, port), ()))

    def components(self, cid: str) -> list[str]:
        """The components with a path of wires to ``cid``, in file order (for messages)."""
        reach = self.reach(cid) or 0
        return [c for c, i in self._index.items() if reach >> i & 1]

    def ports(self, ref: str, cid: str) -> list[str]:
        """The out-ports of ``ref`` with a path of wires to ``cid`` (for messages)."""
        reach, index = self.reach(cid) or 0, self._index
        return sorted(
            port
            for (source, port), targets in self._fed.items()
            if source == ref and any(t == cid or reach >> index[t] & 1 for t in targets)
        )

    def reach(self, cid: str) -> int | None:
        """A bitset (by file order) of the components upstream of ``cid``; ``None`` when a wire
        on the way comes from a component not in the wires, or goes round a cycle."""
        done, wires, index = self._reach, self._wires, self._index
        if cid in done:
            return done[cid]
        bits: dict[str, int | None] = {cid: 0}  # of the components on the search path
        stack = [(cid, self._sources(cid))]
        while stack:
            node, sources = stack[-1]
            source = next(sources, None)
            if source is None:
                stack.pop()
                found = done[node] = bits.pop(node)
                if stack:
                    parent = stack[-1][0]
                    before = bits[parent]
                    bits[parent] = (
                        None
                        if found is None or before is None
                        else before | found | 1 << index[node]
                    )
            elif bits[node] is None:
                continue  # unknown already: only finish the search
            elif source not in wires or source in bits:
                bits[node] = None
            elif source in done:
                found, before = done[source], bits[node]
                bits[node] = (
                    None if found is None or before is None else before | found | 1 << index[source]
                )
            else:
                bits[source] = 0
                stack.append((source, self._sources(source)))
        return done[cid]

    def _sources(self, cid: str) -> Iterator[str]:
        return iter(dict.fromkeys(s for feeds in self._wires[cid].values() for s in feeds))


def _targets(wires: Wires) -> dict[str, list[str]]:
    """The components each component feeds, in file order."""
    targets: dict[str, dict[str, None]] = {}
    for target, sources in wires.items():
        for feeds in sources.values():
            for source_id in feeds:
                targets.setdefault(source_id, {})[target] = None
    return {source: list(found) for source, found in targets.items()}
