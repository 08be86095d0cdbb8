"""Which PostgreSQL broker owns a message row: the brokers' session advisory locks.

A broker takes a number from ``broker_owner_seq`` and holds the session advisory lock
``(BROKER_LOCK, number)`` on a connection of its own for as long as it lives. The server drops
a dead client's session and its locks at once (``kill -9`` included), so a row whose owner
holds no such lock is free to be taken (:mod:`runtime.stores.postgres_messages`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from runtime.stores.postgres_letters import Conn

# The first key of the brokers' advisory locks ("flow"); the second is the broker's number.
BROKER_LOCK: Final = 0x666C6F77

# Whether the owner of row ``m`` is a broker still alive, seen from any session.
OWNER_ALIVE: Final = (
    "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    f" AND l.classid = {BROKER_LOCK}::oid AND l.objid = m.owner::oid AND l.objsubid = 2)"
)


async def take_number(conn: Conn) -> int:
    """A number no live broker uses, locked for ``conn``'s session (held until it ends)."""
    while True:
        number = int(await conn.fetchval("SELECT nextval('broker_owner_seq')"))
        if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", BROKER_LOCK, number):
            return number
        # The sequence cycled onto a broker still alive: take the next number.
