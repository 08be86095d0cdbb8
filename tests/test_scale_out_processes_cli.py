"""The command lines of a scale-out's processes: ``serve --no-workers`` and ``worker`` need a
Redis server and a PostgreSQL database, and a worker says when Redis does not answer."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from runtime.auth import generate_key
from runtime.cli import main
from runtime.errors import ConfigurationError
from runtime.logging import reset_logging
from runtime.settings import REDIS_VISIBILITY, Settings
from tests.scale_out_kit import WorkerProcess, health

POSTGRES = "postgresql://flow:secret@127.0.0.1:5432/flows"
REDIS = "redis://127.0.0.1:6379/0"
COMMANDS = [
    pytest.param(["serve", "--port", "0", "--no-workers"], "--no-workers", id="serve --no-workers"),
    pytest.param(["worker"], "flowmixer worker", id="worker"),
]


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path))
    for name in ("FLOWMIXER_DATABASE_URL", "FLOWMIXER_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    # main() points the logs at this test's captured stderr: later tests must not write there.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    reset_logging()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(("command", "named"), COMMANDS)
def test_a_scale_out_process_without_redis_is_refused_naming_the_option(
    command: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database", POSTGRES, *command]) == 1
    err = capsys.readouterr().err
    assert f"{named} needs a Redis server" in err
    assert "--redis" in err
    assert "secret" not in err


@pytest.mark.parametrize(("command", "named"), COMMANDS)
def test_a_scale_out_process_on_sqlite_is_refused_naming_the_option(
    command: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--redis", REDIS, *command]) == 1
    err = capsys.readouterr().err
    assert f"{named} needs a PostgreSQL database" in err
    assert "--database" in err


def test_the_redis_visibility_timeout_is_read_from_the_environment() -> None:
    assert Settings.from_env({"FLOWMIXER_REDIS_VISIBILITY": "2.5"}).redis_visibility == 2.5
    assert Settings.from_env({}).redis_visibility == REDIS_VISIBILITY == 30
    with pytest.raises(ConfigurationError, match="FLOWMIXER_REDIS_VISIBILITY"):
        Settings.from_env({"FLOWMIXER_REDIS_VISIBILITY": "soon"})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(60)
async def test_a_workers_healthz_answers_503_naming_redis_when_redis_does_not_answer(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {
        "FLOWMIXER_DATABASE_URL": postgres_url,
        "FLOWMIXER_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
        "FLOWMIXER_SECRET_KEY": generate_key(),
    }
    worker = WorkerProcess(tmp_path / "worker", env)
    async with aiohttp.ClientSession() as session:
        try:
            status, body = await health(session, await worker.start())
        finally:
            await worker.stop()

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["reachable"] == {"database": True, "redis": False}
    assert body["role"] == "worker"
