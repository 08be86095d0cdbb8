"""The in-memory store's deployed flows and hook secret digests (see
:class:`~runtime.stores.contracts.ServerStore`); a mixin of
:class:`~runtime.stores.memory.MemoryStore`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from runtime.stores.contracts import FlowRow


class MemoryDeploymentRows:
    """The :class:`~runtime.stores.contracts.ServerStore` part of the in-memory store."""

    _check_open: Callable[[], None]

    def __init__(self) -> None:
        super().__init__()
        self._flows: dict[str, FlowRow] = {}
        self._hooks: dict[str, dict[str, str]] = {}  # flow id -> component id -> digest

    async def save_flow(
        self, flow_id: str, definition_json: str, hooks: Mapping[str, str], *, status: str
    ) -> set[str]:
        self._check_open()
        found = self._flows.get(flow_id)
        kept_status = status if found is None else found.status
        self._flows[flow_id] = FlowRow(flow_id, definition_json, kept_status, time.time())
        before = self._hooks.get(flow_id, {})
        created = {component_id for component_id in hooks if component_id not in before}
        self._hooks[flow_id] = {
            component_id: before.get(component_id, digest) for component_id, digest in hooks.items()
        }
        return created

    async def get_flow(self, flow_id: str) -> FlowRow | None:
        self._check_open()
        return self._flows.get(flow_id)

    async def list_flows(self) -> list[FlowRow]:
        self._check_open()
        return [self._flows[flow_id] for flow_id in sorted(self._flows)]

    async def flow_statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        self._check_open()
        ids = [flow_id for flow_id in sorted(self._flows) if after is None or flow_id > after]
        return [(flow_id, self._flows[flow_id].status) for flow_id in ids[:limit]]

    async def set_flow_status(self, flow_id: str, status: str) -> bool:
        self._check_open()
        found = self._flows.get(flow_id)
        if found is None:
            return False
        self._flows[flow_id] = replace(found, status=status, updated_at=time.time())
        return True

    async def delete_flow(self, flow_id: str) -> bool:
        self._check_open()
        self._hooks.pop(flow_id, None)
        return self._flows.pop(flow_id, None) is not None

    async def hook_secret_hash(self, flow_id: str, component_id: str) -> str | None:
        self._check_open()
        return self._hooks.get(flow_id, {}).get(component_id)
