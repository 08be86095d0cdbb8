"""Copying a whole installation from one database to another (``flowmixer db copy``).

Every record kind a store keeps for an installation is read as rows and written as is: the
vault's sealed token sets and the secret values of app configuration are copied as their bytes
and sealed text, never unsealed, so the target needs the same secret key as the source. Not
copied: OAuth login states (logins under way, valid for minutes: a login started before the
copy is started again) and the durable broker's queued messages (stop the server first; its
queues drain into the source).

A row is a tuple in the order of :data:`KINDS`' columns, named as the SQLite store's tables
name them; a flag is a ``bool``, a sealed value ``bytes``, a time a ``float``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from runtime.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of record: its table and columns (``flags`` are booleans, ``sealed`` bytes)."""

    name: str
    label: str
    table: str
    columns: tuple[str, ...]
    flags: frozenset[str] = frozenset()
    sealed: frozenset[str] = frozenset()


KINDS: Final[tuple[Kind, ...]] = (
    Kind(
        "app_config",
        "app configuration values",
        "app_config",
        ("service", "key", "value", "secret", "updated_at"),
        flags=frozenset({"secret"}),
    ),
    Kind(
        "accounts",
        "vault accounts",
        "accounts",
        (
            "service",
            "name",
            "sealed_tokens",
            "status",
            "scopes",
            "expires_at",
            "reason",
            "updated_at",
            "version",
        ),
        sealed=frozenset({"sealed_tokens"}),
    ),
    Kind("flows", "deployed flows", "flows", ("id", "definition_json", "status", "updated_at")),
    Kind("hooks", "hook secrets", "hooks", ("flow_id", "component_id", "secret_hash")),
    Kind(
        "state",
        "component state values",
        "state",
        ("flow_id", "component_id", "key", "value_json", "updated_at", "version"),
    ),
    Kind(
        "effects",
        "effects",
        "effects",
        (
            "flow_id",
            "component_id",
            "correlation_id",
            "digest",
            "updated_at",
            "attempts",
            "first_sent_at",
            "uncertain",
            "completed_at",
            "result_json",
            "ref",
            "notes_json",
        ),
        flags=frozenset({"uncertain"}),
    ),
    Kind(
        "dead_letters",
        "dead letters",
        "dead_letters",
        (
            "id",
            "flow_id",
            "component_id",
            "correlation_id",
            "error",
            "error_type",
            "attempts",
            "failed_at",
            "retry_requested",
            "envelope_json",
        ),
        flags=frozenset({"retry_requested"}),
    ),
    Kind(
        "hook_keys",
        "idempotency keys",
        "hook_keys",
        ("flow_id", "component_id", "key", "event_id", "created_at"),
    ),
)
"""What is copied, in the order it is written (dead letters in the order they failed)."""

Row = tuple[Any, ...]


class CopyableStore(Protocol):
    """A store whose every record of a kind can be read and written as rows."""

    async def dump_records(self, kind: Kind) -> list[Row]:
        """Every record of ``kind`` as rows (dead letters oldest first)."""
        ...

    async def load_records(self, kind: Kind, rows: Sequence[Row]) -> None:
        """Replace every record of ``kind`` by ``rows``, all or none."""
        ...

    async def count_records(self, kind: Kind) -> int: ...


def normalized(kind: Kind, row: Sequence[Any]) -> Row:
    """``row`` with its flags as ``bool`` and sealed values as ``bytes`` (as every backend
    reads them back the same)."""
    return tuple(
        bool(value)
        if column in kind.flags
        else bytes(value)
        if column in kind.sealed and value is not None
        else value
        for column, value in zip(kind.columns, row, strict=True)
    )


async def copy_installation(
    source: CopyableStore, target: CopyableStore, *, force: bool = False
) -> dict[str, int]:
    """Copy every record of :data:`KINDS` from ``source`` to ``target``; how many of each.

    A target holding any record is refused (:class:`ConfigurationError` naming what it
    holds) unless ``force``: then its records of these kinds are replaced.
    """
    if not force:
        held = [f"{n} {kind.label}" for kind in KINDS if (n := await target.count_records(kind))]
        if held:
            raise ConfigurationError(
                f"the target database is not empty (it holds {', '.join(held)});"
                " copy into an empty one, or pass --force to replace its records"
            )
    copied: dict[str, int] = {}
    for kind in KINDS:
        rows = await source.dump_records(kind)
        await target.load_records(kind, rows)
        copied[kind.name] = len(rows)
    return copied
