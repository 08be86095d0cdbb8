"""The locks that let one refresh of an account's tokens happen at a time: the
:class:`~runtime.stores.contracts.RefreshLocks` of the SQLite and in-memory stores (the
PostgreSQL one, a session advisory lock, is in :mod:`runtime.stores.postgres_auth`).

Refresh tokens rotate: when two processes refresh with the same one, the service refuses the
second. :func:`file_lock` holds an exclusive ``flock`` on ``<database>.refresh-lock`` for the
few hundred milliseconds of a refresh, so the second process waits, then finds the first one's
tokens in the vault. The kernel drops the lock when its holder dies (even by ``kill -9``), so a
crash never leaves the lock taken. Every lock is only a guard: when it cannot be had within
``wait`` seconds (or the platform has no ``flock``) the refresh goes on unguarded, and the
vault's versioned writes keep it correct.
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
POLL: Final = 0.02  # how often a lock held elsewhere is tried again


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
async def file_lock(database: str, *, wait: float = LOCK_WAIT) -> AsyncIterator[bool]:
    """Hold the refresh lock of the SQLite file ``database`` (one for all its accounts);
    yields whether it is held (else: unguarded)."""
    path = lock_path(database)
    descriptor = None if path is None or fcntl is None else _open(path)
    if descriptor is None:
        yield False
        return
    try:
        deadline = time.monotonic() + wait
        held = _try_lock(descriptor)
        while held is False and time.monotonic() < deadline:
            await asyncio.sleep(POLL)  # polled: a blocking flock would stall the event loop
            held = _try_lock(descriptor)
        yield bool(held)
    finally:
        os.close(descriptor)  # closing releases the lock


class LocalLocks:
    """One :class:`asyncio.Lock` per ``(service, name)``: the refresh locks of a store no
    other process can share (the in-memory one)."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, service: str, name: str) -> AsyncIterator[bool]:
        lock = self._locks.setdefault((service, name), asyncio.Lock())
        async with lock:
            yield True
