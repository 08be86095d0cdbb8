"""Deployed flows and their webhook secrets, kept in a
:class:`~runtime.stores.contracts.ServerStore`.

A hook secret is shown once, when its flow is deployed; only its SHA-256 is kept (the secret is
32 random bytes, so a plain hash is enough to make the stored value useless to a reader).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runtime.stores.base import DeadLetterStore
from runtime.stores.contracts import ServerStore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.stores.contracts import FlowRow

RUNNING = "running"
STOPPED = "stopped"
PAUSED = "paused"
"""Paused by a person (``POST /api/flows/ID/pause``): events are taken, none is handled."""
AWAITING_ACCOUNT = "awaiting-account"
"""Paused because a process met a refused account: reconnecting it resumes the flow."""
PAUSED_STATES = (PAUSED, AWAITING_ACCOUNT)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A flow as deployed: its definition (the flow file's JSON) and whether it should run."""

    id: str
    definition: dict[str, Any]
    status: str
    updated_at: float


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class DeploymentBackend(ServerStore, DeadLetterStore, Protocol):
    """What :class:`Deployments` reads and writes: flows, hook secrets, dead letter counts."""


secret_digest = _hash
"""What is stored of a hook secret (its SHA-256, in hex)."""


class Deployments:
    """The server's deployed flows in ``store``."""

    def __init__(self, store: DeploymentBackend) -> None:
        self._store = store

    # -- flows -----------------------------------------------------------------------------

    async def save(
        self, flow_id: str, definition: dict[str, Any], hooks: Iterable[str]
    ) -> dict[str, str]:
        """Keep ``definition`` (a new flow is stopped; a redeployed one keeps its status).

        Returns the secrets of the webhook triggers that had none (new flow or new trigger):
        the only time they are seen. Triggers that stay keep their secret; removed ones lose it.
        """
        text = json.dumps(definition, separators=(",", ":"))
        # A secret for every trigger: the store keeps those of the triggers that had none.
        offered = {component_id: secrets.token_urlsafe(32) for component_id in set(hooks)}
        digests = {component_id: _hash(secret) for component_id, secret in offered.items()}
        created = await self._store.save_flow(flow_id, text, digests, status=STOPPED)
        return {component_id: offered[component_id] for component_id in sorted(created)}

    async def get(self, flow_id: str) -> Deployment | None:
        row = await self._store.get_flow(flow_id)
        return None if row is None else _deployment(row)

    async def all(self) -> list[Deployment]:
        """Every deployed flow, by id."""
        return [_deployment(row) for row in await self._store.list_flows()]

    async def statuses(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        """``(id, status)`` of at most ``limit`` flows by id, those after ``after``; their
        definitions are not read (a page of the listing stays cheap with many flows)."""
        return await self._store.flow_statuses(after, limit)

    async def set_status(self, flow_id: str, status: str) -> bool:
        """Record whether the flow should run (at the server's next start too)."""
        return await self._store.set_flow_status(flow_id, status)

    async def delete(self, flow_id: str) -> bool:
        """Forget the flow and its hook secrets; False if it was not deployed."""
        return await self._store.delete_flow(flow_id)

    # -- hooks -----------------------------------------------------------------------------

    async def hook_hash(self, flow_id: str, component_id: str) -> str | None:
        """The stored hash of the hook's secret; ``None`` when the flow has no such hook."""
        return await self._store.hook_secret_hash(flow_id, component_id)

    async def hook_exists(self, flow_id: str, component_id: str) -> bool:
        return await self._store.hook_secret_hash(flow_id, component_id) is not None

    async def check_hook_secret(self, flow_id: str, component_id: str, secret: str) -> bool:
        """Whether ``secret`` is the hook's secret (compared in constant time)."""
        stored = await self._store.hook_secret_hash(flow_id, component_id)
        return stored is not None and hmac.compare_digest(stored, _hash(secret))

    # -- dead letters ----------------------------------------------------------------------

    async def dead_letter_counts(self) -> list[tuple[str, str, int]]:
        """How many dead letters each (flow, component) has, for the metrics."""
        counts: Counter[tuple[str, str]] = Counter()
        for count in await self._store.count_dead_letters():
            counts[(count.flow_id, count.component_id)] += count.count
        return [(flow_id, component_id, n) for (flow_id, component_id), n in sorted(counts.items())]


def _deployment(row: FlowRow) -> Deployment:
    return Deployment(row.id, json.loads(row.definition_json), row.status, row.updated_at)
