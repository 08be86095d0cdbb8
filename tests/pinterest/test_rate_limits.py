"""Pinterest's rate limits from the client's side: categories, quotas and the API's feedback.

The emulator runs on 127.0.0.1 with the real clock and windows of a second or two, so that
waits end; what is asserted is what the emulator counted (its stats), what was reported and
logged, never how fast anything ran.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from components.pinterest.categories import CATEGORIES, category_of
from components.pinterest.client import PinterestClient
from components.pinterest.emulator import RateLimits
from runtime.auth.app_config import env_var
from runtime.connector.errors import RateLimitedError
from runtime.credentials import StaticCredentials
from runtime.engine import Engine, Output
from runtime.flow import validate_flow
from runtime.manifest import QuotaRule
from runtime.quota import Quotas, QuotaWaitError
from runtime.quota_rules import packaged_rules
from runtime.retry import UNHINTED_429_WAIT
from runtime.stores.memory import MemoryStore
from tests.pinterest.component_kit import registry
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator
from tests.pinterest.openapi import Spec
from tests.pinterest.stub_api import StubApi, answer

SERVICE = "acme:pinterest"
BOARD = "600000000000000001"


class RecordingTelemetry:
    """Keeps the statuses of the calls and the rate-limit waits reported."""

    def __init__(self) -> None:
        self.statuses: list[int | str] = []
        self.waits: list[float] = []

    def api_call(self, service: str, status: int | str) -> None:
        self.statuses.append(status)

    def rate_limit_wait(self, service: str, seconds: float) -> None:
        assert service == SERVICE
        self.waits.append(seconds)

    def token_refresh(self, service: str, *, ok: bool) -> None:
        raise AssertionError("a static token is never refreshed")

    def dead_letter(self, flow_id: str, component_id: str, error_type: str) -> None:
        return None

    def loop_stall(self, flow_id: str, component_id: str) -> None:
        return None


def limits(window: float, **per_user: int) -> RateLimits:
    return RateLimits(per_user={"org_read": 1000, **per_user}, window_seconds=window)


def pinterest_quotas(override: str) -> Quotas:
    """The packaged rules with ``override`` applied as the app configuration would."""
    return Quotas(packaged_rules({env_var(SERVICE, "quota"): override}))


async def fresh_window(window: float) -> None:
    """Sleep until just after the start of the emulator's next window (they are fixed)."""
    await asyncio.sleep(window - time.time() % window + 0.02)


def client(
    harness: EmulatorHarness,
    quotas: Quotas | None,
    *,
    user: str | None = None,
    telemetry: RecordingTelemetry | None = None,
) -> PinterestClient:
    credentials = StaticCredentials(SERVICE, harness.token(user=user), account=user or "cook")
    return PinterestClient.connect(
        harness.session,
        credentials,
        api_base=harness.api,
        quotas=quotas,
        telemetry=telemetry or RecordingTelemetry(),
    )


# -- categories ---------------------------------------------------------------------------------


def concrete(template: str) -> str:
    return template.replace("{", "x").replace("}", "1")


def test_each_operations_category_is_the_one_the_openapi_description_gives(spec: Spec) -> None:
    table = {(method, path): category for method, path, category in CATEGORIES}
    described = {(op.method, op.path): op.category for op in spec.operations}
    organic = {
        key: category
        for key, category in described.items()
        if category in ("org_read", "org_write", "org_analytics")
        and not key[1].startswith("/oauth/")
    }

    assert {key: described.get(key) for key in table} == table
    assert table == organic, "every organic operation is in the table"
    for method, path, category in CATEGORIES:
        operation = spec.find_operation(method, concrete(path))
        assert operation is not None
        assert category_of(method, concrete(path)) == operation.category == category


@pytest.mark.parametrize(
    ("method", "path", "category"),
    [
        ("GET", "/pins/analytics", "org_analytics"),
        ("GET", "/pins/123", "org_read"),
        ("post", "/pins/123/save", "org_write"),
        ("GET", "/ad_accounts", "org_read"),
        ("DELETE", "/ad_accounts/1", "org_write"),
    ],
    ids=["literal-before-template", "template", "any-letter-case", "unknown-read", "unknown-write"],
)
def test_a_path_gets_its_category_and_an_unknown_one_is_read_or_write(
    method: str, path: str, category: str
) -> None:
    assert category_of(method, path) == category


