"""What a connector is built from: listing, paging, output modes and polling triggers.

The public names of the connector SDK, in one sorted list (``tests/connector`` checks it).
"""

from __future__ import annotations

from runtime.connector.input_error import InputError
from runtime.connector.output import (
    OUTPUT_MODES,
    ListComponent,
    check_output,
    fetch_limit,
    send_items,
)
from runtime.connector.pagination import (
    CursorPages,
    FetchPage,
    NextLinkPages,
    Pages,
    PaginationError,
    check_limit,
    check_page_size,
    field_at,
    matching,
    paginate,
)
from runtime.connector.polling import LedgerState, PollPolicy, Scan, epoch_seconds
from runtime.connector.polling_trigger import PollingTrigger

__all__ = [
    "OUTPUT_MODES",
    "CursorPages",
    "FetchPage",
    "InputError",
    "LedgerState",
    "ListComponent",
    "NextLinkPages",
    "Pages",
    "PaginationError",
    "PollPolicy",
    "PollingTrigger",
    "Scan",
    "check_limit",
    "check_output",
    "check_page_size",
    "epoch_seconds",
    "fetch_limit",
    "field_at",
    "matching",
    "paginate",
    "send_items",
]
