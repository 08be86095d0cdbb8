"""What the Pinterest components share: a client for the context.

List and search components build on :class:`runtime.connector.ListComponent` (their output
modes are :mod:`runtime.connector.output`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from components.pinterest.client import DEFAULT_API_BASE, PinterestClient
from runtime.errors import CancelError

if TYPE_CHECKING:
    from runtime.component import Context

API_BASE_VARIABLE: Final = "PINTEREST_API_BASE"


def api_base_for(
    settings: Mapping[str, str] | None, environ: Mapping[str, str] | None = None
) -> str:
    """The API base: the account's ``apiBase`` setting, else ``$PINTEREST_API_BASE``, else
    the production API; without a trailing slash."""
    env = os.environ if environ is None else environ
    base = (settings or {}).get("apiBase") or env.get(API_BASE_VARIABLE) or DEFAULT_API_BASE
    return str(base).rstrip("/")


def client_for(context: Context) -> PinterestClient:
    """A client for the account the component's flow uses (``context.auth``), held to the
    engine's quotas and circuits (``context.quotas``, ``context.circuits``)."""
    auth = context.auth
    if auth is None:
        raise CancelError(
            "this Pinterest component has no account: the flow must be started with "
            "credentials for the service acme:pinterest"
        )
    return PinterestClient(
        context.http,
        auth,
        api_base=api_base_for(getattr(auth, "settings", None)),
        telemetry=context.telemetry,
        quotas=context.quotas,
        circuits=context.circuits,
    )
