"""A webhook event its trigger's schema refuses: 422 listing every problem, nothing committed."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime.registry import Registry
from tests.server_kit import ORDERS, Served, serving
from tests.split_kit import serving_split

HOOK = "/hooks/orders/hook"
STRICT: dict[str, Any] = copy.deepcopy(ORDERS)
STRICT["components"]["hook"]["config"]["properties"]["schema"] = {
    "type": "object",
    "required": ["orderId", "total"],
    "additionalProperties": False,
    "properties": {
        "orderId": {"type": "string", "pattern": "^[0-9]+$"},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD"]},
    },
}
SERVERS = pytest.mark.parametrize(
    "server", ["two-loops-sqlite", "two-loops-memory", "one-loop"], ids=str
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


@contextlib.asynccontextmanager
async def server_of(kind: str, db: Path, registry: Registry) -> AsyncIterator[Served]:
    if kind == "one-loop":
        async with serving(db, registry, durable=True) as served:
            yield served
    else:
        broker = kind.rsplit("-", 1)[1]
        async with serving_split(db, registry, broker=broker) as split:
            yield split


async def post(served: Served, event: Any, secret: str, key: str | None = None) -> Any:
    headers = {"X-Flowmixer-Hook-Secret": secret}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with served.session.post(served.url + HOOK, json=event, headers=headers) as response:
        return response.status, await response.json()


async def kept(served: Served) -> tuple[int, int, int]:
    """Rows of queued messages, idempotency keys and dead letters in the store."""

    def read(conn: Any) -> tuple[int, int, int]:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("messages", "hook_keys", "dead_letters")
        )

    result: tuple[int, int, int] = await served.ctx.store.with_connection(read)
    return result


@SERVERS
async def test_an_event_the_schema_refuses_answers_422_listing_every_problem_and_commits_nothing(
    tmp_path: Path, registry: Registry, server: str
) -> None:
    async with server_of(server, tmp_path / "db", registry) as served:
        secret = await served.deploy(STRICT)
        bad = {"orderId": "A-1", "total": -5, "currency": "GBP", "note": "x"}
        status, body = await post(served, bad, secret, key="order-A-1")
        rows = await kept(served)

    assert status == 422
    assert body["error"] == (
        "the event does not match the schema of webhook 'hook' (4 problem(s)); nothing was accepted"
    )
    by_path = {p["path"]: p["message"] for p in body["problems"]}
    assert set(by_path) == {"$", "$.orderId", "$.total", "$.currency"}
    assert "'note' was unexpected" in by_path["$"]
    assert by_path["$.orderId"] == "'A-1' does not match '^[0-9]+$'"
    assert by_path["$.total"] == "-5 is less than the minimum of 0"
    assert by_path["$.currency"] == "'GBP' is not one of ['EUR', 'USD']"
    assert rows == (0, 0, 0)
    assert served.outputs == []


@SERVERS
async def test_a_missing_required_field_is_named_and_a_fitting_event_is_still_accepted(
    tmp_path: Path, registry: Registry, server: str
) -> None:
    async with server_of(server, tmp_path / "db", registry) as served:
        secret = await served.deploy(STRICT)
        refused = await post(served, {"total": 150}, secret)
        accepted = await post(served, {"orderId": "7", "total": 150}, secret)

    assert refused[0] == 422
    assert refused[1]["problems"] == [{"path": "$", "message": "'orderId' is a required property"}]
    assert accepted[0] == 202


async def test_a_key_refused_with_422_can_be_used_again_for_a_fitting_event(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(tmp_path / "db", registry) as served:
        secret = await served.deploy(STRICT)
        first = await post(served, {"orderId": "x"}, secret, key="k-1")
        second = await post(served, {"orderId": "1", "total": 3}, secret, key="k-1")
        rows = await kept(served)

    assert first[0] == 422
    assert second[0] == 202
    assert rows[1] == 1  # the key names the accepted event only


async def test_a_redeployed_schema_is_the_one_checked_after_the_restart(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving_split(tmp_path / "db", registry) as served:
        secret = await served.deploy(STRICT)
        before = await post(served, {"orderId": "1", "total": 3, "note": "x"}, secret)
        assert (await served.api("POST", "/api/flows/orders/stop"))[0] == 200
        await served.deploy(ORDERS)  # the loose schema, other fields allowed; the same secret
        after = await post(served, {"orderId": "1", "total": 3, "note": "x"}, secret)

    assert (before[0], after[0]) == (422, 202)


async def test_a_hook_without_a_schema_accepts_any_json(tmp_path: Path, registry: Registry) -> None:
    flow = copy.deepcopy(ORDERS)
    del flow["components"]["hook"]["config"]
    async with serving_split(tmp_path / "db", registry) as served:
        secret = await served.deploy(flow)
        status, _ = await post(served, ["not", "an", "object"], secret)

    assert status == 202


async def test_at_most_one_hundred_problems_are_listed(tmp_path: Path, registry: Registry) -> None:
    flow = copy.deepcopy(ORDERS)
    flow["components"]["hook"]["config"]["properties"]["schema"] = {
        "type": "array",
        "items": {"type": "integer"},
        "maxItems": 1000,
    }
    async with serving_split(tmp_path / "db", registry) as served:
        secret = await served.deploy(flow)
        status, body = await post(served, ["x"] * 150, secret)

    assert status == 422
    assert body["error"].endswith("(150 problem(s)); nothing was accepted")
    assert len(body["problems"]) == 100
    assert body["problems"][0] == {"path": "$[0]", "message": "'x' is not of type 'integer'"}
    assert json.dumps(body).count("not of type") == 100
