"""The event loop of ``serve`` and ``run``: uvloop when installed, else (or asked) asyncio's."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import event_loop
from runtime.errors import ConfigurationError

REPO = Path(__file__).resolve().parent.parent
FLOW = REPO / "examples" / "flows" / "webhook-filter-log.json"
ORDER = REPO / "examples" / "events" / "order.json"


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_runs_the_commands_by_default_when_installed(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("uvloop")
    monkeypatch.delenv(event_loop.EVENT_LOOP_VARIABLE, raising=False)
    assert event_loop.run(_loop_module()).startswith("uvloop")


def test_flowmixer_event_loop_asyncio_turns_uvloop_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(event_loop.EVENT_LOOP_VARIABLE, "asyncio")
    assert event_loop.run(_loop_module()).startswith("asyncio")


def test_an_unknown_event_loop_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(event_loop.EVENT_LOOP_VARIABLE, "trio")
    with pytest.raises(ConfigurationError) as caught:
        event_loop.loop_factory()
    assert str(caught.value) == (
        "FLOWMIXER_EVENT_LOOP='trio': expected one of auto, uvloop, asyncio"
    )


def _without_uvloop(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a child process where ``import uvloop`` fails."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['uvloop'] = None\n" + code],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_without_uvloop_asyncios_loop_runs_instead():
    done = _without_uvloop(
        "import asyncio\nfrom runtime.event_loop import run\n"
        "async def kind(): return type(asyncio.get_running_loop()).__module__\n"
        "print(run(kind()))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("asyncio")


def test_without_uvloop_asking_for_it_is_refused_with_how_to_install_it():
    done = _without_uvloop(
        "from runtime.event_loop import loop_factory\nloop_factory()",
        FLOWMIXER_EVENT_LOOP="uvloop",
    )
    assert done.returncode == 1
    assert "FLOWMIXER_EVENT_LOOP=uvloop: uvloop is not installed (pip install uvloop)" in (
        done.stderr
    )


def test_flowmixer_run_delivers_a_push_without_uvloop(tmp_path: Path):
    done = _without_uvloop(
        "from runtime.cli import main\n"
        f"push = 'hook=' + {str(ORDER)!r}\n"
        f"sys.exit(main(['run', {str(FLOW)!r}, '--push', push, '--until-idle']))",
        FLOWMIXER_HOME=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    outputs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert outputs, done.stdout
