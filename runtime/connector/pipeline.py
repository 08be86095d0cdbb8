"""One call: its circuit, its quota, its token, and what a 401 or a 429 makes of it.

A call goes through four steps, each optional but the last:

1. the **circuit** of the account (:mod:`runtime.circuit`): while it is open nothing is sent
   and :class:`~runtime.errors.ServiceUnavailableError` is raised. No answer
   (:class:`~.errors.TransportError`) and a 5xx (:class:`~.errors.ServerError`) count as the
   service's failures; a failure after which the circuit is open keeps its class (it may still
   have taken effect) but is marked ``outage``, with the wait until the next probe as its
   ``delay``, so that it uses no attempt. Any other answer, 4xx and 429 included, shows that
   the service answers.
2. the **quota gate** of the call's category (the connector's ``category(method, path)``; "*"
   rules only without one) for the account and app (``clientId``) of the credentials. Every
   answer's ``X-RateLimit-*`` headers are fed back to the gate. A 429 closes the gate to every
   caller for ``Retry-After`` (or until ``X-RateLimit-Reset``); whether the call then waits and
   sends again itself or raises :class:`~.errors.RateLimitedError` for the engine to wait is
   :class:`runtime.retry.RateLimitWaits`.
3. the **token**: ``<header>: <scheme> <credentials.access_token()>`` (``Authorization:
   Bearer`` unless the credentials or the client say otherwise). A 401 reports the token as
   rejected (the credentials refresh it or raise :class:`~runtime.errors.ReauthorizeError`)
   and sends once more, unless the error table says a refresh cannot help.
4. the **transport** (:mod:`.transport`): one exchange, counted in telemetry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.connector.errors import (
    RateLimitedError,
    ServerError,
    ServiceError,
    TransportError,
    UnauthorizedError,
)
from runtime.manifest import EVERY_CALL
from runtime.retry import DEFAULT_RATE_LIMIT_WAITS, RateLimitWaits
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from runtime.circuit import Circuit, Circuits
    from runtime.connector.rate_limit import RateLimit
    from runtime.connector.response import ApiResponse
    from runtime.connector.transport import Transport
    from runtime.credentials import Credentials
    from runtime.quota import QuotaGate, Quotas
    from runtime.telemetry import Telemetry


@dataclass(frozen=True, slots=True)
class HeaderAuth:
    """Where a call carries the credentials' secret: ``<name>: <scheme> <secret>`` (the
    secret alone when ``scheme`` is empty, e.g. ``X-Api-Key: <secret>``)."""

    name: str = "Authorization"
    scheme: str = "Bearer"

    @classmethod
    def of(cls, credentials: object) -> HeaderAuth:
        """The credentials' own ``header_name``/``scheme`` where they have them."""
        name = getattr(credentials, "header_name", None) or "Authorization"
        scheme = getattr(credentials, "scheme", None)
        return cls(name, "Bearer" if scheme is None else scheme)

    def headers(self, secret: str) -> dict[str, str]:
        return {self.name: f"{self.scheme} {secret}" if self.scheme else secret}


Categorize = Callable[[str, str], str]
"""``(method, path below the API base) -> quota resource``."""


