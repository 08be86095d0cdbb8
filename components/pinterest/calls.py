"""One call to Pinterest: its quota, its token, and what a 401 or a 429 makes of it.

Every call carries ``Authorization: Bearer <token>`` from the credentials; a 401 makes the
caller report the token as rejected (the credentials refresh it or raise
:class:`~runtime.errors.ReauthorizeError`) and send once more, except when the 401 says the token
lacks a scope (a refresh cannot add one).

Given :class:`~runtime.quota.Quotas`, every request first goes through the gate of its rate-limit
category (:mod:`components.pinterest.categories`) for the account and app of the credentials,
and every answer's ``X-RateLimit-*`` headers are fed back to that gate. A 429 closes the gate to
every caller for ``Retry-After`` (or until ``X-RateLimit-Reset``), and the request is tried
again, at most :data:`RATE_LIMITED_TRIES` times in all; when the service asks for a wait longer
than the gate's ``maxWait``, the :class:`~components.pinterest.errors.RateLimitedError` is raised
at once, so the engine delivers the message again after that wait.

Given :class:`~runtime.circuit.Circuits`, every call first goes through the circuit of the
account (:mod:`runtime.circuit`): while it is open nothing is sent and
:class:`~runtime.errors.ServiceUnavailableError` is raised. No answer (:class:`TransportError`)
and a 5xx (:class:`ServerError`) count as the service's failures; a failure after which the
circuit is open keeps its class (it may still have taken effect) but is marked ``outage``, with
the wait until the next probe as its ``delay``, so that it uses no attempt. Any other answer,
4xx and 429 included, shows that Pinterest answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from components.pinterest.categories import category_of
from components.pinterest.errors import (
    PinterestError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
)
from components.pinterest.transport import SERVICE
from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from components.pinterest.models import RateLimit
    from components.pinterest.transport import ApiResponse, Transport
    from runtime.circuit import Circuit, Circuits
    from runtime.credentials import Credentials
    from runtime.quota import QuotaGate, Quotas
    from runtime.telemetry import Telemetry

RATE_LIMITED_TRIES: Final = 3
"""How many times one request is sent when Pinterest keeps answering 429."""
UNHINTED_429_WAIT: Final = 5.0
"""Seconds to hold a key after a 429 that says neither ``Retry-After`` nor a reset."""


class Calls:
    """Sends the calls of one client: one account's credentials, the process's quotas and
    circuits."""

    def __init__(
        self,
        transport: Transport,
        credentials: Credentials,
        logger: FilteringBoundLogger,
        *,
        quotas: Quotas | None = None,
        telemetry: Telemetry = NO_TELEMETRY,
        circuits: Circuits | None = None,
    ) -> None:
        self._transport = transport
        self._credentials = credentials
        self._log = logger
        self._quotas = quotas
        self._telemetry = telemetry
        self._circuit: Circuit | None = (
            None if circuits is None else circuits.circuit(SERVICE, credentials.account)
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
    ) -> ApiResponse:
        """Send ``method url`` (``path`` is its part below the API base: it picks the quota)."""
        circuit = self._circuit
        if circuit is None:
            return await self._limited(method, url, path, params, json, data)
        probe = circuit.admit()  # ServiceUnavailableError while the circuit is open
        try:
            response = await self._limited(method, url, path, params, json, data)
        except (TransportError, ServerError) as exc:
            if circuit.failed(probe, str(exc)):
                exc.outage, exc.delay = True, circuit.wait()
            raise
        except PinterestError as exc:
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

    async def _limited(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
    ) -> ApiResponse:
        """Send within the quota: wait for it, and after a 429 wait and send again."""
        if self._quotas is None:
            return await self._authorized(method, url, params, json, data, None)
        credentials = self._credentials
        app = str(credentials.settings.get("clientId") or "")
        gate = self._quotas.gate(
            SERVICE, category_of(method, path), app=app, account=credentials.account
        )
        for tries_left in range(RATE_LIMITED_TRIES - 1, -1, -1):
            waited = await gate.acquire()
            if waited:
                self._telemetry.rate_limit_wait(SERVICE, waited)
                self._log.debug(
                    "pinterest quota wait", path=path, category=gate.resource, waited=waited
                )
            try:
                return await self._authorized(method, url, params, json, data, gate)
            except RateLimitedError as exc:
                if exc.wait is None:  # no Retry-After nor reset: still hold everyone back
                    exc.wait = exc.delay = UNHINTED_429_WAIT
                gate.hold(exc.wait)
                if tries_left == 0 or exc.wait > gate.max_wait:
                    raise
                self._log.info(
                    "pinterest rate limited: waiting before trying again",
                    method=method,
                    path=path,
                    category=gate.resource,
                    wait=exc.wait,
                )
            finally:
                gate.release()
        raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover

    async def _authorized(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
        gate: QuotaGate | None,
    ) -> ApiResponse:
        """Send with the account's token; after a 401, once more with a refreshed one."""
        observe = None if gate is None else _observer(gate)
        token = await self._credentials.access_token()
        try:
            return await self._transport.send(
                method, url, token=token, params=params, json=json, data=data, on_rate_limit=observe
            )
        except UnauthorizedError as exc:
            if exc.scopes_missing:  # a refreshed token has the same scopes
                raise
            await self._credentials.token_rejected(token)  # refreshes, or raises ReauthorizeError
        token = await self._credentials.access_token()
        return await self._transport.send(
            method, url, token=token, params=params, json=json, data=data, on_rate_limit=observe
        )


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
