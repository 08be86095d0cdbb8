"""Webhook intake over a real socket: a full flow answers 503 with ``Retry-After`` having
accepted nothing, and ``Idempotency-Key`` answers a repeat with the first event."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runtime.cli import build_parser
from runtime.cli.serve import intake_settings
from runtime.errors import ConfigurationError
from runtime.registry import Registry
from runtime.server.intake import HookIntake
from tests import kit
from tests.server_kit import Served, serving

HOOK = "/hooks/orders/hook"
# A pin flow whose API cannot be reached: every message waits a minute for its next attempt,
# so it stays held (delayed) by the flow. One webhook worker, so that what the flow holds is
# counted exactly below.
STUCK: dict[str, Any] = {
    "id": "stuck",
    "retry": {"maxAttempts": 100, "baseDelay": 60, "maxDelay": 60},
    "components": {
        "hook": {"type": "flowmixer.core.Webhook", "concurrency": 1},
        "pin": {
            "type": "acme.pinterest.CreatePin",
            "source": {"in": {"hook": ["out"]}},
            "config": {
                "transform": {
                    "in": {
                        "boardId": "600000000000000001",
                        "title": "{{{$.hook.out.title}}}",
                        "imageUrl": "https://images.example.test/pin.png",
                    }
                }
            },
        },
    },
}
UNREACHABLE = {"PINTEREST_ACCESS_TOKEN": "pina_test", "PINTEREST_API_BASE": "http://127.0.0.1:9"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


async def post(
    served: Served, path: str, body: Any, secret: str, key: str | None = None
) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    headers = {"X-Flowmixer-Hook-Secret": secret}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with served.session.post(served.url + path, json=body, headers=headers) as response:
        return response.status, await response.json(), response.headers


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


async def test_a_full_flow_answers_503_with_retry_after_after_its_wait_and_commits_nothing(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "db"
    intake = HookIntake(wait=0.2)
    async with serving(
        db, registry, environ=UNREACHABLE, queue_size=1, intake=intake, durable=True
    ) as served:
        secret = await served.deploy(STUCK)
        answers: list[tuple[int, dict[str, Any], Any]] = []
        for n in range(20):
            began = time.monotonic()
            answers.append((*await post(served, "/hooks/stuck/hook", {"title": f"t{n}"}, secret),))
            if answers[-1][0] == 503:
                waited = time.monotonic() - began
                break
            await asyncio.sleep(0.05)  # let the worker take it on
        accepted = [a for a in answers if a[0] == 202]
        status, body, headers = answers[-1]
        held = rows(db)

    assert status == 503
    assert headers["Retry-After"] == "1"
    assert headers["Content-Type"].startswith("application/json")
    assert "bound" in body["error"]
    assert "nothing was accepted" in body["error"]
    assert waited >= 0.19
    # pin holds one (delayed), hook's worker one (waiting for room), hook's channel one
    assert 1 <= len(accepted) <= 3
    assert held == len(accepted), "every accepted event is a row; the refused one is none"


async def test_a_repeated_idempotency_key_answers_the_first_event_and_queues_nothing(
    tmp_path: Path, registry: Registry
) -> None:
    async with serving(tmp_path / "db", registry, durable=True) as served:
        secret = await served.deploy()
        first = await post(served, HOOK, {"total": 150}, secret, key="order-1")
        again = await post(served, HOOK, {"total": 150}, secret, key="order-1")
        other = await post(served, HOOK, {"total": 150}, secret, key="order-2")
        await served.ctx.engine.wait_idle("orders")

    assert (first[0], again[0], other[0]) == (202, 202, 202)
    assert again[1] == first[1]
    assert "Idempotent-Replayed" not in first[2]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert other[1]["eventId"] != first[1]["eventId"]
    assert sorted(o.correlation_id for o in served.outputs) == sorted(
        [first[1]["eventId"], other[1]["eventId"]]
    )


async def test_repeats_sent_together_make_one_event(tmp_path: Path, registry: Registry) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        answers = await asyncio.gather(
            *(post(served, HOOK, {"total": 150}, secret, key="same") for _ in range(10))
        )
        await served.ctx.engine.wait_idle("orders")

    assert {status for status, _, _ in answers} == {202}
    assert len({body["eventId"] for _, body, _ in answers}) == 1
    assert len(served.outputs) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [("k" * 256, "256 characters long"), ("naïve", "visible ASCII")],
    ids=["too long", "not ASCII"],
)
async def test_a_bad_idempotency_key_is_refused_with_400_naming_the_header(
    tmp_path: Path, registry: Registry, key: str, message: str
) -> None:
    async with serving(tmp_path / "db", registry) as served:
        secret = await served.deploy()
        async with served.session.post(
            served.url + HOOK,
            json={"total": 1},
            headers={"X-Flowmixer-Hook-Secret": secret, "Idempotency-Key": key},
        ) as response:
            status, body = response.status, await response.json()
        await served.ctx.engine.wait_idle("orders")

    assert status == 400
    assert "Idempotency-Key" in body["error"]
    assert message in body["error"]
    assert served.outputs == []


def test_serve_takes_its_intake_options_from_the_command_line_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWMIXER_IDEMPOTENCY_WINDOW", "60")
    monkeypatch.setenv("FLOWMIXER_HOOK_WAIT", "9")  # the option wins
    args = build_parser().parse_args(["serve", "--queue-size", "8", "--hook-wait", "2.5"])
    size, intake = intake_settings(args)
    assert (size, intake.wait, intake.window, intake.retry_after) == (8, 2.5, 60.0, 3)


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--queue-size", "0"], {}, "--queue-size"),
        (["--queue-size", "2.5"], {}, "--queue-size"),
        (["--hook-wait", "-1"], {}, "--hook-wait"),
        ([], {"FLOWMIXER_HOOK_WAIT": "soon"}, "FLOWMIXER_HOOK_WAIT"),
        ([], {"FLOWMIXER_IDEMPOTENCY_WINDOW": "inf"}, "FLOWMIXER_IDEMPOTENCY_WINDOW"),
    ],
    ids=["no room", "not whole", "negative wait", "not a number", "endless window"],
)
def test_a_bad_intake_option_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], named: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(["serve", *argv])
    with pytest.raises(ConfigurationError, match=named):
        intake_settings(args)


async def test_a_caller_that_timed_out_while_held_sends_again_without_a_duplicate(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "db"
    async with serving(
        db, registry, environ=UNREACHABLE, queue_size=1, intake=HookIntake(wait=30), durable=True
    ) as served:
        secret = await served.deploy(STUCK)
        engine = served.ctx.engine
        await post(served, "/hooks/stuck/hook", {"title": "t0"}, secret)
        await kit.eventually(lambda: engine.depths("stuck")["pin"] == 1)  # delayed a minute
        await post(served, "/hooks/stuck/hook", {"title": "t1"}, secret)  # hook waits for pin
        await kit.eventually(lambda: engine.depths("stuck")["hook"] == 0)
        await post(served, "/hooks/stuck/hook", {"title": "t2"}, secret)  # the bound is reached
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):  # the caller gives up while its event is held
                await post(served, "/hooks/stuck/hook", {"title": "t3"}, secret, key="k3")
        # Stopping lets what is held in: the event the caller gave up on is accepted after all.
        assert (await served.api("POST", "/api/flows/stuck/stop"))[0] == 200
        assert (await served.api("POST", "/api/flows/stuck/start"))[0] == 200
        status, body, headers = await post(
            served, "/hooks/stuck/hook", {"title": "t3"}, secret, key="k3"
        )
    with sqlite3.connect(db) as conn:
        events = [
            json.loads(r[0])["correlation_id"]
            for r in conn.execute("SELECT envelope_json FROM messages")
        ]

    assert (status, headers["Idempotent-Replayed"]) == (202, "true")
    assert events.count(body["eventId"]) == 1, "the event the caller gave up on, once"
    assert len(set(events)) == 4
