"""What runs the flows of ``flowmixer serve`` and ``flowmixer worker``, made and closed on the
engine's loop; and the checks of a scale-out's processes (roles ``api`` and ``worker``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import aiohttp

from runtime.cli.broker_option import make_broker
from runtime.engine import QUEUE_SIZE
from runtime.errors import ConfigurationError
from runtime.quota import quota_state
from runtime.server.assemble import assemble
from runtime.server.intake import HookIntake

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.auth.secretbox import SecretBox
    from runtime.brokers.base import Broker
    from runtime.quota import QuotaState
    from runtime.registry import Registry
    from runtime.server.context import ServerContext
    from runtime.server.notices import ControlNotices
    from runtime.server.reconcile import Reconciler
    from runtime.settings import Settings
    from runtime.stores.contracts import DataStore

ROLES: Final = ("all", "api", "worker")


def check_scale_out(settings: Settings, option: str) -> None:
    """Refuse ``option`` (``serve --no-workers``, ``worker``) without both a Redis server and
    a PostgreSQL database: the processes of a scale-out share nothing else."""
    if settings.redis_url is None:
        raise ConfigurationError(
            f"{option} needs a Redis server: give --redis redis://HOST:PORT/DB"
            " (or FLOWMIXER_REDIS_URL)"
        )
    if settings.database.kind != "postgres":
        raise ConfigurationError(
            f"{option} needs a PostgreSQL database shared by every process: give --database"
            " postgresql://USER:PASSWORD@HOST:PORT/NAME (or FLOWMIXER_DATABASE_URL)"
        )


@dataclass(frozen=True)
class PartsOptions:
    """How to make the engine's parts."""

    role: str = "all"
    broker_kind: str = "sqlite"
    token: str | None = None
    url: str = ""
    queue_size: int = QUEUE_SIZE
    intake: HookIntake | None = None


class EngineParts:
    """The components' HTTP session, the broker, the quotas (shared on Redis with
    ``--redis``) and the engine; for the roles ``api`` and ``worker`` also the control channel
    and the reconciler (:mod:`runtime.server.reconcile`)."""

    def __init__(
        self,
        store: DataStore,
        registry: Registry,
        box: SecretBox,
        settings: Settings,
        options: PartsOptions,
        logger: FilteringBoundLogger,
    ) -> None:
        self._args = (store, registry, box)
        self._settings = settings
        self._options = options
        self._logger = logger
        self._quota_state: QuotaState | None = None
        self._session: aiohttp.ClientSession | None = None
        self._broker: Broker | None = None
        self._notices: ControlNotices | None = None
        self._reconciler: Reconciler | None = None

    async def open(self) -> ServerContext:
        store, registry, box = self._args
        options, settings = self._options, self._settings
        redis_url = settings.redis_url
        self._session = aiohttp.ClientSession()
        self._broker = make_broker(
            options.broker_kind, store, redis_url, redis_visibility=settings.redis_visibility
        )
        self._quota_state = quota_state(redis_url)
        ctx = await assemble(
            store,
            registry,
            box,
            self._session,
            admin_token=options.token,
            public_url=options.url,
            logger=self._logger,
            broker=self._broker,
            queue_size=options.queue_size,
            intake=options.intake,
            quota_state=self._quota_state,
            workers=options.role != "api",
        )
        ctx.max_components = settings.max_components
        ctx.role = options.role
        if redis_url is not None:
            from runtime.server.notices import ControlNotices

            self._notices = ctx.notices = ControlNotices(redis_url, logger=self._logger)
            ctx.metrics.label(role=options.role, process=ctx.engine.owner)
        if self._notices is not None and options.role != "all":
            from runtime.server.reconcile import Reconciler

            self._reconciler = ctx.reconciler = Reconciler(ctx, self._notices)
            ctx.engine.on_pause = self._reconciler.paused
            self._reconciler.start()
        return ctx

    async def quiet(self) -> None:
        """Stop reconciling (before the engine stops its flows)."""
        if self._reconciler is not None:
            await self._reconciler.close()

    async def close(self) -> None:
        try:
            await self.quiet()
            if self._notices is not None:
                await self._notices.aclose()
            if self._broker is not None:
                await self._broker.close()
        finally:
            try:
                if self._quota_state is not None:
                    await self._quota_state.aclose()
            finally:
                if self._session is not None:
                    await self._session.close()
