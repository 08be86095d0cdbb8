"""The connector SDK's public names are one sorted list, and every name in it exists."""

from __future__ import annotations

import runtime.connector


def _isort_key(name: str) -> tuple[int, str]:
    # constants, then classes, then functions: the order ruff keeps ``__all__`` in
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_the_sdk_exports_one_sorted_list():
    assert runtime.connector.__all__ == sorted(runtime.connector.__all__, key=_isort_key)


def test_every_exported_name_exists_and_nothing_public_is_left_out():
    exported = set(runtime.connector.__all__)
    assert [name for name in exported if not hasattr(runtime.connector, name)] == []
    public = {
        name
        for name, value in vars(runtime.connector).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("runtime.connector")
    }
    assert public - exported == set()
