"""``GET /api/flows`` a page at a time, over a real socket."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.registry import Registry
from tests.server_kit import ORDERS, Served, serving

FLOW_IDS = [f"flow-{n:02d}" for n in range(7)]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def orders(flow_id: str) -> dict[str, Any]:
    flow = copy.deepcopy(ORDERS)
    flow["id"] = flow_id
    return flow


async def walk(served: Served, limit: int) -> list[list[str]]:
    """Every page of the listing at ``limit`` a page, following ``next``."""
    pages: list[list[str]] = []
    query = f"?limit={limit}"
    while True:
        status, body = await served.api("GET", "/api/flows" + query)
        assert status == 200, body
        pages.append([flow["id"] for flow in body["flows"]])
        if body["next"] is None:
            return pages
        query = f"?limit={limit}&cursor={body['next']}"


async def test_flows_are_listed_a_page_at_a_time_by_id_until_next_is_null(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        for flow_id in reversed(FLOW_IDS):
            await served.deploy(orders(flow_id), start=flow_id == "flow-03")
        pages = await walk(served, 3)
        status, first = await served.api("GET", "/api/flows?limit=3")

    assert pages == [FLOW_IDS[0:3], FLOW_IDS[3:6], FLOW_IDS[6:]]
    assert status == 200
    assert first["flows"][0] == {"id": "flow-00", "status": "stopped", "state": "stopped"}
    assert first["next"] is not None


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(limit=st.integers(min_value=1, max_value=9))
async def test_any_page_size_lists_every_flow_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, registry: Registry, limit: int
) -> None:
    async with serving(tmp_path_factory.mktemp("db") / "db", registry) as served:
        for flow_id in FLOW_IDS:
            await served.deploy(orders(flow_id), start=False)
        pages = await walk(served, limit)

    assert [flow_id for page in pages for flow_id in page] == FLOW_IDS
    assert all(len(page) == limit for page in pages[:-1])


async def test_a_flow_deleted_between_pages_leaves_the_walk_in_order(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        for flow_id in FLOW_IDS:
            await served.deploy(orders(flow_id), start=False)
        _, first = await served.api("GET", "/api/flows?limit=3")
        await served.api("DELETE", "/api/flows/flow-02")
        await served.api("DELETE", "/api/flows/flow-03")
        _, second = await served.api("GET", f"/api/flows?limit=3&cursor={first['next']}")

    assert [f["id"] for f in first["flows"]] == FLOW_IDS[0:3]
    assert [f["id"] for f in second["flows"]] == ["flow-04", "flow-05", "flow-06"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?cursor=ZjE", "cursor"),
        ("?page=2", "page"),
    ],
    ids=[
        "limit-zero",
        "limit-over-1000",
        "limit-not-a-number",
        "cursor-garbage",
        "cursor-truncated",
        "unknown-parameter",
    ],
)
async def test_a_listing_query_that_cannot_be_read_is_refused_naming_the_parameter(
    tmp_path: Path, registry: Registry, query: str, named: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, body = await served.api("GET", "/api/flows" + query)

    assert status == 400
    assert named in body["error"]
