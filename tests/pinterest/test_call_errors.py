"""``flowmixer call`` with a token: the API base set for the service applies to it, and what
goes wrong is said of the component, its properties and its token, never of a flow."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from runtime.auth.credentials import SeveralAccountsError
from runtime.cli import main
from runtime.cli.call import credentials_for
from runtime.errors import ConfigurationError
from runtime.logging import reset_logging
from runtime.registry import Registry
from tests.pinterest.emulator_harness import EmulatorHarness

REPO = Path(__file__).resolve().parents[2]
BOARD = "600000000000000001"  # "Recipes" in the emulator's seed
GET_BOARD = ["call", "GetBoard", "--input", json.dumps({"boardId": BOARD})]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The process environment without any Pinterest setting, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PINTEREST_", "FLOWMIXER_PINTEREST_", "FLOWMIXER_HOME"))
    }
    return {**env, "PYTHONPATH": str(REPO), "FLOWMIXER_HOME": str(home), **extra}


async def flowmixer(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime.cli",
        "--log-level",
        "warning",
        *argv,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_flowmixer_api_base_variable_applies_to_an_environment_token(
    emulator: EmulatorHarness, tmp_path: Path
) -> None:
    env = clean_env(
        tmp_path,
        PINTEREST_ACCESS_TOKEN=emulator.token(),
        FLOWMIXER_PINTEREST_API_BASE=emulator.api,
    )
    code, out, err = await flowmixer(env, *GET_BOARD)
    assert code == 0, err
    [line] = [json.loads(x) for x in out.splitlines()]
    assert (line["port"], line["payload"]["id"]) == ("out", BOARD)


async def test_the_app_configurations_api_base_applies_to_an_environment_token(
    emulator: EmulatorHarness, tmp_path: Path
) -> None:
    env = clean_env(tmp_path, PINTEREST_ACCESS_TOKEN=emulator.token())
    code, _, err = await flowmixer(
        env, "config", "set", "acme:pinterest", f"apiBase={emulator.api}"
    )
    assert code == 0, err
    code, out, err = await flowmixer(env, *GET_BOARD)
    assert code == 0, err
    assert json.loads(out)["payload"]["id"] == BOARD


async def test_a_refused_token_in_call_says_the_token_was_refused_and_not_a_flow(
    emulator: EmulatorHarness, tmp_path: Path
) -> None:
    token = "pina_not-a-token-of-this-emulator"
    env = clean_env(tmp_path, PINTEREST_ACCESS_TOKEN=token, PINTEREST_API_BASE=emulator.api)
    code, out, err = await flowmixer(env, *GET_BOARD)
    assert (code, out) == (1, "")
    last = err.strip().splitlines()[-1]
    assert last.startswith("flowmixer: acme.pinterest.GetBoard failed: ")
    assert "refused the token in PINTEREST_ACCESS_TOKEN" in last
    assert "flow" not in last.removeprefix("flowmixer: ")
    assert token not in err


def test_call_with_neither_account_nor_token_names_both_ways_and_no_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("PINTEREST_", "FLOWMIXER_PINTEREST_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    try:
        code = main(GET_BOARD)
    finally:
        reset_logging()
    [line] = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert line.startswith("flowmixer: acme.pinterest.GetBoard calls acme:pinterest, and ")
    assert "`flowmixer auth login pinterest`" in line
    assert "set PINTEREST_ACCESS_TOKEN" in line
    assert "flow " not in line
    assert "<" not in line


def test_call_with_several_accounts_is_told_to_choose_one_with_account() -> None:
    manifest = Registry.load().get("acme.pinterest.GetBoard")

    def several(*_: object) -> None:
        raise SeveralAccountsError("acme:pinterest", ["studio", "shop"])

    with pytest.raises(ConfigurationError) as caught:
        credentials_for(manifest, several, None)
    message = str(caught.value)
    assert message == (
        "acme.pinterest.GetBoard calls acme:pinterest, which has several accounts"
        " (shop, studio); choose one with --account shop"
    )
