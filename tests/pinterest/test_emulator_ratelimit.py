"""Rate limits per category, per user and per app, in fixed windows on the emulator's clock."""

from __future__ import annotations

from typing import Any

import pytest

from components.pinterest.emulator import RateLimits
from runtime.errors import ConfigurationError
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator, seeded_boards

RECIPES = "600000000000000001"


def limits(**per_user: int) -> RateLimits:
    return RateLimits(per_user=per_user, per_app={"org_read": 100, "org_write": 100})


async def test_every_api_answer_has_rate_limit_headers_and_a_request_id(
    emulator: EmulatorHarness,
) -> None:
    first = await emulator.call("GET", "/boards")
    second = await emulator.call("GET", f"/boards/{RECIPES}")
    assert first.headers["X-RateLimit-Limit"] == "1000"
    assert first.headers["X-RateLimit-Remaining"] == "999"
    assert second.headers["X-RateLimit-Remaining"] == "998"
    assert first.headers["X-RateLimit-Reset"] == "60"
    assert first.headers["x-pinterest-rid"] != second.headers["x-pinterest-rid"]
    missing = await emulator.call("GET", "/boards/123")
    assert missing.status == 404
    assert missing.headers["X-RateLimit-Remaining"] == "997"


async def test_going_over_the_per_user_limit_gets_429_code_8(make_emulator: MakeEmulator) -> None:
    async with make_emulator(rate_limits=limits(org_write=2)) as h:
        h.clock.advance(15)
        for _ in range(2):
            ok = await h.call("POST", "/boards", json={"name": "b"})
            assert ok.status == 201
        refused = await h.call("POST", "/boards", json={"name": "b"})
        assert refused.status == 429
        assert refused.body["code"] == 8
        assert "org_write allows 2 calls per user every 60 seconds" in refused.body["message"]
        assert refused.headers["Retry-After"] == "45"
        assert refused.headers["X-RateLimit-Limit"] == "2"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert refused.headers["X-RateLimit-Reset"] == "45"
        assert len(h.emu.state.boards) == len(seeded_boards()) + 2
        reads = await h.call("GET", "/boards")
        assert reads.status == 200, "other categories keep their own quota"
        h.clock.advance(45)
        again = await h.call("POST", "/boards", json={"name": "b"})
        assert again.status == 201
        assert again.headers["X-RateLimit-Remaining"] == "1"


async def test_refused_calls_do_not_use_quota_but_are_counted_as_seen(
    make_emulator: MakeEmulator,
) -> None:
    async with make_emulator(rate_limits=limits(org_read=3)) as h:
        statuses = [(await h.call("GET", "/boards")).status for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        user = h.emu.signed_in_user
        assert h.emu.stats.in_window("org_read", user=user) == 5
        assert h.emu.stats.peak("org_read", user=user) == 5
        h.clock.advance(60)
        assert h.emu.stats.in_window("org_read", user=user) == 0
        assert (await h.call("GET", "/boards")).status == 200
        assert h.emu.stats.in_window("org_read", user=user) == 1
        assert h.emu.stats.peak("org_read", user=user) == 5
        assert h.emu.stats.operations["boards/list"] == 6


async def test_the_per_app_limit_is_shared_by_all_users(make_emulator: MakeEmulator) -> None:
    quota = RateLimits(per_user={"org_read": 10}, per_app={"org_read": 3})
    async with make_emulator(rate_limits=quota) as h:
        other = h.emu.add_user("second_user")
        mine, theirs = h.token(), h.token(user=other.username)
        assert (await h.call("GET", "/user_account", token=mine)).status == 200
        assert (await h.call("GET", "/user_account", token=theirs)).status == 200
        last = await h.call("GET", "/user_account", token=mine)
        assert last.headers["X-RateLimit-Limit"] == "3", "the app bucket is the tightest"
        assert last.headers["X-RateLimit-Remaining"] == "0"
        refused = await h.call("GET", "/user_account", token=theirs)
        assert refused.status == 429
        assert "per app" in refused.body["message"]
        assert h.emu.stats.in_window("org_read", app=h.emu.app.client_id) == 4


async def test_the_token_endpoint_counts_against_the_apps_org_read_quota(
    make_emulator: MakeEmulator,
) -> None:
    quota = RateLimits(per_user={}, per_app={"org_read": 1})
    async with make_emulator(rate_limits=quota) as h:
        assert (await h.call("GET", "/boards")).status == 200
        form = {"grant_type": "client_credentials", "scope": "boards:read"}
        async with h.session.post(
            h.api + "/oauth/token",
            data=form,
            headers={"Authorization": "Basic ZW11bGF0b3ItYXBwOmVtdWxhdG9yLWFwcC1zZWNyZXQ="},
        ) as r:
            assert r.status == 429


@pytest.mark.parametrize(
    "arguments",
    [{"window_seconds": 0}, {"per_user": {"org_read": 0}}],
    ids=["zero-window", "zero-limit"],
)
def test_nonsense_limits_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RateLimits(**arguments)
