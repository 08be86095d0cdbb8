"""What the Pinterest components share: a client for the context.

List and search components build on :class:`runtime.connector.ListComponent` (their output
modes are :mod:`runtime.connector.output`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.pinterest.client import PinterestClient
from components.pinterest.connector import PINTEREST
from runtime.connector import client_for as service_client_for

if TYPE_CHECKING:
    from runtime.component import Context


def client_for(context: Context) -> PinterestClient:
    """A client for the account the component's flow uses, held to the engine's quotas and
    circuits (see :func:`runtime.connector.client_for`)."""
    return PinterestClient(service_client_for(context, PINTEREST))
