"""OAuth on the emulator: the authorize page, the token endpoint's grants, rotation, revocation."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from components.pinterest.emulator import DEFAULT_SEED
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator, seeded_boards


def basic(client_id: str, secret: str) -> dict[str, str]:
    """An HTTP Basic ``Authorization`` header (client authentication at the token endpoint)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


CLIENT = basic("emulator-app", "emulator-app-secret")
CALLBACK = "http://127.0.0.1:5555/callback"
ASK = {
    "client_id": "emulator-app",
    "redirect_uri": CALLBACK,
    "response_type": "code",
    "scope": "boards:read,pins:read,user_accounts:read",
    "state": "csrf-42",
}


def redirect_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def authorize(h: EmulatorHarness, **changes: str) -> tuple[int, str, str]:
    """``(status, Location, body)`` of ``GET /oauth/`` with ``ASK`` changed by ``changes``."""
    params = {k: v for k, v in {**ASK, **changes}.items() if v is not None}
    async with h.session.get(h.base + "/oauth/", params=params, allow_redirects=False) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def token_call(
    h: EmulatorHarness, form: dict[str, str], auth: dict[str, str] = CLIENT
) -> tuple[int, Any]:
    async with h.session.post(h.api + "/oauth/token", data=form, headers=auth) as r:
        return r.status, await r.json()


async def code_for(h: EmulatorHarness, **changes: str) -> str:
    status, location, _ = await authorize(h, **changes)
    assert status == 302, location
    return redirect_params(location)["code"]


async def tokens(h: EmulatorHarness, **changes: str) -> dict[str, Any]:
    code = await code_for(h, **changes)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    status, body = await token_call(h, form)
    assert status == 200, body
    return dict(body)


@pytest.fixture
async def auto(make_emulator: MakeEmulator) -> AsyncIterator[EmulatorHarness]:
    async with make_emulator(auto_approve=True) as harness:
        yield harness


async def test_auto_approve_redirects_with_a_code_and_the_state(auto: EmulatorHarness) -> None:
    status, location, _ = await authorize(auto)
    assert status == 302
    assert location.startswith(CALLBACK + "?")
    params = redirect_params(location)
    assert params["state"] == "csrf-42"
    assert params["code"]


async def test_a_code_is_exchanged_for_an_access_and_a_refresh_token(auto: EmulatorHarness) -> None:
    form = {
        "grant_type": "authorization_code",
        "code": await code_for(auto),
        "redirect_uri": CALLBACK,
        "continuous_refresh": "true",
    }
    status, body = await token_call(auto, form)
    assert status == 200, body
    assert body["access_token"].startswith("pina")
    assert body["refresh_token"].startswith("pinr")
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 2_592_000
    assert body["refresh_token_expires_in"] == 5_184_000
    assert body["refresh_token_expires_at"] == int(auto.clock()) + 5_184_000
    assert body["response_type"] == "authorization_code"
    assert set(body["scope"].split()) == {"boards:read", "pins:read", "user_accounts:read"}
    account = await auto.call("GET", "/user_account", token=body["access_token"])
    assert account.status == 200
    assert account.body["username"] == "flowmixer_demo"


async def test_the_consent_page_approves_through_its_form(emulator: EmulatorHarness) -> None:
    status, _, page = await authorize(emulator)
    assert status == 200
    assert "flowmixer emulator demo app" in page
    assert "pins:read" in page
    assert "Approve" in page
    assert "Deny" in page
    form = {**ASK, "decision": "approve"}
    async with emulator.session.post(
        emulator.base + "/oauth/", data=form, allow_redirects=False
    ) as r:
        assert r.status == 302
        params = redirect_params(r.headers["Location"])
    assert params["state"] == "csrf-42"
    exchange = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": CALLBACK,
    }
    status, body = await token_call(emulator, exchange)
    assert status == 200, body


async def test_the_consent_page_can_approve_for_another_signed_in_user(
    emulator: EmulatorHarness,
) -> None:
    other = emulator.emu.add_user("second_user")
    form = {**ASK, "decision": "approve", "user": other.id}
    async with emulator.session.post(
        emulator.base + "/oauth/", data=form, allow_redirects=False
    ) as r:
        code = redirect_params(r.headers["Location"])["code"]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    _, body = await token_call(emulator, exchange)
    account = await emulator.call("GET", "/user_account", token=body["access_token"])
    assert account.body["username"] == "second_user"


