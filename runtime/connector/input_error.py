"""The error of a check that refuses an input before anything is sent.

It has the shape of ``InputError`` in the connector SDK's error tree (``.field``, ``.problem``,
message ``"<field>: <problem>"``); the listing modules import it from here in one line each.
"""

from __future__ import annotations

from runtime.errors import CancelError


class InputError(CancelError):
    """An input was refused by our own check; ``field`` names it (e.g. ``limit``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
