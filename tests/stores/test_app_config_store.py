"""App configuration rows on every backend: kept as given (secret values are opaque text)."""

from __future__ import annotations

import pytest

from runtime.stores.contracts import ConfigRow
from tests.stores.conftest import AnyStore


async def test_rows_read_back_by_service_then_key_and_replace_their_namesakes(
    store: AnyStore,
) -> None:
    await store.put_app_config(
        [
            ConfigRow("b:svc", "clientId", "id-1", False),
            ConfigRow("a:svc", "clientSecret", "gAAAA-sealed", True),
            ConfigRow("a:svc", "clientId", "id-0", False),
        ]
    )
    await store.put_app_config([ConfigRow("b:svc", "clientId", "id-2", False)])
    assert await store.app_config_rows() == [
        ConfigRow("a:svc", "clientId", "id-0", False),
        ConfigRow("a:svc", "clientSecret", "gAAAA-sealed", True),
        ConfigRow("b:svc", "clientId", "id-2", False),
    ]
    assert [row.key for row in await store.app_config_rows("a:svc")] == ["clientId", "clientSecret"]


@pytest.mark.parametrize(
    ("keys", "left"),
    [(["clientId"], ["clientSecret"]), ([], [])],
    ids=["named keys", "every key"],
)
async def test_deleting_removes_the_named_keys_or_all_of_the_service(
    store: AnyStore, keys: list[str], left: list[str]
) -> None:
    await store.put_app_config(
        [
            ConfigRow("a:svc", "clientId", "id", False),
            ConfigRow("a:svc", "clientSecret", "sealed", True),
            ConfigRow("b:svc", "clientId", "kept", False),
        ]
    )
    await store.delete_app_config("a:svc", keys)
    assert [row.key for row in await store.app_config_rows("a:svc")] == left
    assert len(await store.app_config_rows("b:svc")) == 1


async def test_resealing_changes_the_secret_values_only(store: AnyStore) -> None:
    await store.put_app_config(
        [ConfigRow("a:svc", "clientId", "id", False), ConfigRow("a:svc", "clientSecret", "s", True)]
    )
    assert await store.reseal_app_config(lambda value: value + "+new") == 1
    values = {row.key: row.value for row in await store.app_config_rows()}
    assert values == {"clientId": "id", "clientSecret": "s+new"}