class Pipeline:
    """Sends the calls of one client: one account's credentials (None: calls carry no
    secret), the process's quotas and circuits."""

    def __init__(
        self,
        transport: Transport,
        credentials: Credentials | None,
        logger: FilteringBoundLogger,
        *,
        category: Categorize | None = None,
        auth: HeaderAuth | None = None,
        quotas: Quotas | None = None,
        circuits: Circuits | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        waits: RateLimitWaits = DEFAULT_RATE_LIMIT_WAITS,
    ) -> None:
        self._transport = transport
        self._service = transport.service
        self._credentials = credentials
        self._log = logger
        self._category = category
        self._auth = auth or HeaderAuth.of(credentials)
        self._quotas = quotas
        self._telemetry = telemetry
        self._waits = waits
        account = None if credentials is None else credentials.account
        self._circuit: Circuit | None = (
            None if circuits is None else circuits.circuit(self._service, account)
        )

    async def call(
        self,
        method: str,
        url: str,
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
        """Send ``method url`` (``path`` is its part below the API base: it picks the quota)."""
        send = _Send(
            method, url, path, params, json, data, headers, expect_json, allow_redirects, max_bytes
        )
        circuit = self._circuit
        if circuit is None:
            return await self._limited(send)
        probe = circuit.admit()  # ServiceUnavailableError while the circuit is open
        try:
            response = await self._limited(send)
        except (TransportError, ServerError) as exc:
            if circuit.failed(probe, str(exc)):
                exc.outage, exc.delay = True, circuit.wait()
            raise
        except ServiceError as exc:
            if exc.status is None:  # refused by our own checks: nothing was sent
                circuit.abandon(probe)
            else:
                circuit.succeeded()
            raise
        except BaseException:  # no token, a quota wait, a cancellation: no verdict
            circuit.abandon(probe)
            raise
        if circuit.failures:  # a closed circuit with no failure has nothing to reset
            circuit.succeeded()
        return response

    async def _limited(self, send: _Send) -> ApiResponse:
        """Send within the quota: wait for it, and after a 429 maybe wait and send again."""
        if self._quotas is None:
            return await self._authorized(send, None)
        credentials = self._credentials
        app = "" if credentials is None else str(credentials.settings.get("clientId") or "")
        account = None if credentials is None else credentials.account
        resource = EVERY_CALL if self._category is None else self._category(send.method, send.path)
        gate = self._quotas.gate(self._service, resource, app=app, account=account)
        tried = 0
        while True:
            waited = await gate.acquire()
            if waited:
                self._telemetry.rate_limit_wait(self._service, waited)
                self._log.debug(
                    "quota wait",
                    service=self._service,
                    path=send.path,
                    category=gate.resource,
                    waited=waited,
                )
            tried += 1
            try:
                return await self._authorized(send, gate)
            except RateLimitedError as exc:
                exc.wait = exc.delay = self._waits.wait_of(exc.wait)
                gate.hold(exc.wait)  # everyone waits, not only this call
                if not self._waits.waits_inside(tried, exc.wait, gate.max_wait):
                    raise
                self._log.info(
                    "rate limited: waiting before trying again",
                    service=self._service,
                    method=send.method,
                    path=send.path,
                    category=gate.resource,
                    wait=exc.wait,
                )
            finally:
                gate.release()

    async def _authorized(self, send: _Send, gate: QuotaGate | None) -> ApiResponse:
        """Send with the account's token; after a 401, once more with a refreshed one."""
        observe = None if gate is None else _observer(gate)
        credentials = self._credentials
        if credentials is None:
            return await self._send(send, None, observe)
        token = await credentials.access_token()
        try:
            return await self._send(send, token, observe)
        except UnauthorizedError as exc:
            if not exc.refreshable:  # e.g. a missing scope: a refreshed token has the same
                raise
            await credentials.token_rejected(token)  # refreshes, or raises ReauthorizeError
        return await self._send(send, await credentials.access_token(), observe)

    async def _send(
        self, send: _Send, secret: str | None, observe: Callable[[RateLimit], None] | None
    ) -> ApiResponse:
        headers = dict(send.headers or {})
        if secret is not None:
            headers.update(self._auth.headers(secret))
        return await self._transport.send(
            send.method,
            send.url,
            headers=headers,
            secret=secret,
            params=send.params,
            json=send.json,
            data=send.data,
            expect_json=send.expect_json,
            allow_redirects=send.allow_redirects,
            max_bytes=send.max_bytes,
            on_rate_limit=observe,
        )


@dataclass(frozen=True, slots=True)
class _Send:
    """What one call sends (it may be sent again: after a 401 or a 429)."""

    method: str
    url: str
    path: str
    params: Mapping[str, Any] | None
    json: Any
    data: Any
    headers: Mapping[str, str] | None
    expect_json: bool
    allow_redirects: bool = True
    max_bytes: int | None = None


def _observer(gate: QuotaGate) -> Callable[[RateLimit], None]:
    """What feeds an answer's rate-limit headers back to ``gate``."""

    def observe(rate_limit: RateLimit) -> None:
        if rate_limit.remaining is not None or rate_limit.reset is not None:
            gate.observe(
                limit=rate_limit.limit,
                remaining=rate_limit.remaining,
                reset=rate_limit.reset_seconds(),
            )

    return observe
