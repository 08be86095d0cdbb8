"""The effects ledger's works for the PostgreSQL broker's group commit (see
:mod:`runtime.brokers.effect_outbox`): each returns a coroutine function of a connection and
the broker's number (unused here)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from runtime.stores import postgres_effects as sql

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from runtime.stores.base import EffectRecord
    from runtime.stores.postgres_letters import Conn

    Work = Callable[[Conn, int], Awaitable[Any]]


async def _get(name: tuple[str, str, str, str], conn: Conn, _owner: int) -> EffectRecord | None:
    row = await conn.fetchrow(sql.GET, *name)
    return None if row is None else sql.decode(row)


async def _claim(row: tuple[Any, ...], conn: Conn, _owner: int) -> bool:
    return await conn.fetchval(sql.CLAIM, *row) is not None


async def _put(row: tuple[Any, ...], conn: Conn, _owner: int) -> None:
    await conn.execute(sql.PUT, *row)


async def _claimed(refs: list[str], conn: Conn, _owner: int) -> set[str]:
    return {row["ref"] for row in await conn.fetch(sql.CLAIMED, refs)}


def get(name: tuple[str, str, str, str]) -> Work:
    return partial(_get, name)


def claim(record: EffectRecord) -> Work:
    return partial(_claim, sql.encode(record))


def put(record: EffectRecord) -> Work:
    return partial(_put, sql.encode(record))


def claimed(refs: list[str]) -> Work:
    return partial(_claimed, list(dict.fromkeys(refs)))
