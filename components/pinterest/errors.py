"""What is Pinterest's own in what can go wrong: one row of its error table and two errors.

The errors of a call are the connector SDK's (:mod:`runtime.connector.errors`); Pinterest's
table (:data:`PINTEREST_ERRORS`) is the default one (:mod:`runtime.connector.answers`) with
these rows read first:

============  ===================  =============  ============================================
answer        error                next           why
============  ===================  =============  ============================================
401 code 3    UnauthorizedError    re-authorize   the token lacks a scope the operation needs:
                                                  raised at once (a refresh cannot add one)
============  ===================  =============  ============================================

Pinterest's error body is ``{"code": int, "message": str}``; messages say "Pinterest answered
HTTP 404, Pinterest code 8: ...". Media processing adds::

    MediaFailedError     (CancelError)      an uploaded video could not be processed
    MediaNotReadyError   (RetryError)       a video was still processing when the wait ended
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from runtime.connector.answers import DEFAULT_ERRORS, Rule, only
from runtime.connector.errors import ServiceError, UnauthorizedError
from runtime.errors import CancelError, RetryError

SCOPES_MISSING_CODE: Final = 3
"""Pinterest's code for a 401 whose token lacks a scope the operation needs."""

PINTEREST_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "401 code 3",
        only(401),
        UnauthorizedError,
        code=SCOPES_MISSING_CODE,
        refreshable=False,
    ),
)
"""Pinterest's rows, drawn in the module docstring (a test keeps the two the same)."""

# Pinterest's codes are numbers: any other value in "code" is not one of its codes.
PINTEREST_ERRORS: Final = replace(DEFAULT_ERRORS.with_rules(*PINTEREST_RULES), code_types=(int,))


class PaginationError(ServiceError):
    """The API sent a bookmark it had sent before; following it would never end."""


class MediaFailedError(ServiceError, CancelError):
    """Pinterest reported ``failed`` for an uploaded video; uploading it again will not help."""


class MediaNotReadyError(ServiceError, RetryError):
    """An uploaded video was still not ``succeeded`` when the wait ended; ``media_id`` names it."""

    def __init__(self, message: str, *, media_id: str) -> None:
        super().__init__(message)
        self.media_id = media_id
