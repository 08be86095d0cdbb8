"""Room in a channel that another thread reserves, for messages it hands over later.

The server's front answers webhooks on its own event loop while the engine's loop may be busy
(a handler that blocks): it reserves room from its thread, commits the message itself where
the broker is durable, then has the channel's loop take it (``arrive_from_thread``). Reserved
room counts against the bound until the message arrives or the reservation is cancelled.
Only the counter is shared between threads: it changes under a lock and the channel's own
loop reads it without one (a read of an ``int`` attribute is atomic). So that a publish on the
channel's loop, which checks for room then adds without the lock, can never take the bound's
last place at the moment another thread reserves it, a reservation needs two places free: the
bound then holds exactly, and a channel with one place left takes other threads' messages
through its own loop.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from runtime.brokers.waiters import wake_next

if TYPE_CHECKING:
    from runtime.brokers.waiters import Waiters


class ThreadIntake:
    """Mixed into a channel whose ``_has_room`` counts ``_incoming`` against its bound."""

    _putters: Waiters
    _maxsize: int

    def _init_thread_intake(self) -> None:
        self._incoming = 0
        self._incoming_lock = threading.Lock()

    def _has_room(self) -> bool:
        raise NotImplementedError

    def _held(self) -> int:
        """The messages counted against the bound, ``_incoming`` included."""
        raise NotImplementedError

    def reserve_from_thread(self) -> bool:
        with self._incoming_lock:
            # One place for this message, one for a publish the loop may be making right now.
            if self._held() + 2 > self._maxsize:
                return False
            self._incoming += 1
            return True

    def reserve_on_loop(self) -> bool:
        with self._incoming_lock:
            # On the channel's loop no publish of its own is under way: one place is enough.
            if self._held() + 1 > self._maxsize:
                return False
            self._incoming += 1
            return True

    def cancel_from_thread(self) -> None:
        self._landed()
        if self._putters and self._has_room():
            wake_next(self._putters)

    def _landed(self) -> None:
        """One reserved message arrived (call after queueing it: the sum never dips) or is
        not coming."""
        with self._incoming_lock:
            self._incoming -= 1
