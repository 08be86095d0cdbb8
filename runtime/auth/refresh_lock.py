"""One refresh at a time across the processes sharing a database (``serve``, ``call``, ``run``).

Refresh tokens rotate: when two processes refresh with the same one, the service refuses the
second. :func:`refresh_lock` holds an exclusive ``flock`` on ``<database>.refresh-lock`` for the
few hundred milliseconds of a refresh, so the second process waits, then finds the first one's
tokens in the vault. The kernel drops the lock when its holder dies (even by ``kill -9``), so a
crash never leaves the lock taken. The lock is only a guard: when it cannot be had within
``wait`` seconds (or the platform has no ``flock``) the refresh goes on unguarded, and the
vault's re-read and compare keep it correct.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process guard
    fcntl = None  # type: ignore[assignment]

LOCK_WAIT: Final = 30.0
_POLL: Final = 0.02


def lock_path(database: str) -> str | None:
    """The lock file of ``database``; ``None`` for a private in-memory one."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return database + ".refresh-lock"


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return None


def _try_lock(descriptor: int) -> bool | None:
    """Whether the lock was taken; ``None`` when the file system cannot lock at all."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


@contextlib.asynccontextmanager
async def refresh_lock(database: str, *, wait: float = LOCK_WAIT) -> AsyncIterator[bool]:
    """Hold the refresh lock of ``database``; yields whether it is held (else: unguarded)."""
    path = lock_path(database)
    descriptor = None if path is None or fcntl is None else _open(path)
    if descriptor is None:
        yield False
        return
    try:
        deadline = time.monotonic() + wait
        held = _try_lock(descriptor)
        while held is False and time.monotonic() < deadline:
            await asyncio.sleep(_POLL)  # polled: a blocking flock would stall the event loop
            held = _try_lock(descriptor)
        yield bool(held)
    finally:
        os.close(descriptor)  # closing releases the lock
