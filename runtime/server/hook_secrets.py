"""Webhook secrets checked in memory: each hook's stored hash is read once, not per request.

A push used to read the hook's row twice from the store (does the hook exist, is the secret
right): two thread round trips per event on the hot path. The hashes are kept here once
read; a deploy or delete of a flow forgets that flow's (its hooks may have changed), so one
server process per database, which the server already requires, keeps them exact. Unknown
hooks are not kept, so requests for made-up ids cannot grow the map.
"""

from __future__ import annotations

import hmac
import threading
from typing import TYPE_CHECKING

from runtime.server.deployments import secret_digest

if TYPE_CHECKING:
    from runtime.server.deployments import Deployments


class HookSecrets:
    """The SHA-256 of each webhook trigger's secret, by ``(flow, component)``, read lazily."""

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, str], str] = {}
        self._generation = 0
        # Pushes run on the front's loop, deploys and deletes on the engine's: two threads.
        self._lock = threading.Lock()

    async def stored_hash(
        self, deployments: Deployments, flow_id: str, component_id: str
    ) -> str | None:
        """The hook's stored hash (``None`` when the flow has no such hook)."""
        key = (flow_id, component_id)
        known = self._hashes.get(key)
        if known is not None:
            return known
        generation = self._generation
        stored = await deployments.hook_hash(flow_id, component_id)
        # A deploy or delete while the row was read may have changed it: keep nothing then.
        with self._lock:
            if stored is not None and generation == self._generation:
                self._hashes[key] = stored
        return stored

    @staticmethod
    def matches(stored: str, secret: str) -> bool:
        """Whether ``secret`` is the one ``stored`` is the hash of (in constant time)."""
        return hmac.compare_digest(stored, secret_digest(secret))

    def forget(self, flow_id: str) -> None:
        """Drop what is known of ``flow_id``'s hooks (it was deployed again or deleted)."""
        with self._lock:
            self._generation += 1
            for key in [k for k in self._hashes if k[0] == flow_id]:
                del self._hashes[key]