async def test_denying_on_the_consent_page_redirects_with_access_denied(
    emulator: EmulatorHarness,
) -> None:
    async with emulator.session.post(
        emulator.base + "/oauth/", data={**ASK, "decision": "deny"}, allow_redirects=False
    ) as r:
        assert r.status == 302
        assert redirect_params(r.headers["Location"]) == {
            "error": "access_denied",
            "state": "csrf-42",
        }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_id": None}, "You must pass a value for client_id."),
        ({"client_id": "someone-else"}, "There is no app with client_id"),
        ({"redirect_uri": "https://evil.example/callback"}, "is not registered for this app"),
        ({"redirect_uri": "http://127.0.0.1:5555/other"}, "is not registered for this app"),
        ({"redirect_uri": "http://192.168.1.2:5555/callback"}, "is not registered for this app"),
    ],
    ids=["no-client", "unknown-client", "foreign-uri", "other-path", "not-loopback"],
)
async def test_requests_that_cannot_redirect_get_an_error_page(
    auto: EmulatorHarness, changes: dict[str, Any], message: str
) -> None:
    status, location, page = await authorize(auto, **changes)
    assert status == 400
    assert location == ""
    assert message in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": ""}, "invalid_scope"),
        ({"scope": "boards:read,read_public"}, "invalid_scope"),
    ],
    ids=["implicit-flow", "no-scope", "legacy-scope"],
)
async def test_bad_grant_requests_redirect_with_an_error_and_the_state(
    auto: EmulatorHarness, changes: dict[str, str], error: str
) -> None:
    status, location, _ = await authorize(auto, **changes)
    assert status == 302
    params = redirect_params(location)
    assert params["error"] == error
    assert params["state"] == "csrf-42"
    assert "code" not in params


async def test_registered_loopback_redirects_match_any_port(auto: EmulatorHarness) -> None:
    for uri in ("http://localhost:40123/callback", "http://127.0.0.1:1/oauth/callback"):
        status, location, _ = await authorize(auto, redirect_uri=uri)
        assert status == 302
        assert location.startswith(uri + "?")


async def test_a_wrong_client_secret_gets_401_code_2(auto: EmulatorHarness) -> None:
    code = await code_for(auto)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    status, body = await token_call(auto, form, basic("emulator-app", "guess"))
    assert (status, body) == (401, {"code": 2, "message": "Authentication failed."})
    assert "guess" not in json.dumps(body)


async def test_a_code_works_only_once(auto: EmulatorHarness) -> None:
    code = await code_for(auto)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    assert (await token_call(auto, form))[0] == 200
    status, body = await token_call(auto, form)
    assert status == 400
    assert body == {"code": 1, "message": "The authorization code has already been used."}


async def test_a_code_is_bound_to_its_redirect_uri(auto: EmulatorHarness) -> None:
    code = await code_for(auto)
    other = "http://127.0.0.1:5555/oauth/callback"
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": other}
    status, body = await token_call(auto, form)
    assert status == 400
    assert "redirect_uri does not match" in body["message"]


async def test_a_code_expires_after_ten_minutes(auto: EmulatorHarness) -> None:
    code = await code_for(auto)
    auto.clock.advance(601)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    status, body = await token_call(auto, form)
    assert status == 400
    assert "expired" in body["message"]


