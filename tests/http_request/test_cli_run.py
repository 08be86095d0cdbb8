"""HttpRequest through the commands a person types: the key set with ``flowmixer config``, a
flow checked with ``validate`` and run with ``flowmixer run``; the key is in no output."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.logging import reset_logging
from runtime.plugins import PATH_VARIABLE
from tests.http_request import kit

API_KEY = "wx-cli-key-3d9f0b6c2e"


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("X-Api-Key") != API_KEY:
            self._answer(401, {"message": "no key"})
        elif self.path.startswith("/v1/forecast/"):
            self._answer(200, {"city": self.path.rsplit("/", 1)[-1], "sky": "clear"})
        else:  # echoes the key it got, as careless servers do
            self._answer(404, {"message": f"nothing here for {self.headers.get('X-Api-Key')}"})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    monkeypatch.setenv("FLOWMIXER_LOG_LEVEL", "debug")
    monkeypatch.setenv(PATH_VARIABLE, str(kit.SERVICES))
    monkeypatch.delenv("FLOWMIXER_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLOWMIXER_WEATHER_API_KEY", raising=False)
    yield home
    reset_logging()


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_a_flow_calls_an_api_with_the_configured_key_and_never_prints_it(tmp_path, api, capsys):
    auth = {"service": "acme:weather", "header": "X-Api-Key", "secret": "apiKey"}
    flow = write(tmp_path, "flow.json", kit.flow({"url": "/forecast/{{city}}", "auth": auth}))
    missing = write(tmp_path, "missing.json", kit.flow({"url": "/nowhere", "auth": auth}))
    event = write(tmp_path, "event.json", {"city": "Oslo"})
    printed: list[str] = []

    def run(*argv: str) -> int:
        code = main(list(argv))
        out, err = capsys.readouterr()
        printed.extend([out, err])
        return code

    assert run("validate", flow) == 0
    assert run("run", flow, "--push", f"hook={event}", "--until-idle") == 1
    assert "`flowmixer config set acme:weather apiKey=...`" in printed[-1]

    assert run("config", "set", "acme:weather", f"apiKey={API_KEY}", f"apiBase={api}") == 0
    assert run("run", flow, "--push", f"hook={event}", "--until-idle") == 0
    [line] = [json.loads(text) for text in printed[-2].splitlines() if text.startswith("{")]
    assert line["payload"]["body"] == {"city": "Oslo", "sky": "clear"}

    assert run("run", missing, "--push", f"hook={event}", "--until-idle") == 3
    assert run("dead-letters", "list", "--json") == 0
    assert run("config", "list") == 0
    assert "404" in printed[-4]  # the dead letter
    assert all(API_KEY not in text for text in printed)
