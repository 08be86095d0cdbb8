"""Dead letters through the admin API over a real socket, and what ``/metrics`` counts of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.envelope import Envelope
from runtime.registry import Registry
from runtime.stores import DeadLetter
from tests.server_kit import Served, serving


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


SEEDED = [
    ("a", "orders", "big", "NotFoundError", "HTTP 404, Pinterest code 40: Board not found.", 100),
    ("b", "orders", "big", "ServerError", "HTTP 503, Pinterest code 503: Unavailable.", 200),
    ("c", "orders", "hook", "InvalidInputError", "does not match the webhook schema", 300),
    ("d", "other", "big", "NotFoundError", "HTTP 404, Pinterest code 50: Pin not found.", 400),
]


async def seed(served: Served) -> None:
    for letter_id, flow_id, component, error_type, error, failed_at in SEEDED:
        envelope = Envelope(flow_id, component, "in", {"total": 1}, "e-" + letter_id)
        await served.ctx.store.add_dead_letter(
            DeadLetter(letter_id, envelope, error, error_type, 2, failed_at)
        )


def ids(body: dict[str, Any]) -> list[str]:
    return [letter["id"] for letter in body["deadLetters"]]


NEW_ROUTES = [
    ("GET", "/api/dead-letters/counts"),
    ("POST", "/api/dead-letters/retry?flow=orders"),
    ("DELETE", "/api/dead-letters?flow=orders"),
]


@pytest.mark.parametrize(("method", "path"), NEW_ROUTES, ids=[f"{m} {p}" for m, p in NEW_ROUTES])
async def test_the_bulk_and_count_routes_refuse_a_missing_token(
    tmp_path: Path, registry: Registry, method: str, path: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await seed(served)
        async with served.session.request(method, served.url + path) as response:
            status = response.status
        left = await served.ctx.store.count_dead_letters()

    assert status == 401
    assert sum(c.count for c in left) == len(SEEDED)


LISTS = {
    "everything": ("", ["d", "c", "b", "a"]),
    "a flow": ("?flow=orders", ["c", "b", "a"]),
    "a component": ("?flow=orders&component=big", ["b", "a"]),
    "an error type": ("?errorType=NotFoundError", ["d", "a"]),
    "a time window": ("?since=150&until=1970-01-01T00:05:00Z", ["b"]),
    "a search": ("?search=not%20FOUND", ["d", "a"]),
}


@pytest.mark.parametrize(("query", "expected"), LISTS.values(), ids=LISTS.keys())
async def test_dead_letters_are_listed_by_every_filter(
    tmp_path: Path, registry: Registry, query: str, expected: list[str]
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await seed(served)
        status, body = await served.api("GET", "/api/dead-letters" + query)

    assert status == 200
    assert ids(body) == expected
    assert body["next"] is None


async def test_a_long_list_is_paged_with_the_next_cursor(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await seed(served)
        _, first = await served.api("GET", "/api/dead-letters?limit=3")
        _, second = await served.api("GET", f"/api/dead-letters?limit=3&cursor={first['next']}")

    assert ids(first) == ["d", "c", "b"]
    assert (ids(second), second["next"]) == (["a"], None)


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/api/dead-letters?flw=orders", "unknown query parameter(s): flw; known: flow,"),
        ("GET", "/api/dead-letters?since=soon", "since: 'soon' is not a time"),
        ("GET", "/api/dead-letters?cursor=bogus", "cursor: the cursor 'bogus' is not one"),
        ("GET", "/api/dead-letters?limit=5000", "limit must be a whole number from 1 to 1000"),
        ("GET", "/api/dead-letters/counts?limit=5", "unknown query parameter(s): limit"),
        ("POST", "/api/dead-letters/retry", "flow is required"),
        ("DELETE", "/api/dead-letters?errorType=ServerError", "flow is required"),
    ],
    ids=["unknown", "bad time", "bad cursor", "limit", "counts take no limit", "retry", "drop"],
)
async def test_a_bad_request_is_refused_with_400_saying_what_is_wrong(
    tmp_path: Path, registry: Registry, method: str, path: str, message: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await seed(served)
        status, body = await served.api(method, path)
        left = await served.ctx.store.count_dead_letters()

    assert status == 400
    assert message in body["error"]
    assert sum(c.count for c in left) == len(SEEDED)


async def test_counts_are_given_per_flow_component_and_error_type(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await seed(served)
        status, body = await served.api("GET", "/api/dead-letters/counts?errorType=NotFoundError")

    assert status == 200
    assert body == {
        "counts": [
            {"flow_id": "orders", "component_id": "big", "error_type": "NotFoundError", "count": 1},
            {"flow_id": "other", "component_id": "big", "error_type": "NotFoundError", "count": 1},
        ],
        "total": 2,
    }


async def test_retrying_a_stopped_flows_letters_marks_the_matching_ones_for_its_next_start(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy(start=False)
        await seed(served)
        status, body = await served.api("POST", "/api/dead-letters/retry?flow=orders&component=big")
        _, listed = await served.api("GET", "/api/dead-letters")

    assert (status, body) == (200, {"requeued": 0, "scheduled": 2})
    marked = {letter["id"]: letter["retry_requested"] for letter in listed["deadLetters"]}
    assert marked == {"a": True, "b": True, "c": False, "d": False}


async def test_retrying_a_running_flows_letters_delivers_each_once(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy()
        for total in ("lots", "many"):  # pushed past the hook, which would refuse them (422)
            await served.ctx.engine.push("orders", "hook", {"total": total})
        await served.ctx.engine.wait_idle("orders")
        _, before = await served.api("GET", "/api/dead-letters?flow=orders")
        status, body = await served.api("POST", "/api/dead-letters/retry?flow=orders")
        await served.ctx.engine.wait_idle("orders")
        _, after = await served.api("GET", "/api/dead-letters?flow=orders")

    assert (status, body) == (200, {"requeued": 2, "scheduled": 0})
    # still invalid: each failed again once and is a new letter of the same event
    assert len(after["deadLetters"]) == 2
    assert not set(ids(after)) & set(ids(before))
    events = {letter["envelope"]["correlation_id"] for letter in after["deadLetters"]}
    assert events == {letter["envelope"]["correlation_id"] for letter in before["deadLetters"]}


async def test_dropping_a_flows_letters_drops_only_those_matching(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await seed(served)
        status, body = await served.api("DELETE", "/api/dead-letters?flow=orders&search=http")
        _, listed = await served.api("GET", "/api/dead-letters")

    assert (status, body) == (200, {"dropped": 2})
    assert ids(listed) == ["d", "c"]


async def test_metrics_count_each_dead_letter_by_error_type_and_gauge_those_kept(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy()
        for total in ("lots", 150, "many"):  # pushed past the hook, which would refuse two (422)
            await served.ctx.engine.push("orders", "hook", {"total": total})
        await served.ctx.engine.wait_idle("orders")
        [dropped, _] = ids((await served.api("GET", "/api/dead-letters"))[1])
        await served.api("DELETE", f"/api/dead-letters/{dropped}")
        async with served.session.get(served.url + "/metrics") as response:
            text = await response.text()

    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    hook = (("component", "hook"), ("flow", "orders"))
    kind = (("component", "hook"), ("error_type", "CancelError"), ("flow", "orders"))
    assert found["flowmixer_dead_letters_total", kind] == 2  # counted when stored
    assert found["flowmixer_dead_letters", hook] == 1  # kept now, read at the scrape
