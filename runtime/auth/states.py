"""The ``state`` of OAuth logins: random, single-use, short-lived and bound to its login.

A login gets a fresh random ``state`` (256 bits) when it starts; the callback must bring it
back within :data:`STATE_LIFETIME` seconds, for the same service and redirect URI, from the
same login (a ``binding``: e.g. a browser cookie's value, or the CLI's own secret). The state
is deleted when it is presented, so it cannot be replayed whatever the outcome. Only SHA-256
digests of the state and binding are stored, in a
:class:`~runtime.stores.contracts.LoginStateStore`: it hands a state out at most once, even to
two processes presenting it together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from runtime.errors import FlowmixerError
from runtime.stores.contracts import LoginStateRow

if TYPE_CHECKING:
    from runtime.stores.contracts import LoginStateStore

STATE_LIFETIME: Final = 600.0


class LoginStateError(FlowmixerError):
    """A callback's ``state`` is unknown, used, expired or belongs to another login."""


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """What a login was started for, returned when its state is accepted."""

    service: str
    account: str | None
    redirect_uri: str
    scopes: tuple[str, ...]
    replace: bool = False
    """Whether the login may replace the tokens of an account already connected by that name."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class LoginStates:
    """Issue and check the states of logins, kept in ``store``."""

    def __init__(
        self,
        store: LoginStateStore,
        *,
        lifetime: float = STATE_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._lifetime = lifetime
        self._clock = clock

    async def issue(
        self,
        service: str,
        *,
        redirect_uri: str,
        binding: str,
        account: str | None = None,
        scopes: Sequence[str] = (),
        replace: bool = False,
    ) -> str:
        """A new state for a login of ``service`` bound to ``binding`` and ``redirect_uri``;
        ``replace`` is handed back with it, so the callback does what the start allowed."""
        if not binding:
            raise ValueError("a login state needs a binding to the login that started it")
        state = secrets.token_urlsafe(32)
        now = self._clock()
        row = LoginStateRow(
            state_hash=_digest(state),
            service=service,
            account=account,
            redirect_uri=redirect_uri,
            binding_hash=_digest(binding),
            options=json.dumps({"scopes": list(scopes), "replace": replace}),
            expires_at=now + self._lifetime,
        )
        await self._store.add_login_state(row, now=now)
        return state

    async def consume(
        self, state: str, *, service: str, redirect_uri: str, binding: str
    ) -> PendingLogin:
        """Accept ``state`` once: :class:`LoginStateError` unless it was issued for this
        service, redirect URI and binding less than the lifetime ago (it is gone either way)."""
        if not state:
            raise LoginStateError("the callback has no state; start the login again")
        row = await self._store.take_login_state(_digest(state))
        if row is None:
            raise LoginStateError(
                "the callback's state is unknown or was already used; start the login again"
            )
        if self._clock() >= row.expires_at:
            raise LoginStateError(
                f"the login took more than {self._lifetime / 60:g} minutes; start it again"
            )
        if (
            row.service != service
            or row.redirect_uri != redirect_uri
            or not hmac.compare_digest(row.binding_hash, _digest(binding))
        ):
            raise LoginStateError(
                "the callback's state belongs to another login; start the login again"
            )
        # The options: older states held the scopes alone (a JSON list).
        options = json.loads(row.options)
        if isinstance(options, list):
            options = {"scopes": options}
        return PendingLogin(
            service=service,
            account=row.account,
            redirect_uri=redirect_uri,
            scopes=tuple(options["scopes"]),
            replace=bool(options.get("replace", False)),
        )
