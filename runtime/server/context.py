"""What every route of the server uses, kept on the aiohttp application under :data:`CONTEXT`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from runtime.server.hook_schema import HookSchemas
from runtime.server.hook_secrets import HookSecrets
from runtime.server.intake import HookIntake
from runtime.settings import DEFAULT_MAX_COMPONENTS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from structlog.typing import FilteringBoundLogger

    from runtime.auth.app_config import AppConfigStore
    from runtime.auth.vault import TokenVault
    from runtime.engine import Engine
    from runtime.registry import Registry
    from runtime.server.auth_routes import OAuthLogins
    from runtime.server.deployments import Deployments
    from runtime.server.metrics import Metrics
    from runtime.server.notices import ControlNotices
    from runtime.server.reconcile import Reconciler
    from runtime.stores.contracts import DataStore


@dataclass(slots=True)
class ServerContext:
    """The server's parts. ``admin_token`` ``None`` leaves the admin API answering 503.

    Without ``vault`` (``app_config``) the accounts (configuration) routes are left out; the
    browser login routes need ``logins`` as well.
    ``public_url`` is how clients reach this server (no trailing slash): hook URLs and OAuth
    redirect URIs are built from it; left empty, the server sets ``http://HOST:PORT`` once it
    listens.
    """

    engine: Engine
    store: DataStore
    deployments: Deployments
    registry: Registry
    metrics: Metrics
    admin_token: str | None
    public_url: str
    logger: FilteringBoundLogger
    vault: TokenVault | None = None
    app_config: AppConfigStore | None = None
    logins: OAuthLogins | None = None
    reload_credentials: Callable[[], Awaitable[None]] | None = None
    """Makes flows started afterwards see changed app configuration and accounts."""
    intake: HookIntake = field(default_factory=HookIntake)
    """How long a webhook event waits for room, and how long idempotency keys count."""
    max_components: int = DEFAULT_MAX_COMPONENTS
    """Components a deployed flow may have (``FLOWMIXER_MAX_COMPONENTS``)."""
    hook_schemas: HookSchemas = field(default_factory=HookSchemas)
    """The webhook triggers' event schemas, checked before an event is committed."""
    hook_secrets: HookSecrets = field(default_factory=HookSecrets)
    """The webhook triggers' secret hashes, read once (forgotten at a deploy or delete)."""

    role: str = "all"
    """``api`` (publishes only), ``worker`` (no HTTP API) or ``all`` (the single process)."""
    notices: ControlNotices | None = None
    """The control channel of a scale-out (``--redis``): changes are announced on it."""
    reconciler: Reconciler | None = None
    """Keeps the flows as the database wants them (the API and worker processes)."""

    async def credentials_changed(self) -> None:
        if self.reload_credentials is not None:
            await self.reload_credentials()

    def hook_url(self, flow_id: str, component_id: str) -> str:
        return f"{self.public_url}/hooks/{flow_id}/{component_id}"


CONTEXT: web.AppKey[ServerContext] = web.AppKey("flowmixer", ServerContext)
