"""How many sealed values a SQLite database file holds, read without opening it as a store.

Asked before any store is open (:mod:`runtime.auth.secretbox`: may a missing key file be made
anew?), so it reads the file directly, read-only, and never creates or migrates it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


def sealed_count(database: Path) -> int:
    """How many sealed values ``database`` holds (app configuration secrets and accounts);
    0 when it does not exist. Read-only: the file is neither created nor changed. Raises
    :class:`sqlite3.Error` when it cannot be read."""
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        count = 0
        if "app_config" in tables:
            count += conn.execute("SELECT count(*) FROM app_config WHERE secret = 1").fetchone()[0]
        if "accounts" in tables:
            count += conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    return int(count)
