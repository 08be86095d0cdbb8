"""Pinterest API v5 as a connector: its service, its error table, its quota categories."""

from __future__ import annotations

from typing import Final

from components.pinterest.categories import category_of
from components.pinterest.errors import PINTEREST_ERRORS
from runtime.connector import Connector

DEFAULT_API_BASE: Final = "https://api.pinterest.com/v5"

PINTEREST: Final = Connector(
    service="acme:pinterest",
    label="Pinterest",
    errors=PINTEREST_ERRORS,
    category=category_of,
    default_api_base=DEFAULT_API_BASE,
)
