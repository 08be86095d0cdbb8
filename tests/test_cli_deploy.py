"""``flowmixer deploy`` against a real ``flowmixer serve`` child process: hook URLs and secrets
printed once, problems by JSON path, one line for a server that cannot be reached."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.serve_process import ADMIN_TOKEN, REPO, Admin, ServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FLOW = {
    "id": "orders",
    "components": {
        "hook": {"type": "flowmixer.core.Webhook"},
        "big": {
            "type": "flowmixer.core.Filter",
            "source": {"in": {"hook": ["out"]}},
            "config": {"properties": {"field": "total", "operator": "exists"}},
        },
    },
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    process = ServeProcess(tmp_path / "server-home", {})
    await process.start()
    yield process
    await process.stop()


async def deploy(
    tmp_path: Path, *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """``flowmixer deploy ARGV`` in a process of its own: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runtime.cli",
        "deploy",
        *argv,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "FLOWMIXER_HOME": str(tmp_path / "client-home"),
            "FLOWMIXER_ADMIN_TOKEN": ADMIN_TOKEN,
            **(env or {}),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def write(tmp_path: Path, flow: dict[str, Any]) -> str:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    return str(path)


async def flows(server: ServeProcess) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        status, body = await Admin(session, server.url).api("GET", "/api/flows")
    assert status == 200
    return {flow["id"]: flow for flow in body["flows"]}


async def test_deploy_prints_each_hooks_url_and_its_secret_once(
    server: ServeProcess, tmp_path: Path
) -> None:
    path = write(tmp_path, FLOW)
    code, out, err = await deploy(tmp_path, path, "--start", "--server", server.url)
    assert code == 0, err
    assert "Deployed flow 'orders' and started it" in out
    url = f"{server.url}/hooks/orders/hook"
    assert f"  hook hook  {url}" in out
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("    secret"))
    assert len(secret) >= 32
    async with aiohttp.ClientSession() as session:
        admin = Admin(session, server.url)
        assert await admin.push("/hooks/orders/hook", {"total": 3}, secret) == 202
        assert (await admin.api("POST", "/api/flows/orders/stop"))[0] == 200
    again_code, again, _ = await deploy(tmp_path, path, "--server", server.url)
    assert again_code == 0
    assert secret not in again  # shown once
    assert "secret (unchanged: shown when the hook was first deployed)" in again


async def test_deploy_without_start_leaves_the_flow_stopped_and_uses_flowmixer_server(
    server: ServeProcess, tmp_path: Path
) -> None:
    code, out, err = await deploy(
        tmp_path, write(tmp_path, FLOW), env={"FLOWMIXER_SERVER": server.url + "/"}
    )
    assert code == 0, err
    assert "Not started: deploy with --start" in out
    assert (await flows(server))["orders"]["status"] == "stopped"


async def test_a_refused_flow_is_printed_by_json_path_and_exits_1(
    server: ServeProcess, tmp_path: Path
) -> None:
    broken = json.loads(json.dumps(FLOW))
    broken["components"]["big"]["type"] = "flowmixer.core.Filtr"
    broken["components"]["big"]["source"]["in"] = {"nowhere": ["out"]}
    code, out, err = await deploy(tmp_path, write(tmp_path, broken), "--server", server.url)
    assert code == 1
    assert out == ""
    assert "invalid flow" in err
    assert "$.components.big.type" in err
    assert "nowhere" in err
    assert "Traceback" not in err
    assert "orders" not in await flows(server)


async def test_a_wrong_admin_token_is_refused_without_being_printed(
    server: ServeProcess, tmp_path: Path
) -> None:
    code, _, err = await deploy(
        tmp_path,
        write(tmp_path, FLOW),
        "--server",
        server.url,
        env={"FLOWMIXER_ADMIN_TOKEN": "not-the-token-0123456789"},
    )
    assert code == 1
    assert "the server refused the admin token in FLOWMIXER_ADMIN_TOKEN" in err
    assert "not-the-token" not in err


async def test_a_server_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = await deploy(
        tmp_path, write(tmp_path, FLOW), "--server", f"http://127.0.0.1:{port}"
    )
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"cannot reach the server at http://127.0.0.1:{port}" in lines[0]


@pytest.mark.parametrize(
    ("argv", "env", "code", "message"),
    [
        (["--server", "127.0.0.1:8080"], {}, 2, "--server '127.0.0.1:8080': expected a URL"),
        ([], {"FLOWMIXER_ADMIN_TOKEN": ""}, 1, "FLOWMIXER_ADMIN_TOKEN is not set"),
    ],
    ids=["server-not-a-url", "no-token"],
)
async def test_deploy_refuses_a_bad_set_up_before_sending_anything(
    tmp_path: Path, argv: list[str], env: dict[str, str], code: int, message: str
) -> None:
    got, _, err = await deploy(tmp_path, write(tmp_path, FLOW), *argv, env=env)
    assert got == code
    assert message in err


async def test_a_flow_file_that_is_not_json_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text('{"id": }')
    code, _, err = await deploy(tmp_path, str(path), "--server", "http://127.0.0.1:9")
    assert code == 1
    assert "$: not JSON: Expecting value at line 1 column 8" in err
