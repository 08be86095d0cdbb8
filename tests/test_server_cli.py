"""``flowmixer serve`` as a process: it listens, answers, and stops gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from runtime.cli import build_parser
from runtime.cli.serve import public_url
from runtime.errors import ConfigurationError
from tests.server_kit import ADMIN_TOKEN, ORDERS

REPO = Path(__file__).resolve().parent.parent


def test_serve_binds_127_0_0_1_on_port_8080_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.public_url) == ("127.0.0.1", 8080, None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "http://127.0.0.1:8080"),
        ("https://flows.example.com/", "https://flows.example.com"),
        ("http://10.0.0.5:9000/base", "http://10.0.0.5:9000/base"),
    ],
    ids=["default", "trailing slash", "with path"],
)
def test_the_public_url_defaults_to_the_bound_address(given: str | None, expected: str) -> None:
    assert public_url(given, "127.0.0.1", 8080) == expected


@pytest.mark.parametrize(
    "given", ["flows.example.com", "ftp://x", "https://x/?a=1"], ids=["no scheme", "ftp", "query"]
)
def test_a_public_url_that_is_not_http_is_refused(given: str) -> None:
    with pytest.raises(ConfigurationError, match="--public-url"):
        public_url(given, "127.0.0.1", 8080)


class Process:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    async def event(self, name: str) -> dict[str, object]:
        """Read standard error until the JSON log line of event ``name``."""
        assert self.proc.stderr is not None
        async with asyncio.timeout(20):
            while True:
                raw = await self.proc.stderr.readline()
                assert raw, "the server ended early:\n" + "".join(self.lines)
                line = raw.decode()
                self.lines.append(line)
                with_event: dict[str, object] = json.loads(line) if line.startswith("{") else {}
                if with_event.get("event") == name:
                    return with_event

    async def finish(self) -> tuple[int, str]:
        _, rest = await asyncio.wait_for(self.proc.communicate(), 30)
        return await self.proc.wait(), "".join(self.lines) + rest.decode()


async def _serve(home: Path) -> Process:
    env = {
        **os.environ,
        "FLOWMIXER_HOME": str(home),
        "FLOWMIXER_LOG_FORMAT": "json",
        "FLOWMIXER_ADMIN_TOKEN": ADMIN_TOKEN,
        "PYTHONPATH": str(REPO),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime.cli",
        "serve",
        "--port",
        "0",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Process(proc)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as s:
        yield s


async def test_the_server_runs_until_sigterm_and_starts_its_running_flows_again(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await _serve(tmp_path)
    listening = await server.event("server listening")
    url = f"http://127.0.0.1:{listening['port']}"
    async with http.post(url + "/api/flows", json=ORDERS) as response:
        secret = (await response.json())["hooks"][0]["secret"]
    async with http.post(url + "/api/flows/orders/start") as response:
        assert response.status == 200
    server.proc.send_signal(signal.SIGTERM)
    await server.event("server stopping")
    code, output = await server.finish()

    again = await _serve(tmp_path)
    listening = await again.event("server listening")
    url = f"http://127.0.0.1:{listening['port']}"
    async with http.get(url + "/healthz") as response:
        health = await response.json()
    again.proc.send_signal(signal.SIGINT)
    second_code, second_output = await again.finish()

    assert (code, second_code) == (0, 130)  # SIGTERM is how services stop; Ctrl-C interrupts
    assert '"flow stopped"' in output
    assert listening["flows_running"] == ["orders"]
    assert health == {
        "status": "ok",
        "flows": {"starting": 0, "running": 1, "paused": 0, "stopping": 0},
    }
    for text in (output, second_output):
        assert ADMIN_TOKEN not in text
        assert secret not in text
