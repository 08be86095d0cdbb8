"""``flowmixer auth login|list|logout`` against the emulator; no secret is ever printed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from runtime.auth.secretbox import generate_key
from runtime.cli import main
from runtime.logging import reset_logging
from tests.pinterest.auth_kit import CLIENT_ID, CLIENT_SECRET, LOOPBACK_REDIRECT
from tests.pinterest.emulator_harness import EmulatorHarness, MakeEmulator

SERVICE = "acme:pinterest"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", generate_key())
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    monkeypatch.setenv("FLOWMIXER_LOG_LEVEL", "debug")
    for name in ("FLOWMIXER_PINTEREST_CLIENT_ID", "FLOWMIXER_PINTEREST_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    yield home
    reset_logging()


async def flowmixer(*argv: str) -> int:
    """The command, run in a thread (it has its own event loop) while the emulator serves."""
    return await asyncio.to_thread(main, list(argv))


async def configure(harness: EmulatorHarness) -> None:
    app = harness.emu.state.apps[CLIENT_ID]
    app.redirect_uris = (*app.redirect_uris, LOOPBACK_REDIRECT)
    code = await flowmixer(
        "config",
        "set",
        SERVICE,
        f"clientId={CLIENT_ID}",
        f"clientSecret={CLIENT_SECRET}",
        f"apiBase={harness.api}",
        f"authorizeUrl={harness.base}/oauth/",
    )
    assert code == 0


async def login(harness: EmulatorHarness, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run ``auth login`` and play the browser; all it printed."""
    command = asyncio.create_task(
        flowmixer("auth", "login", "pinterest", *extra, "--timeout", "20")
    )
    printed = ""
    url = ""
    while not url:
        await asyncio.sleep(0.02)
        assert not command.done(), capsys.readouterr()
        out, err = capsys.readouterr()
        printed += out + err
        url = next((line for line in printed.splitlines() if line.startswith("http")), "")
    async with harness.session.get(url) as response:
        assert response.status == 200
    assert await command == 0
    out, err = capsys.readouterr()
    return printed + out + err


