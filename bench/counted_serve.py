"""``flowmixer serve`` that counts its store round trips (for ``bench/webhook_to_pin.py``).

Every call the SQLite store makes on its thread (state, effects, hook secrets and keys, the
durable broker's group commits) goes through ``SQLiteStore._run``; this launcher wraps it with
a counter and prints ``{"event": "store round trips", "count": N}`` when the server exits. The
store itself is not changed: the count costs nothing outside the benchmark.

    python -m bench.counted_serve serve [serve's options]
"""

from __future__ import annotations

import atexit
import json
import sys
from typing import Any

from runtime.cli import main
from runtime.stores.sqlite import SQLiteStore

COUNT = [0]
EVENT = "store round trips"


def _install() -> None:
    plain = SQLiteStore._run

    async def counted(self: SQLiteStore, work: Any, *args: Any) -> Any:
        COUNT[0] += 1
        return await plain(self, work, *args)

    SQLiteStore._run = counted  # type: ignore[method-assign]
    atexit.register(lambda: print(json.dumps({"event": EVENT, "count": COUNT[0]}), flush=True))


if __name__ == "__main__":
    _install()
    sys.exit(main())
