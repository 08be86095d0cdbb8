"""The public API is one sorted export list, and everything in it exists."""

from __future__ import annotations

import runtime


def test_the_public_api_is_exported_in_one_sorted_list():
    assert runtime.__all__ == sorted(runtime.__all__)


def test_every_exported_name_exists_and_nothing_public_is_left_out():
    assert [name for name in runtime.__all__ if not hasattr(runtime, name)] == []
    public = {
        name
        for name, value in vars(runtime).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("runtime")
    }
    assert public - set(runtime.__all__) == set()