async def test_login_list_and_logout_never_print_a_secret(
    make_emulator: MakeEmulator, capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    async with make_emulator(auto_approve=True) as harness:
        await configure(harness)
        with capture_logs() as logs:
            printed = await login(harness, capsys)
            assert "Connected acme:pinterest account flowmixer_demo" in printed
            assert await flowmixer("auth", "list", "--json") == 0
            (listed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
            assert listed["account"] == "flowmixer_demo"
            assert listed["status"] == "connected"
            issued = [t for t in harness.emu.state.tokens.values() if not t.revoked]
            codes = list(harness.emu.state.codes)
            assert await flowmixer("auth", "logout", "flowmixer_demo") == 0
            out, err = capsys.readouterr()
            assert "tokens revoked" in out
            assert await flowmixer("auth", "list") == 0
            assert capsys.readouterr().out == ""
        assert all(token.revoked for token in issued)
        everything = printed + out + err + repr(logs)
        stored = (home / "flowmixer.db").read_bytes()
        for secret in [CLIENT_SECRET, *codes, *(t.value for t in issued)]:
            assert secret not in everything
            assert secret.encode() not in stored


async def test_login_asks_for_the_named_scopes_with_older_names_mapped(
    make_emulator: MakeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async with make_emulator(auto_approve=True) as harness:
        await configure(harness)
        printed = await login(harness, capsys, "--scopes", "read_users", "--account", "me")
        assert "scope=user_accounts%3Aread&" in printed
        assert "Connected acme:pinterest account me (user_accounts:read)" in printed


async def test_login_for_a_flow_asks_only_for_what_its_components_need(
    make_emulator: MakeEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flow = tmp_path / "boards.json"
    flow.write_text(
        json.dumps(
            {
                "id": "boards",
                "components": {
                    "hook": {"type": "flowmixer.core.Webhook"},
                    "board": {
                        "type": "acme.pinterest.GetBoard",
                        "source": {"in": {"hook": ["out"]}},
                    },
                },
            }
        )
    )
    async with make_emulator(auto_approve=True) as harness:
        await configure(harness)
        printed = await login(harness, capsys, "--flow", str(flow), "--account", "me")
        # GetBoard's scope, and what naming the account needs; nothing else.
        assert "scope=boards%3Aread%2Cuser_accounts%3Aread&" in printed
        assert "Connected acme:pinterest account me (boards:read, user_accounts:read)" in printed


def test_login_for_a_flow_that_uses_no_component_of_the_service_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flow = tmp_path / "plain.json"
    flow.write_text(
        json.dumps({"id": "plain", "components": {"hook": {"type": "flowmixer.core.Webhook"}}})
    )
    assert main(["auth", "login", "pinterest", "--flow", str(flow)]) == 1
    assert "uses acme:pinterest: there is nothing to log in for" in capsys.readouterr().err


def test_login_with_an_unknown_scope_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["auth", "login", "pinterest", "--scopes", "pins:read,everything"]) == 1
    assert "no scope 'everything'" in capsys.readouterr().err


def test_login_without_an_app_configured_says_how_to_configure_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["auth", "login", "pinterest"]) == 1
    assert "flowmixer config set acme:pinterest" in capsys.readouterr().err


def test_logout_of_an_unknown_account_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["auth", "logout", "nobody"]) == 1
    assert "no connected account 'nobody'" in capsys.readouterr().err


async def test_call_uses_the_connected_account_and_refuses_one_that_is_not(
    make_emulator: MakeEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PINTEREST_ACCESS_TOKEN", raising=False)
    async with make_emulator(auto_approve=True) as harness:
        await configure(harness)
        await login(harness, capsys, "--account", "kitchen")
        assert await flowmixer("call", "GetUserAccount", "--account", "kitchen") == 0
        (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert line["payload"]["username"] == "flowmixer_demo"
        assert await flowmixer("call", "GetUserAccount") == 0  # the only account
        capsys.readouterr()
        assert await flowmixer("call", "GetUserAccount", "--account", "nope") == 1
        err = capsys.readouterr().err
    assert "no account 'nope' is connected (connected: kitchen)" in err


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../etc<b>", "'../../etc<b>' has '/', '<', '>'"),
        ("..", "'..' alone is not a name"),
        ("x" * 65, "it has 65 characters, more than 64"),
        ("shop name", "'shop name' has ' '"),
    ],
    ids=["path-and-markup", "dot-dot", "too-long", "space"],
)
def test_login_under_a_name_that_is_not_accepted_is_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str], name: str, why: str
) -> None:
    assert main(["auth", "login", "pinterest", "--account", name]) != 0
    err = capsys.readouterr().err
    assert f"--account: {why}" in err
    assert "1 to 64 letters, digits, '-', '_' or '.'" in err


async def test_login_to_a_connected_name_asks_for_replace_and_keeps_the_tokens_without_it(
    make_emulator: MakeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async with make_emulator(auto_approve=True) as harness:
        await configure(harness)
        await login(harness, capsys, "--account", "shop")
        code = await flowmixer("auth", "login", "pinterest", "--account", "shop")
        err = capsys.readouterr().err
        assert code != 0
        assert "already has an account 'shop'" in err
        assert "--replace" in err
        assert harness.emu.stats.token_requests["authorization_code"] == 1  # no login began
        printed = await login(harness, capsys, "--account", "shop", "--replace")
        assert "Connected acme:pinterest account shop" in printed
        assert harness.emu.stats.token_requests["authorization_code"] == 2


async def test_login_named_by_the_profile_does_not_replace_a_connected_account(
    make_emulator: MakeEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    async with make_emulator(auto_approve=True) as harness:
        await configure(harness)
        await login(harness, capsys)  # named flowmixer_demo by its profile
        command = asyncio.create_task(flowmixer("auth", "login", "pinterest", "--timeout", "20"))
        url = ""
        printed = ""
        while not url:
            await asyncio.sleep(0.02)
            out, err = capsys.readouterr()
            printed += out + err
            url = next((line for line in printed.splitlines() if line.startswith("http")), "")
        async with harness.session.get(url) as response:
            assert response.status == 400
        assert await command != 0
        err = capsys.readouterr().err
        assert "already has an account 'flowmixer_demo'" in err
        assert "--replace" in err
