"""``flowmixer config``: set, get, list, unset and rotate-key; no secret is ever printed."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from runtime.auth.resolution import local_quotas
from runtime.auth.secretbox import generate_key
from runtime.cli import main
from runtime.logging import reset_logging
from runtime.quota import Quotas
from runtime.registry import Registry
from runtime.settings import Settings
from runtime.stores.sqlite import SQLiteStore

SERVICE = "acme:pinterest"
CLIENT_SECRET = "cli-client-secret-9b7e11"
PROMPTED_SECRET = "prompted-secret-55aa0c"


@pytest.fixture(autouse=True)
def _fresh_logging():
    yield
    reset_logging()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    monkeypatch.setenv("FLOWMIXER_LOG_LEVEL", "debug")
    for name in ("FLOWMIXER_SECRET_KEY", "FLOWMIXER_PINTEREST_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    return home


class Output:
    """Everything the commands of one test printed, on both streams."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen: list[str] = []

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        self.seen += [out, err]
        return code, out, err


@pytest.fixture
def cli(capsys) -> Output:
    return Output(capsys)


def stored_bytes(home: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(home.iterdir()) if path.is_file())


def test_set_get_list_and_unset_never_print_a_secret(cli, home, monkeypatch):
    code, out, _ = cli.run(
        "config", "set", SERVICE, "clientId=acme-app", f"clientSecret={CLIENT_SECRET}"
    )
    assert (code, out) == (0, "acme:pinterest: set clientId, clientSecret\n")

    code, out, _ = cli.run("config", "get", SERVICE)
    assert code == 0
    # Every key of the service manifest, in its order, unset ones said so.
    assert out.splitlines()[:3] == [
        "clientId = acme-app",
        "clientSecret = ****11",
        "apiBase = (not set)",
    ]
    code, out, _ = cli.run("config", "list", "--json")
    assert json.loads(out) == {SERVICE: {"clientId": "acme-app", "clientSecret": "****11"}}

    monkeypatch.setenv("FLOWMIXER_PINTEREST_CLIENT_ID", "env-app")
    code, out, _ = cli.run("config", "get", SERVICE)
    assert "clientId = env-app  (from FLOWMIXER_PINTEREST_CLIENT_ID)" in out.splitlines()

    code, out, _ = cli.run("config", "unset", SERVICE, "clientSecret")
    assert (code, out) == (0, "acme:pinterest: removed clientSecret\n")
    code, out, _ = cli.run("config", "get", SERVICE, "--json")
    assert json.loads(out) == {"clientId": "env-app"}

    assert all(CLIENT_SECRET not in text for text in cli.seen)
    assert CLIENT_SECRET.encode() not in stored_bytes(home)


def test_a_value_left_out_is_read_from_standard_input(cli, home, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PROMPTED_SECRET + "\n"))
    code, out, _ = cli.run("config", "set", SERVICE, "clientSecret")
    assert (code, out) == (0, "acme:pinterest: set clientSecret\n")
    code, out, _ = cli.run("config", "get", SERVICE, "--json")
    assert json.loads(out) == {"clientSecret": "****0c"}
    assert all(PROMPTED_SECRET not in text for text in cli.seen)
    assert PROMPTED_SECRET.encode() not in stored_bytes(home)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", SERVICE, "clientID=x"], "acme:pinterest has no configuration key 'clientID'"),
        (["set", "acme:nope", "clientId=x"], "there is no service 'acme:nope'"),
        (["set", SERVICE, "clientId="], "the value is empty"),
        (["unset", SERVICE, "bogus"], "no configuration key 'bogus'"),
        (["get", "acme:nope"], "there is no service 'acme:nope'"),
    ],
    ids=["unknown-key", "unknown-service", "empty-value", "unset-unknown-key", "get-unknown"],
)
def test_bad_requests_are_refused_with_exit_code_1(cli, argv, message):
    code, out, err = cli.run("config", *argv)
    assert code == 1
    assert out == ""
    assert message in err


def test_list_says_when_nothing_is_configured(cli):
    code, out, _ = cli.run("config", "list")
    assert (code, out) == (0, "no service is configured\n")


def test_rotate_key_seals_every_secret_with_the_new_key(cli, home, monkeypatch):
    old = generate_key()
    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", old)
    cli.run("config", "set", SERVICE, f"clientSecret={CLIENT_SECRET}")

    new = generate_key()
    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", f"{new},{old}")
    code, out, _ = cli.run("config", "rotate-key")
    assert code == 0
    assert out.startswith("sealed again with the first key: 1 secret value(s), 0 account(s)")

    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", new)
    code, out, _ = cli.run("config", "get", SERVICE, "--json")
    assert (code, json.loads(out)) == (0, {"clientSecret": "****11"})

    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", old)
    code, _, err = cli.run("config", "get", SERVICE)
    assert code == 1
    assert "cannot be opened with FLOWMIXER_SECRET_KEY" in err
    assert all(CLIENT_SECRET not in text and new not in text for text in cli.seen)
    assert not (home / "secret.key").exists()


def test_without_flowmixer_secret_key_a_private_key_file_is_made(cli, home):
    cli.run("config", "set", SERVICE, f"clientSecret={CLIENT_SECRET}")
    assert (home / "secret.key").stat().st_mode & 0o777 == 0o600


def test_a_value_without_a_key_is_refused_without_echoing_it(cli):
    code, out, err = cli.run("config", "set", SERVICE, f"={CLIENT_SECRET}")
    assert (code, out) == (1, "")
    assert "has no configuration key ''" in err
    assert CLIENT_SECRET not in err


def test_a_quota_set_with_the_cli_is_what_run_and_call_apply(home: Path) -> None:
    async def quotas_of_a_local_run() -> Quotas:
        settings = Settings.from_env()
        async with (
            await SQLiteStore.open(settings.db_path) as store,
            local_quotas(settings, Registry.load(), store) as quotas,
        ):
            return quotas

    assert main(["config", "set", SERVICE, "quota=org_write=7/60"]) == 0
    quotas = asyncio.run(quotas_of_a_local_run())

    limits = {r.resource: (r.limit, r.window) for r in quotas.rules(SERVICE)}
    assert limits["org_write"] == (7, 60)
    assert limits["org_read"] == (1000, 60)


def test_a_missing_key_file_with_sealed_secrets_is_an_error_and_no_new_key_is_made(cli, home):
    assert cli.run("config", "set", SERVICE, f"clientSecret={CLIENT_SECRET}")[0] == 0
    key_file = home / "secret.key"
    key_file.unlink()
    code, _, err = cli.run("config", "get", SERVICE)
    assert code != 0
    assert f"the key file {str(key_file)!r} is missing" in err
    assert "holds 1 secret(s) sealed with a key" in err
    assert "restore the key file" in err
    assert "FLOWMIXER_SECRET_KEY" in err
    assert "sealed with another key" not in err
    assert not key_file.exists()


def test_a_key_file_is_made_while_nothing_sealed_exists(cli, home):
    assert cli.run("config", "set", SERVICE, "clientId=acme-app")[0] == 0  # not a secret
    (home / "secret.key").unlink()
    assert cli.run("config", "set", SERVICE, f"clientSecret={CLIENT_SECRET}")[0] == 0
    assert (home / "secret.key").exists()
    code, out, _ = cli.run("config", "get", SERVICE, "--json")
    assert (code, json.loads(out)["clientSecret"]) == (0, "****11")
