"""``flowmixer serve`` that counts its store round trips (for ``bench/webhook_to_pin.py``).

Every call the SQLite store makes on its thread (state, effects, hook secrets and keys, the
durable broker's group commits) goes through ``SQLiteStore._run``; on PostgreSQL every
statement goes through an asyncpg ``Connection`` method (``BEGIN`` and ``COMMIT`` of a
transaction too). This launcher wraps both with a counter and prints
``{"event": "store round trips", "count": N}`` when the server exits; with the Redis client
installed it counts the Redis round trips too (every packed write a connection sends: a
command, a script call or a whole pipeline) and prints ``{"event": "redis round trips", ...}``.
Neither the store nor the broker is changed: the counts cost nothing outside the benchmark.

    python -m bench.counted_serve serve [serve's options]
"""

from __future__ import annotations

import atexit
import functools
import json
import sys
from typing import Any

from runtime.cli import main
from runtime.stores.sqlite import SQLiteStore

COUNT = [0]
EVENT = "store round trips"
REDIS_COUNT = [0]
REDIS_EVENT = "redis round trips"
ASYNCPG_CALLS = ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany")


def _counted(plain: Any, count: list[int] = COUNT) -> Any:
    @functools.wraps(plain)
    async def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await plain(*args, **kwargs)

    return counted


def _install() -> None:
    SQLiteStore._run = _counted(SQLiteStore._run)  # type: ignore[method-assign]
    try:
        from asyncpg.connection import Connection
    except ImportError:
        pass
    else:
        # Pool.execute and friends call these on a pooled connection: each is counted once.
        for name in ASYNCPG_CALLS:
            if hasattr(Connection, name):
                setattr(Connection, name, _counted(getattr(Connection, name)))
    try:
        from redis.asyncio.connection import AbstractConnection
    except ImportError:
        pass
    else:
        plain = AbstractConnection.send_packed_command
        AbstractConnection.send_packed_command = _counted(plain, REDIS_COUNT)  # type: ignore[method-assign]
    atexit.register(_report)


def _report() -> None:
    print(json.dumps({"event": EVENT, "count": COUNT[0]}), flush=True)
    print(json.dumps({"event": REDIS_EVENT, "count": REDIS_COUNT[0]}), flush=True)


if __name__ == "__main__":
    _install()
    sys.exit(main())
