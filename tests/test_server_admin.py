"""The admin API under ``/api/`` over a real socket: auth, flows, dead letters."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from runtime.registry import Registry
from tests.server_kit import ADMIN_TOKEN, ORDERS, serving


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


ROUTES = [
    ("GET", "/api/flows"),
    ("POST", "/api/flows"),
    ("GET", "/api/flows/orders"),
    ("POST", "/api/flows/orders/start"),
    ("POST", "/api/flows/orders/stop"),
    ("POST", "/api/flows/orders/resume"),
    ("DELETE", "/api/flows/orders"),
    ("GET", "/api/dead-letters"),
    ("GET", "/api/dead-letters/x"),
    ("POST", "/api/dead-letters/x/retry"),
    ("DELETE", "/api/dead-letters/x"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize(
    ("token", "message"),
    [(None, "Authorization: Bearer"), ("wrong", "wrong"), (ADMIN_TOKEN + "x", "wrong")],
    ids=["no token", "wrong token", "longer token"],
)
async def test_every_admin_route_refuses_a_missing_or_wrong_token_with_401(
    tmp_path: Path, registry: Registry, method: str, path: str, token: str | None, message: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        async with served.session.request(
            method, served.url + path, json=ORDERS, headers=served.admin(token)
        ) as response:
            status, body = response.status, await response.json()
        deployed = await served.ctx.deployments.all()

    assert status == 401
    assert message in body["error"]
    assert deployed == []


async def test_without_an_admin_token_set_the_admin_api_answers_503_saying_how_to_set_it(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry, admin_token=None) as served:
        status, body = await served.api("GET", "/api/flows")

    assert status == 503
    assert "FLOWMIXER_ADMIN_TOKEN" in body["error"]


async def test_a_broken_flow_is_refused_with_422_listing_every_problem_by_path(
    tmp_path: Path, registry: Registry
) -> None:
    broken = copy.deepcopy(ORDERS)
    broken["components"]["big"]["type"] = "flowmixer.core.Filtre"
    broken["components"]["big"]["source"] = {"in": {"nowhere": ["out"]}}
    async with serving(tmp_path / "db", registry) as served:
        status, body = await served.api("POST", "/api/flows", broken)
        listed = await served.api("GET", "/api/flows")

    assert status == 422
    paths = [p["path"] for p in body["problems"]]
    assert "$.components.big.type" in paths
    assert len(paths) >= 2
    assert all(p["message"] for p in body["problems"])
    assert listed == (200, {"flows": [], "next": None})


async def test_a_body_that_is_not_a_json_flow_is_refused_with_400(
    tmp_path: Path, registry: Registry
) -> None:
    async with (
        serving(tmp_path / "db", registry) as served,
        served.session.post(
            served.url + "/api/flows", data=b"{", headers=served.admin()
        ) as response,
    ):
        status, body = response.status, await response.json()

    assert status == 400
    assert "the body is not JSON" in body["error"]


async def test_a_flow_is_deployed_started_fed_stopped_and_deleted_through_the_api(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, deployed = await served.api("POST", "/api/flows", ORDERS)
        [hook] = deployed["hooks"]
        _, before = await served.api("GET", "/api/flows/orders")
        started = await served.api("POST", "/api/flows/orders/start")
        pushed, _ = await served.hook("/hooks/orders/hook", '{"total": 150}', hook["secret"])
        await served.ctx.engine.wait_idle("orders")
        _, running = await served.api("GET", "/api/flows/orders")
        _, listed = await served.api("GET", "/api/flows")
        stopped = await served.api("POST", "/api/flows/orders/stop")
        _, after = await served.api("GET", "/api/flows/orders")
        deleted = await served.api("DELETE", "/api/flows/orders")
        gone = await served.api("GET", "/api/flows/orders")
        unhooked, _ = await served.hook("/hooks/orders/hook", "{}", hook["secret"])

    assert status == 201
    assert hook["component"] == "hook"
    assert hook["url"] == "http://flows.example.test/hooks/orders/hook"
    assert len(hook["secret"]) >= 40
    assert (before["status"], before["state"]) == ("stopped", "stopped")
    assert started == (200, {"id": "orders", "status": "running", "state": "running"})
    assert pushed == 202
    assert running["stats"]["big"]["received"] == 1
    assert running["stats"]["big"]["sent"] == 1
    assert running["depths"] == {"hook": 0, "big": 0}
    assert listed == {
        "flows": [{"id": "orders", "status": "running", "state": "running"}],
        "next": None,
    }
    assert stopped[0] == 200
    assert (after["status"], after["state"], "stats" in after) == ("stopped", "stopped", False)
    assert deleted == (200, {"deleted": "orders"})
    assert gone[0] == 404
    assert "no flow 'orders' is deployed" in gone[1]["error"]
    assert unhooked == 404


async def test_a_redeployed_flow_keeps_its_hook_secret_and_a_running_one_is_not_replaced(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy(start=False)
        status, again = await served.api("POST", "/api/flows", ORDERS)
        await served.api("POST", "/api/flows/orders/start")
        refused, body = await served.api("POST", "/api/flows", ORDERS)
        pushed, _ = await served.hook("/hooks/orders/hook", '{"total": 1}', secret)

    assert (status, again["hooks"][0]["secret"]) == (200, None)
    assert refused == 409
    assert "stop it before deploying it again" in body["error"]
    assert pushed == 202


async def test_flows_left_running_start_again_when_the_server_starts_again(
    tmp_path: Path, registry: Registry
) -> None:
    stopped_flow = {**ORDERS, "id": "idle"}
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        await served.deploy(stopped_flow, start=False)
    async with serving(tmp_path / "db", registry) as served:
        running = served.ctx.engine.flows()
        pushed, _ = await served.hook("/hooks/orders/hook", '{"total": 150}', secret)
        async with served.session.get(served.url + "/healthz") as response:
            health = await response.json()

    assert running == ["orders"]
    assert pushed == 202
    assert health == {
        "status": "ok",
        "flows": {"starting": 0, "running": 1, "paused": 0, "stopping": 0},
    }


async def test_unknown_flows_answer_404_on_every_flow_route(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        answers = [
            await served.api(method, "/api/flows/ghost" + suffix)
            for method, suffix in [("GET", ""), ("POST", "/start"), ("POST", "/stop")]
        ]
        answers.append(await served.api("DELETE", "/api/flows/ghost"))

    assert [status for status, _ in answers] == [404, 404, 404, 404]
    assert all("no flow 'ghost' is deployed" in body["error"] for _, body in answers)


async def test_dead_letters_are_listed_shown_retried_and_dropped_through_the_api(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy()
        for total in ("lots", "many"):  # pushed past the hook, which would refuse them (422)
            await served.ctx.engine.push("orders", "hook", {"total": total})
        await served.ctx.engine.wait_idle("orders")
        _, listed = await served.api("GET", "/api/dead-letters?flow=orders&component=hook")
        _, limited = await served.api("GET", "/api/dead-letters?limit=1")
        _, elsewhere = await served.api("GET", "/api/dead-letters?flow=other")
        first, second = listed["deadLetters"]
        shown = await served.api("GET", f"/api/dead-letters/{first['id']}")
        retried = await served.api("POST", f"/api/dead-letters/{first['id']}/retry")
        await served.ctx.engine.wait_idle("orders")
        dropped = await served.api("DELETE", f"/api/dead-letters/{second['id']}")
        dropped_again = await served.api("DELETE", f"/api/dead-letters/{second['id']}")
        bad_limit = await served.api("GET", "/api/dead-letters?limit=zero")
        _, remaining = await served.api("GET", "/api/dead-letters")

    assert len(limited["deadLetters"]) == 1
    assert elsewhere == {"deadLetters": [], "next": None}
    assert "does not match the webhook schema" in first["error"]
    assert shown == (200, first)
    assert retried == (200, {"id": first["id"], "result": "requeued"})
    assert dropped == (200, {"dropped": second["id"]})
    assert dropped_again[0] == 404
    assert bad_limit[0] == 400
    assert "limit must be a whole number" in bad_limit[1]["error"]
    # the retried event is still invalid, so it is dead-lettered again under a new attempt
    [again] = remaining["deadLetters"]
    assert again["envelope"]["correlation_id"] == first["envelope"]["correlation_id"]


async def test_an_unknown_dead_letter_answers_404(tmp_path: Path, registry: Registry) -> None:
    async with serving(tmp_path / "db", registry) as served:
        answers = [
            await served.api("GET", "/api/dead-letters/nope"),
            await served.api("POST", "/api/dead-letters/nope/retry"),
            await served.api("DELETE", "/api/dead-letters/nope"),
        ]

    assert [status for status, _ in answers] == [404, 404, 404]
    assert all("there is no dead letter 'nope'" in body["error"] for _, body in answers)


async def test_an_unknown_route_answers_json_404(tmp_path: Path, registry: Registry) -> None:
    async with serving(tmp_path / "db", registry) as served:
        status, body = await served.api("GET", "/api/nothing")

    assert status == 404
    assert body == {"error": "no such route: GET /api/nothing"}


async def test_a_paused_flow_shows_why_and_resumes_through_the_admin_api(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy()
        status, refused = await served.api("POST", "/api/flows/orders/resume")
        runner = served.ctx.engine._runner("orders")
        runner.pause(
            runner.nodes["big"], "acme:pinterest account 'shop' needs to be connected again"
        )
        _, paused = await served.api("GET", "/api/flows/orders")
        resumed_status, resumed = await served.api("POST", "/api/flows/orders/resume")
        _, after = await served.api("GET", "/api/flows/orders")

    assert status == 409
    assert "is running, not paused" in refused["error"]
    assert paused["state"] == "paused"
    assert "acme:pinterest account 'shop' needs to be connected again" in paused["reason"]
    assert (resumed_status, resumed["state"], resumed["redelivered"]) == (200, "running", 0)
    assert after["state"] == "running"
    assert "reason" not in after
