"""A connector's declaration and the client its components call a service with.

A connector declares itself once (:class:`Connector`: its service, the label its messages use,
its error table, its quota categories, its default API base); a component asks
:func:`client_for` for a :class:`ServiceClient` of its flow's account and calls
:meth:`ServiceClient.request`. The client applies the quota, the circuit and the token for it
(:mod:`.pipeline`) and raises the errors of the table (:mod:`.errors`).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import structlog

from runtime.connector.answers import DEFAULT_ERRORS, ErrorTable
from runtime.connector.errors import InputError
from runtime.connector.pagination import PaginationError, paginate
from runtime.connector.pipeline import HeaderAuth, Pipeline
from runtime.connector.response import ApiResponse
from runtime.connector.transport import Transport
from runtime.credentials import token_prefix
from runtime.errors import CancelError
from runtime.retry import DEFAULT_RATE_LIMIT_WAITS, RateLimitWaits
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.circuit import Circuits
    from runtime.component import Context
    from runtime.connector.pagination import Pages
    from runtime.credentials import Credentials
    from runtime.quota import Quotas
    from runtime.telemetry import Telemetry

__all__ = ["ApiResponse", "Connector", "ServiceClient", "api_base_for", "client_for"]


@dataclass(frozen=True)
class Connector:
    """What a connector declares: ``service`` (e.g. ``acme:widgets``), ``label`` (how
    messages name it: "Widgets answered HTTP 404, Widgets code 8: ..."), its error table,
    ``category`` (``(method, path) -> quota resource``; None: only "*" quota rules apply) and
    the API base used when neither the account nor the environment gives one."""

    service: str
    label: str
    errors: ErrorTable = DEFAULT_ERRORS
    category: Callable[[str, str], str] | None = None
    default_api_base: str | None = None

    @property
    def api_base_variable(self) -> str:
        """The environment variable of the API base: ``WIDGETS_API_BASE``."""
        return f"{token_prefix(self.service)}_API_BASE"


def api_base_for(
    connector: Connector,
    settings: Mapping[str, str] | None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The API base: the account's ``apiBase`` setting, else ``$<PREFIX>_API_BASE``, else the
    connector's default; without a trailing slash. Raises :class:`InputError` when none."""
    env = os.environ if environ is None else environ
    base = (
        (settings or {}).get("apiBase")
        or env.get(connector.api_base_variable)
        or connector.default_api_base
    )
    if not base:
        raise InputError(
            "apiBase",
            f"{connector.label} has no API base: set apiBase in the app configuration of"
            f" {connector.service} or {connector.api_base_variable}",
        )
    return str(base).rstrip("/")


class ServiceClient:
    """Calls one service for one account (``credentials``; None: calls carry no secret) over
    a shared session, held to the process's quotas and circuits when given."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        connector: Connector,
        credentials: Credentials | None = None,
        *,
        api_base: str,
        auth: HeaderAuth | None = None,
        timeout: float | None = None,
        logger: FilteringBoundLogger | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        quotas: Quotas | None = None,
        circuits: Circuits | None = None,
        waits: RateLimitWaits = DEFAULT_RATE_LIMIT_WAITS,
    ) -> None:
        self._connector = connector
        self.telemetry = telemetry
        """Where the client's calls are counted."""
        self._api_base = api_base.rstrip("/")
        log = logger or structlog.get_logger(__name__)
        self._transport = Transport(
            session,
            log,
            service=connector.service,
            label=connector.label,
            table=connector.errors,
            timeout=timeout,
            telemetry=telemetry,
        )
        self._pipeline = Pipeline(
            self._transport,
            credentials,
            log,
            category=connector.category,
            auth=auth,
            quotas=quotas,
            circuits=circuits,
            telemetry=telemetry,
            waits=waits,
        )

    @property
    def connector(self) -> Connector:
        return self._connector

    @property
    def api_base(self) -> str:
        return self._api_base

    @property
    def transport(self) -> Transport:
        """The bare exchange: no quota, no circuit, no token (e.g. an upload to a signed URL)."""
        return self._transport

    def __repr__(self) -> str:
        return f"ServiceClient({self._connector.service!r}, api_base={self._api_base!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        expect_json: bool = True,
        allow_redirects: bool = True,
        max_bytes: int | None = None,
    ) -> ApiResponse:
        """Call ``method path`` (``path`` below the API base, e.g. ``/boards``, or an absolute
        ``http(s)://`` URL, whose path then picks the quota category).

        Raises a :class:`~.errors.ServiceError` for an answer of 400 or more or for no answer,
        and :class:`~runtime.quota.QuotaWaitError` when the quota would make it wait too long.
        ``data`` may be sent again (after a 401 or a 429), so give bytes, text or a dict, not a
        stream. ``allow_redirects`` false returns a 3xx as the answer (aiohttp drops only
        ``Authorization`` on a redirect to another host: a secret in another header must not
        follow one); a body longer than ``max_bytes`` raises
        :class:`~.errors.ResponseTooLargeError`.
        """
        if path.startswith(("http://", "https://")):
            url = path
            path = urlsplit(path).path
        else:
            url = self._api_base + path
        return await self._pipeline.call(
            method,
            url,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
            expect_json=expect_json,
            allow_redirects=allow_redirects,
            max_bytes=max_bytes,
        )

    def paginate(
        self,
        path: str,
        pages: Pages,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Every item of the listing at ``path``, page by page as ``pages`` declares (see
        :func:`~.pagination.paginate`: a page is fetched only when the previous one is used up).

        A next-page link is followed only to the API base's own scheme and host: a link
        elsewhere would carry the account's token there, so it raises
        :class:`~.pagination.PaginationError` instead.
        """
        current = self._api_base + path
        origin = urlsplit(self._api_base)[:2]

        async def fetch(link: str | None, query: dict[str, Any]) -> Any:
            nonlocal current
            if link is not None:
                target = urljoin(current, link)
                if urlsplit(target)[:2] != origin:
                    raise PaginationError(
                        f"{self._connector.label} sent a next-page link to another host"
                        f" ({urlsplit(target).netloc}); it was not followed"
                    )
                current = target
            return (await self.request("GET", current, params=query)).body

        return paginate(
            fetch,
            pages,
            params=params,
            page_size=page_size,
            limit=limit,
            label=self._connector.label,
        )


def client_for(context: Context, connector: Connector) -> ServiceClient:
    """A client for the account the component's flow uses (``context.auth``), held to the
    engine's quotas and circuits (``context.quotas``, ``context.circuits``).

    The same client serves every message of the account while its API base stays the same
    (a client holds no state of a call): building one per message showed on the hot path."""
    auth = context.auth
    if auth is None:
        raise CancelError(
            f"this {connector.label} component has no account: the flow must be started with"
            f" credentials for the service {connector.service}"
        )
    api_base = api_base_for(connector, getattr(auth, "settings", None))
    # Identities, held alive by the client the entry keeps, so they cannot be reused.
    key = (id(connector), api_base, id(context.http), id(context.quotas), id(context.circuits))
    try:
        clients = _CLIENTS.setdefault(auth, {})
    except TypeError:  # credentials that cannot be weakly referenced: one client per call
        clients = {}
    client = clients.get(key)
    if client is None or client.telemetry is not context.telemetry:
        client = clients[key] = ServiceClient(
            context.http,
            connector,
            auth,
            api_base=api_base,
            telemetry=context.telemetry,
            quotas=context.quotas,
            circuits=context.circuits,
        )
    return client


_CLIENTS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], ServiceClient]] = (
    weakref.WeakKeyDictionary()
)
