"""Deployed flows and hook secret digests on every backend."""

from __future__ import annotations

from tests.stores.conftest import AnyStore


async def test_a_new_flow_gets_the_given_status_and_a_redeployed_one_keeps_its_own(
    store: AnyStore,
) -> None:
    await store.save_flow("f", '{"v":1}', {}, status="stopped")
    assert await store.set_flow_status("f", "running")
    await store.save_flow("f", '{"v":2}', {}, status="stopped")
    found = await store.get_flow("f")
    assert found is not None
    assert (found.definition_json, found.status) == ('{"v":2}', "running")


async def test_only_new_triggers_keep_the_offered_digest_and_removed_ones_lose_theirs(
    store: AnyStore,
) -> None:
    assert await store.save_flow("f", "{}", {"a": "ha", "b": "hb"}, status="stopped") == {"a", "b"}
    created = await store.save_flow("f", "{}", {"b": "hb2", "c": "hc"}, status="stopped")
    assert created == {"c"}
    digests = [await store.hook_secret_hash("f", c) for c in ("a", "b", "c")]
    assert digests == [None, "hb", "hc"]


async def test_flows_list_by_id_and_deleting_one_forgets_its_hooks(store: AnyStore) -> None:
    for flow_id in ("b", "a", "c"):
        await store.save_flow(flow_id, "{}", {"hook": f"h-{flow_id}"}, status="stopped")
    assert [row.id for row in await store.list_flows()] == ["a", "b", "c"]
    assert await store.delete_flow("b")
    assert not await store.delete_flow("b")
    assert await store.get_flow("b") is None
    assert await store.hook_secret_hash("b", "hook") is None
    assert await store.hook_secret_hash("a", "hook") == "h-a"


async def test_an_unknown_flow_has_no_status_to_set(store: AnyStore) -> None:
    assert not await store.set_flow_status("nope", "running")
    assert await store.get_flow("nope") is None


async def test_flow_statuses_page_by_id_after_a_cursor(store: AnyStore) -> None:
    for flow_id in ("c", "a", "d", "b"):
        await store.save_flow(flow_id, "{}", {}, status="running" if flow_id < "c" else "stopped")

    first = await store.flow_statuses(None, 3)
    rest = await store.flow_statuses(first[-1][0], 3)

    assert first == [("a", "running"), ("b", "running"), ("c", "stopped")]
    assert rest == [("d", "stopped")]
    assert await store.flow_statuses("d", 3) == []
