"""``POST /hooks/{flowId}/{componentId}`` over a real socket: secrets, limits, errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from runtime.registry import Registry
from tests.server_kit import ADMIN_TOKEN, ORDERS, serving


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


async def test_an_event_with_the_right_secret_is_accepted_and_reaches_the_flow(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        status, body = await served.hook("/hooks/orders/hook", '{"total": 150}', secret)
        status_q, body_q = await served.hook(
            "/hooks/orders/hook", '{"total": 5}', secret, query=True
        )
        await served.ctx.engine.wait_idle("orders")

    assert (status, status_q) == (202, 202)
    routed = {(o.correlation_id, o.component_id, o.port) for o in served.outputs}
    assert routed == {(body["eventId"], "big", "out"), (body_q["eventId"], "big", "rejected")}


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "X-Flowmixer-Hook-Secret"), ("not-the-secret", "wrong"), ("", "X-Flowmixer")],
    ids=["missing", "wrong", "empty"],
)
async def test_an_event_without_the_right_secret_is_refused_with_401(
    tmp_path: Path, registry: Registry, secret: str | None, message: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        await served.deploy()
        status, body = await served.hook("/hooks/orders/hook", '{"total": 150}', secret)
        stats = served.ctx.engine.stats("orders")

    assert status == 401
    assert message in body["error"]
    assert stats["hook"].received == 0


@pytest.mark.parametrize(
    "path",
    ["/hooks/nothing/hook", "/hooks/orders/nothing", "/hooks/orders/big"],
    ids=["unknown flow", "unknown component", "not a webhook"],
)
async def test_an_unknown_hook_answers_404(tmp_path: Path, registry: Registry, path: str) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        status, body = await served.hook(path, '{"total": 150}', secret)

    assert status == 404
    assert "has no webhook trigger" in body["error"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"total": ', "Expecting value at line 1 column 11"),
        (b"", "Expecting value at line 1 column 1"),
        (b"{'total': 1}", "Expecting property name enclosed in double quotes"),
        (b"\xff\xfe", "not UTF-8"),
    ],
    ids=["truncated", "empty", "single quotes", "not text"],
)
async def test_a_body_that_is_not_json_answers_400_naming_the_problem(
    tmp_path: Path, registry: Registry, data: bytes, problem: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        status, body = await served.hook("/hooks/orders/hook", data, secret)

    assert status == 400
    assert body["error"].startswith("the body is not JSON")
    assert problem in body["error"]


async def test_a_body_over_one_mebibyte_answers_413_and_is_not_pushed(
    tmp_path: Path, registry: Registry
) -> None:
    big = json.dumps({"total": 1, "pad": "x" * (1024 * 1024)})
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        status, body = await served.hook("/hooks/orders/hook", big, secret)
        just_under = json.dumps({"total": 1, "pad": "x" * (1024 * 1024 - 40)})
        ok, _ = await served.hook("/hooks/orders/hook", just_under, secret)
        await served.ctx.engine.wait_idle("orders")
        received = served.ctx.engine.stats("orders")["hook"].received

    assert (status, ok) == (413, 202)
    assert "1 MiB" in body["error"]
    assert received == 1


async def test_an_event_for_a_stopped_flow_answers_409(tmp_path: Path, registry: Registry) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy(start=False)
        status, body = await served.hook("/hooks/orders/hook", '{"total": 150}', secret)

    assert status == 409
    assert "not running" in body["error"]


async def test_neither_the_admin_token_nor_a_hook_secret_reaches_the_logs(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with serving(tmp_path / "db", registry) as served:
            secret = await served.deploy()
            await served.hook("/hooks/orders/hook", '{"total": 150}', secret)
            await served.hook("/hooks/orders/hook", '{"total": 150}', secret, query=True)
            await served.hook("/hooks/orders/hook", '{"total": 150}', secret + "x")
            await served.api("GET", "/api/flows")
            await served.ctx.engine.wait_idle("orders")

    text = json.dumps(logs, default=str) + caplog.text
    assert "flow deployed" in text
    assert "/hooks/orders/hook" in caplog.text  # the access log ran, without the query
    assert secret not in text
    assert ADMIN_TOKEN not in text
    assert ORDERS["id"] in text