async def test_a_refresh_rotates_the_refresh_token_and_retires_the_old_one(
    auto: EmulatorHarness,
) -> None:
    first = await tokens(auto)
    status, second = await token_call(
        auto, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert status == 200, second
    assert second["response_type"] == "refresh_token"
    assert second["refresh_token"].startswith("pinr")
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token_expires_in"] == 5_184_000
    status, again = await token_call(
        auto, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert status == 400
    assert "refresh token is invalid, expired or revoked" in again["message"]
    status, _third = await token_call(
        auto, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert status == 200
    assert auto.emu.stats.token_requests == {"authorization_code": 1, "refresh_token": 3}


async def test_a_refresh_may_narrow_the_scopes_but_not_widen_them(auto: EmulatorHarness) -> None:
    first = await tokens(auto)
    narrow = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, body = await token_call(auto, {**narrow, "scope": "boards:read"})
    assert status == 200
    assert body["scope"] == "boards:read"
    wide = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    status, body = await token_call(auto, {**wide, "scope": "boards:read,pins:write"})
    assert status == 400
    assert "not granted: pins:write" in body["message"]


async def test_an_access_token_expires_when_the_clock_passes_its_lifetime(
    make_emulator: MakeEmulator,
) -> None:
    async with make_emulator(auto_approve=True, access_token_seconds=60) as h:
        body = await tokens(h)
        assert (await h.call("GET", "/user_account", token=body["access_token"])).status == 200
        h.clock.advance(61)
        expired = await h.call("GET", "/user_account", token=body["access_token"])
        assert (expired.status, expired.body["code"]) == (401, 2)
        form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        status, fresh = await token_call(h, form)
        assert status == 200
        assert (await h.call("GET", "/user_account", token=fresh["access_token"])).status == 200


async def test_a_refresh_token_expires_too(make_emulator: MakeEmulator) -> None:
    async with make_emulator(auto_approve=True, refresh_token_seconds=3600) as h:
        body = await tokens(h)
        h.clock.advance(3600)
        form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        status, answer = await token_call(h, form)
        assert status == 400
        assert "authorize again" in answer["message"]


async def test_revoking_an_access_token_stops_it_at_once(auto: EmulatorHarness) -> None:
    body = await tokens(auto)
    async with auto.session.post(
        auto.api + "/oauth/token/revoke",
        data={"token": body["access_token"], "token_type_hint": "access_token"},
        headers=CLIENT,
    ) as r:
        assert r.status == 200
        assert await r.read() == b""
    answer = await auto.call("GET", "/user_account", token=body["access_token"])
    assert answer.status == 401


async def test_revoking_a_refresh_token_also_ends_its_access_tokens(auto: EmulatorHarness) -> None:
    body = await tokens(auto)
    async with auto.session.post(
        auto.api + "/oauth/token/revoke", data={"token": body["refresh_token"]}, headers=CLIENT
    ) as r:
        assert r.status == 200
    form = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    assert (await token_call(auto, form))[0] == 400
    assert (await auto.call("GET", "/user_account", token=body["access_token"])).status == 401


async def test_an_app_cannot_revoke_another_apps_token(make_emulator: MakeEmulator) -> None:
    seed = json.loads(DEFAULT_SEED.read_text())
    seed["apps"].append({"client_id": "other-app", "client_secret": "other-secret"})
    async with make_emulator(seed=seed) as h:
        issued = h.emu.issue_token(client_id="other-app")
        async with h.session.post(
            h.api + "/oauth/token/revoke", data={"token": issued.access_token}, headers=CLIENT
        ) as r:
            assert r.status == 403
            assert (await r.json())["code"] == 29
        assert (await h.call("GET", "/user_account", token=issued.access_token)).status == 200


async def test_client_credentials_give_an_app_token_for_the_owner(auto: EmulatorHarness) -> None:
    status, body = await token_call(
        auto, {"grant_type": "client_credentials", "scope": "boards:read,boards:write"}
    )
    assert status == 200
    assert body["response_type"] == "client_credentials"
    assert "refresh_token" not in body
    boards = await auto.call("GET", "/boards", token=body["access_token"])
    assert boards.status == 200
    assert len(boards.body["items"]) == len(seeded_boards())
    board_id = boards.body["items"][0]["id"]
    refused = await auto.call("DELETE", f"/boards/{board_id}", token=body["access_token"])
    assert refused.status == 401
    assert refused.body["code"] == 3
    assert "client credentials" in refused.body["message"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"grant_type": "authorization_code", "redirect_uri": CALLBACK}, "code is required"),
        ({"grant_type": "refresh_token"}, "refresh_token is required"),
        ({"grant_type": "client_credentials"}, "scope is required"),
        ({"grant_type": "password"}, "grant_type 'password' is not supported"),
    ],
    ids=["no-code", "no-refresh-token", "no-scope", "unknown-grant"],
)
async def test_grant_requests_missing_a_field_are_refused_naming_it(
    auto: EmulatorHarness, form: dict[str, str], message: str
) -> None:
    with auto.deliberately_invalid() as problems:
        status, body = await token_call(auto, form)
    auto.assert_spec_problems(problems)
    assert status == 400
    assert message in body["message"]


async def test_the_token_endpoint_wants_a_form(auto: EmulatorHarness) -> None:
    with auto.deliberately_invalid():
        async with auto.session.post(
            auto.api + "/oauth/token", json={"grant_type": "client_credentials"}, headers=CLIENT
        ) as r:
            assert r.status == 400
            assert "application/x-www-form-urlencoded" in (await r.json())["message"]
