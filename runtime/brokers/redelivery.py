"""Which dead letter the current task is delivering again, for brokers that publish once.

A broker that marks each envelope it published, so that a put run twice (an answer lost, two
processes requeueing the same letter) publishes once, would take the retry of a dead letter for
such a repeat: the envelope keeps its id through the retry (the effects ledger relies on it).
While :func:`redelivering` is open, a put is the retry of that letter: the Redis broker marks it
apart, by envelope id and letter id (a letter written by a later failure has a new id).
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

# The id of the dead letter whose envelope this task is putting (None: not a retry).
LETTER: ContextVar[str | None] = ContextVar("flowmixer_redelivered_letter", default=None)


@contextlib.contextmanager
def redelivering(letter_id: str) -> Iterator[None]:
    """Within this block, puts deliver dead letter ``letter_id`` again."""
    token = LETTER.set(letter_id)
    try:
        yield
    finally:
        LETTER.reset(token)