# -- quotas before sending ----------------------------------------------------------------------


async def test_each_call_takes_the_quota_of_its_category_and_account(
    make_emulator: MakeEmulator,
) -> None:
    async with make_emulator() as harness:
        second = harness.emu.add_user("second_user").username
        quotas = Quotas(
            {SERVICE: [QuotaRule(resource="org_write", limit=1, window=60, max_wait=0)]}
        )
        mine, theirs = client(harness, quotas), client(harness, quotas, user=second)

        await mine.create_board(name="First")
        await theirs.create_board(name="Theirs")  # another account's quota
        await mine.get_board(BOARD)  # reads are another category
        with pytest.raises(QuotaWaitError) as raised:
            await mine.create_board(name="Second")

    assert raised.value.resource == "org_write"
    assert harness.emu.stats.operations["boards/create"] == 2, "the refused call was not sent"


async def test_a_burst_of_pins_never_exceeds_the_limit_per_window_and_meets_no_429(
    make_emulator: MakeEmulator,
) -> None:
    limit, window, pins = 3, 1.0, 8
    telemetry = RecordingTelemetry()
    flow = {
        "id": "burst",
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "pin": {
                "type": "acme.pinterest.CreatePin",
                "source": {"in": {"hook": ["out"]}},
                "concurrency": 6,
            },
        },
    }
    outputs: list[Output] = []
    async with make_emulator(clock=time.time, rate_limits=limits(window, org_write=limit)) as h:
        credentials = StaticCredentials(
            SERVICE, h.token(), account="cook", settings={"apiBase": h.api}
        )
        async with Engine(
            MemoryStore(),
            on_output=outputs.append,
            credentials=lambda manifest, account=None: credentials,
            telemetry=telemetry,
            quotas=pinterest_quotas(f"org_write={limit}/{window}"),  # the lowered limit
        ) as engine:
            await engine.start_flow(validate_flow(flow, registry()))
            for n in range(pins):
                event = {"boardId": BOARD, "title": f"pin {n}", "imageUrl": "https://x.test/a.png"}
                await engine.push("burst", "hook", event)
            await engine.wait_idle("burst")
        peak = h.emu.stats.peak("org_write", user=h.emu.signed_in_user)

    assert len(outputs) == pins
    assert peak <= limit
    assert 429 not in telemetry.statuses
    assert telemetry.waits, "pins beyond the first window's waited for the quota"


# -- what the API says --------------------------------------------------------------------------


async def test_a_remaining_quota_of_zero_makes_the_next_call_wait_for_the_reset(
    make_emulator: MakeEmulator,
) -> None:
    telemetry = RecordingTelemetry()
    async with make_emulator(clock=time.time, rate_limits=limits(2, org_read=2)) as harness:
        api = client(harness, Quotas({}), telemetry=telemetry)  # no rules: the headers alone
        await fresh_window(2)
        with capture_logs() as logs:
            for _ in range(3):
                await api.get_user_account()
        peak = harness.emu.stats.peak("org_read", user=harness.emu.signed_in_user)

    assert telemetry.statuses == [200, 200, 200]
    assert peak == 2
    assert len(telemetry.waits) == 1
    [waited] = [e for e in logs if e["event"] == "quota wait"]
    assert waited["log_level"] == "debug"
    assert waited["category"] == "org_read"


