"""Two real processes: `flowmixer emulate pinterest` and `flowmixer run` of the repin example."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
RECIPES = "600000000000000001"
ARCHIVE = "600000000000000003"


def read_until(stream: IO[str], pattern: str, timeout: float = 30) -> list[str]:
    """Lines of ``stream`` up to the first that contains ``pattern``."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if pattern in line:
            return lines
    raise AssertionError(f"{pattern!r} never came; got {lines}")


def create_pin(api: str, token: str, title: str) -> dict:
    body = {
        "board_id": RECIPES,
        "title": title,
        "media_source": {"source_type": "image_url", "url": "https://example.com/p.png"},
    }
    request = urllib.request.Request(
        f"{api}/pins",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        return json.loads(response.read())


def test_the_repin_example_copies_pins_made_while_it_runs_against_the_emulator(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "FLOWMIXER_HOME": str(tmp_path / "home")}
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.cli",
            "emulate",
            "pinterest",
            "--port",
            "0",
            "--issue-token",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = "".join(read_until(emulator.stdout, "Stop with"))
        api = re.search(r"API base\s+(\S+)", banner).group(1)
        token = re.search(r"access token\s+(\S+)", banner).group(1)
        assert api.startswith("http://127.0.0.1:")

        flow = json.loads((REPO / "examples" / "flows" / "repin-new-pins.json").read_text())
        flow["components"]["watch"]["config"]["properties"]["interval"] = 0.3
        path = tmp_path / "repin.json"
        path.write_text(json.dumps(flow))
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runtime.cli",
                "--log-format",
                "json",
                "run",
                str(path),
                "--duration",
                "4",
            ],
            env={**env, "PINTEREST_API_BASE": api, "PINTEREST_ACCESS_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        read_until(run.stderr, "baseline recorded")
        made = [create_pin(api, token, title) for title in ("Plum cake", "Pea soup")]
        out, err = run.communicate(timeout=60)
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.communicate(timeout=30)

    assert run.returncode == 0, err
    copies = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [c["payload"]["title"] for c in copies] == ["Plum cake", "Pea soup"]
    assert {c["payload"]["board_id"] for c in copies} == {ARCHIVE}
    assert {c["component"] for c in copies} == {"copy"}
    assert {c["payload"]["id"] for c in copies}.isdisjoint({p["id"] for p in made})
    assert token not in err  # the token never shows in the logs
