"""``flowmixer emulate pinterest`` in a real process: prints its URL, answers, stops on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.pinterest.emulator import DEFAULT_SEED

REPO = Path(__file__).resolve().parents[2]


FLOWMIXER = ("runtime.cli", "emulate", "pinterest")
MODULE = ("components.pinterest.emulator",)


def start(*arguments: str, command: tuple[str, ...] = MODULE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *command, "--port", "0", *arguments],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def stopped_at_exit(process: subprocess.Popen[str]) -> Iterator[None]:
    """Kill the process if the test left it running (the ``with Popen`` then closes its pipes)."""
    try:
        yield
    finally:
        if process.poll() is None:
            process.kill()


def banner(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Stop with"):
        line = process.stdout.readline()
        assert line, f"the emulator ended early: {process.stderr.read() if process.stderr else ''}"
        lines.append(line.rstrip("\n"))
    return lines


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM handling is POSIX")
@pytest.mark.parametrize("command", [FLOWMIXER, MODULE], ids=["flowmixer-emulate", "python-m"])
def test_the_command_serves_until_sigterm(tmp_path: Path, command: tuple[str, ...]) -> None:
    seed = json.loads(DEFAULT_SEED.read_text())
    seed["tokens"] = [
        {"user": "flowmixer_demo", "scopes": ["boards:read"], "access_token": "pina-cli"}
    ]
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    with start("--seed", str(seed_file), command=command) as process, stopped_at_exit(process):
        lines = banner(process)
        base = lines[0].removeprefix("Pinterest emulator listening on ")
        assert base.startswith("http://127.0.0.1:")
        assert f"  API base       {base}/v5" in lines
        assert "  client id      emulator-app" in lines
        assert "emulator-app-secret" not in "\n".join(lines)
        request = urllib.request.Request(
            base + "/v5/boards", headers={"Authorization": "Bearer pina-cli"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200
            names = {board["name"] for board in json.load(answer)["items"]}
            assert {"Recipes", "Travel"} <= names
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_the_secret_is_printed_only_when_asked() -> None:
    with start("--show-secret") as process, stopped_at_exit(process):
        assert "  client secret  emulator-app-secret" in banner(process)


def test_a_host_that_is_not_loopback_is_refused() -> None:
    process = subprocess.run(
        [sys.executable, "-m", *FLOWMIXER, "--host", "0.0.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == 1
    assert "listens only on a loopback address" in process.stderr
