"""What a newcomer hits on the command line: log options anywhere, exit codes 2 and 130,
a description for every command, short service names."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.auth.secretbox import generate_key
from runtime.cli import build_parser, main
from runtime.logging import reset_logging

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "flows" / "webhook-filter-log.json"
ORDER = REPO / "examples" / "events" / "order.json"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", generate_key())
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    for name in ("FLOWMIXER_PINTEREST_CLIENT_ID", "FLOWMIXER_PINTEREST_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    yield home
    reset_logging()


def every_parser() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    def walk(
        prefix: str, parser: argparse.ArgumentParser
    ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield f"{prefix} {name}", sub
                    yield from walk(f"{prefix} {name}", sub)

    yield from walk("flowmixer", build_parser())


COMMANDS = sorted(name for name, _ in every_parser())


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "debug", "--log-format", "console", "validate", str(EXAMPLE)],
        ["validate", str(EXAMPLE), "--log-level", "debug", "--log-format", "console"],
        ["--log-format", "console", "validate", "--log-level", "debug", str(EXAMPLE)],
        ["dead-letters", "list", "--log-level", "debug", "--log-format", "console"],
        ["dead-letters", "--log-level", "debug", "list", "--log-format", "console"],
    ],
    ids=["before", "after", "split", "after-nested", "between"],
)
def test_log_options_work_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.log_level, args.log_format) == ("debug", "console")


def test_a_log_option_given_before_the_command_is_not_hidden_by_its_absence_after() -> None:
    args = build_parser().parse_args(["--log-level", "error", "validate", str(EXAMPLE)])
    assert (args.log_level, args.log_format) == ("error", None)


@pytest.mark.parametrize("level", [None, "warning"], ids=["default", "warning-after"])
def test_a_log_level_after_the_command_takes_effect(
    level: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(EXAMPLE), "--push", f"hook={ORDER}", "--until-idle"]
    assert main(argv + (["--log-level", level] if level else [])) == 0
    started = "flow started" in capsys.readouterr().err  # an info line
    assert started is (level is None)


def test_a_bad_log_option_after_the_command_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate", str(EXAMPLE), "--log-level", "loud"])
    assert exited.value.code == 2
    assert "--log-level: invalid choice: 'loud'" in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
def test_every_command_describes_itself_in_its_help(command: str) -> None:
    parser = dict(every_parser())[command]
    assert parser.description, f"{command} --help has no description"
    assert " ".join(parser.description.split()[:4]) in " ".join(parser.format_help().split())


@pytest.mark.parametrize(
    "spec", ["hook", "=event.json", "hook="], ids=["no-equals", "no-id", "no-file"]
)
def test_a_malformed_push_is_a_usage_error_that_exits_2(
    spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(EXAMPLE), "--push", spec, "--until-idle"]) == 2
    err = capsys.readouterr().err
    assert f"flowmixer run: error: --push {spec!r}: expected COMPONENT_ID=FILE.json" in err
    assert "flow started" not in err


def test_config_accepts_the_short_service_name_as_auth_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "set", "pinterest", "clientId=abc"]) == 0
    assert capsys.readouterr().out == "acme:pinterest: set clientId\n"
    assert main(["config", "get", "acme:pinterest"]) == 0
    assert "clientId = abc" in capsys.readouterr().out
    assert main(["config", "get", "pinterest"]) == 0
    assert "clientId = abc" in capsys.readouterr().out
    assert main(["config", "unset", "pinterest", "clientId"]) == 0
    assert capsys.readouterr().out == "acme:pinterest: removed clientId\n"
    assert main(["config", "get", "pinterest", "--json"]) == 0
    assert "clientId" not in capsys.readouterr().out


def test_config_of_an_unknown_short_name_lists_the_services(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "get", "pinterst"]) == 1
    assert "there is no service 'pinterst'; the services are: acme:pinterest" in (
        capsys.readouterr().err
    )


def interrupt(argv: list[str], ready: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Start ``flowmixer ARGV``, wait until it prints ``ready``, press Ctrl-C (SIGINT)."""
    env = {**os.environ, "FLOWMIXER_HOME": str(home), "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            seen = ""
            while ready not in seen:
                line = process.stdout.readline()
                assert line, f"ended early: {process.stderr.read() if process.stderr else ''}"
                seen += line
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    return subprocess.CompletedProcess(argv, process.returncode, seen + out, err)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_ends_the_emulator_with_exit_130(home: Path) -> None:
    result = interrupt(["emulate", "pinterest", "--port", "0"], "Stop with Ctrl-C", home)
    assert result.returncode == 130, result.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_ends_a_run_without_an_end_condition_with_exit_130(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    flow = home / "flow.json"
    flow.write_text(
        json.dumps(
            {
                "id": "ticks",
                "components": {
                    "start": {"type": "flowmixer.core.OnStart"},
                    "out": {"type": "flowmixer.core.Log", "source": {"in": {"start": ["out"]}}},
                },
            }
        )
    )
    result = interrupt(["run", str(flow)], "componentId", home)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_ends_a_login_waiting_for_the_browser_with_exit_130(home: Path) -> None:
    assert main(["config", "set", "pinterest", "clientId=abc", "clientSecret=def"]) == 0
    result = interrupt(["auth", "login", "pinterest"], "https://", home)
    assert result.returncode == 130, result.stderr
    assert "flowmixer: interrupted" in result.stderr
    assert "Traceback" not in result.stderr