async def test_a_429_is_waited_for_every_caller_then_tried_again_and_counted_and_logged(
    make_emulator: MakeEmulator,
) -> None:
    telemetry = RecordingTelemetry()
    async with make_emulator(clock=time.time, rate_limits=limits(2, org_write=1)) as harness:
        api = client(harness, Quotas({}), telemetry=telemetry)
        await fresh_window(2)
        spent = await harness.call("POST", "/boards", json={"name": "Elsewhere"})  # same user
        with capture_logs() as logs:
            board = await api.create_board(name="After the wait")

    assert spent.status == 201
    assert board.name == "After the wait"
    assert telemetry.statuses == [429, 201]
    assert len(telemetry.waits) == 1
    assert 0 < telemetry.waits[0] <= 2.5
    [limited] = [e for e in logs if e["event"].startswith("rate limited")]
    assert limited["log_level"] == "info"
    assert limited["path"] == "/boards"
    assert 0 < limited["wait"] <= 2


async def test_a_429_without_any_wait_hint_still_holds_every_caller_back(
    stub: StubApi, session: aiohttp.ClientSession
) -> None:
    stub.on("POST", "/boards", answer(429, {"code": 8, "message": "Slow down."}))
    quotas = Quotas({SERVICE: [QuotaRule(resource="org_write", limit=100, window=60, max_wait=1)]})
    api = PinterestClient.connect(
        session,
        StaticCredentials(SERVICE, "pina_token", account="cook"),
        api_base=stub.base,
        quotas=quotas,
    )

    with pytest.raises(RateLimitedError) as raised:
        await api.create_board(name="Unhinted")
    with pytest.raises(QuotaWaitError):
        await api.create_board(name="Held back")

    assert raised.value.delay == UNHINTED_429_WAIT  # the engine waits too
    assert len(stub.calls("POST", "/boards")) == 1, "held back: the second call was not sent"


async def test_a_429_asking_for_more_than_max_wait_is_raised_and_holds_the_gate(
    make_emulator: MakeEmulator,
) -> None:
    telemetry = RecordingTelemetry()
    quotas = Quotas({SERVICE: [QuotaRule(resource="org_write", limit=100, window=60, max_wait=1)]})
    # The emulator's clock stands still at the start of a 60 s window: the 429 asks for 60 s.
    async with make_emulator(rate_limits=limits(60, org_write=1)) as harness:
        api = client(harness, quotas, telemetry=telemetry)
        await harness.call("POST", "/boards", json={"name": "Elsewhere"})
        with pytest.raises(RateLimitedError) as raised:
            await api.create_board(name="Too soon")
        with pytest.raises(QuotaWaitError) as held:
            await api.create_board(name="Not even sent")

    assert raised.value.delay == 60
    assert 59 < held.value.delay <= 60
    assert telemetry.statuses == [429], "the second call was not sent"


async def test_a_message_over_max_wait_goes_back_to_the_engine_and_is_not_lost(
    make_emulator: MakeEmulator,
) -> None:
    flow: dict[str, Any] = {
        "id": "slow",
        "retry": {"maxAttempts": 8, "baseDelay": 0.01, "maxDelay": 0.1},
        "components": {
            "hook": {"type": "flowmixer.core.Webhook"},
            "pin": {
                "type": "acme.pinterest.CreatePin",
                "source": {"in": {"hook": ["out"]}},
                "concurrency": 2,
            },
        },
    }
    telemetry = RecordingTelemetry()
    outputs: list[Output] = []
    store = MemoryStore()
    async with make_emulator(clock=time.time, rate_limits=limits(1, org_write=1)) as h:
        credentials = StaticCredentials(SERVICE, h.token(), settings={"apiBase": h.api})
        async with Engine(
            store,
            on_output=outputs.append,
            credentials=lambda manifest, account=None: credentials,
            telemetry=telemetry,
            quotas=pinterest_quotas('{"org_write": {"limit": 1, "window": 1, "maxWait": 0}}'),
        ) as engine:
            await engine.start_flow(validate_flow(flow, registry()))
            for n in range(2):
                event = {"boardId": BOARD, "title": f"pin {n}", "imageUrl": "https://x.test/a.png"}
                await engine.push("slow", "hook", event)
            await engine.wait_idle("slow")
            stats = engine.stats("slow")["pin"]

    assert len(outputs) == 2
    assert await store.list_dead_letters() == []
    assert stats.deferred >= 1  # a quota wait is a deferral, not a retry
    assert 429 not in telemetry.statuses
