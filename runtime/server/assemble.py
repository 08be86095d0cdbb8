"""Putting the server's parts together: one place for ``flowmixer serve`` and its tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.auth.app_config import AppConfigStore
from runtime.auth.resolution import AccountCredentials
from runtime.auth.states import LoginStates
from runtime.auth.vault import TokenVault
from runtime.engine import QUEUE_SIZE, Engine
from runtime.quota import Quotas
from runtime.quota_rules import configured_rules
from runtime.server.auth_routes import OAuthLogins
from runtime.server.context import ServerContext
from runtime.server.deployments import Deployments
from runtime.server.intake import HookIntake
from runtime.server.metrics import Metrics

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import aiohttp
    from structlog.typing import FilteringBoundLogger

    from runtime.auth.secretbox import SecretBox
    from runtime.brokers.base import Broker
    from runtime.engine import Output
    from runtime.quota import QuotaState
    from runtime.registry import Registry
    from runtime.stores.contracts import DataStore


async def assemble(
    store: DataStore,
    registry: Registry,
    box: SecretBox,
    session: aiohttp.ClientSession,
    *,
    admin_token: str | None,
    public_url: str,
    logger: FilteringBoundLogger,
    environ: Mapping[str, str] | None = None,
    on_output: Callable[[Output], None] | None = None,
    broker: Broker | None = None,
    queue_size: int = QUEUE_SIZE,
    intake: HookIntake | None = None,
    quota_state: QuotaState | None = None,
    workers: bool = True,
) -> ServerContext:
    """The server's context: an engine whose flows get connected accounts (then environment
    tokens, from ``environ``, default ``os.environ``), the vault, the app configuration, and
    browser logins that make new accounts available to flows started afterwards. The engine's
    quotas are the service manifests' rules with the app configuration's ``quota`` overrides,
    read again whenever the app configuration changes; ``quota_state`` keeps their buckets
    (default: this process's memory; the caller's to close, after the engine).

    ``broker`` (default: in-memory) is the caller's to close, after the engine. ``queue_size``
    bounds each component's channel; ``intake`` says how long a webhook event waits for room
    and how long idempotency keys count (default :class:`HookIntake`'s). ``workers`` False
    makes the engine publish only (an API process of a scale-out)."""
    vault = TokenVault(store, box)
    app_config = AppConfigStore(store, box, registry.services(), environ)
    metrics = Metrics()
    credentials = await AccountCredentials.create(
        registry, app_config, vault, session, environ, telemetry=metrics
    )
    quotas = Quotas(await configured_rules(registry.services(), app_config), state=quota_state)
    engine = Engine(
        store,
        broker=broker,
        credentials=credentials,
        on_output=on_output,
        telemetry=metrics,
        quotas=quotas,
        queue_size=queue_size,
        workers=workers,
    )

    async def reload() -> None:
        await credentials.reload()
        for service, rules in (await configured_rules(registry.services(), app_config)).items():
            if rules != quotas.rules(service):
                quotas.configure(service, rules)

    metrics.observe(engine)
    return ServerContext(
        engine=engine,
        store=store,
        deployments=Deployments(store),
        registry=registry,
        metrics=metrics,
        admin_token=admin_token,
        public_url=public_url,
        logger=logger,
        vault=vault,
        app_config=app_config,
        logins=OAuthLogins(LoginStates(store), on_connected=credentials.reload),
        reload_credentials=reload,
        intake=intake or HookIntake(),
    )
