"""Choosing the database: URLs, ``--database`` / ``FLOWMIXER_DATABASE_URL``, passwords never
shown, and the commands not yet on PostgreSQL refusing it in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runtime.auth import generate_key
from runtime.cli import main
from runtime.errors import ConfigurationError
from runtime.logging import reset_logging
from runtime.settings import Settings
from runtime.stores import MemoryStore, SQLiteStore
from runtime.stores.urls import open_store, parse_url

PG = "postgresql://flow:pa%3Ass@db.internal:5433/flowmixer"


@pytest.fixture(autouse=True)
def _fresh_logging():
    yield
    reset_logging()


def test_a_sqlite_url_with_three_slashes_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    url = parse_url("sqlite:///data/flow.db")

    assert (url.kind, url.path) == ("sqlite", tmp_path / "data" / "flow.db")
    assert url.redacted() == f"sqlite:///{tmp_path / 'data' / 'flow.db'}"


def test_a_sqlite_url_with_four_slashes_is_absolute():
    assert parse_url("sqlite:////var/lib/flowmixer.db").path == Path("/var/lib/flowmixer.db")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
def test_postgres_urls_are_kept_as_given_for_the_driver(scheme: str):
    url = parse_url(f"{scheme}://flow:pw@db:5432/name?sslmode=require")

    assert url.kind == "postgres"
    assert url.text == f"{scheme}://flow:pw@db:5432/name?sslmode=require"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (PG, "postgresql://flow:***@db.internal:5433/flowmixer"),
        ("postgres://flow@db/x", "postgres://flow@db/x"),
        ("postgresql://db/x?user=u&password=hunter2", "postgresql://db/x?user=u&password=***"),
    ],
    ids=["in the address", "none", "in the query"],
)
def test_a_postgres_password_never_shows_in_its_redacted_form_or_repr(given: str, shown: str):
    url = parse_url(given)

    assert url.redacted() == shown == str(url)
    assert "pa%3Ass" not in repr(url)
    assert "hunter2" not in repr(url)


@pytest.mark.parametrize(
    "given",
    [
        "mysql://u:secret@h/db",
        "/var/lib/flowmixer.db",
        "sqlite://host/file.db",
        "sqlite:///",
        "sqlite:///x.db?mode=ro",
        "postgresql://u:secret@h:notaport/db",
    ],
    ids=["other scheme", "bare path", "sqlite host", "no path", "sqlite query", "bad port"],
)
def test_a_url_that_is_not_accepted_is_refused_naming_the_option_without_secrets(given: str):
    with pytest.raises(ConfigurationError, match=r"^--database") as caught:
        parse_url(given, name="--database")

    assert "secret" not in str(caught.value)


def test_the_default_database_is_the_file_in_the_home_and_the_variable_overrides_it(
    tmp_path: Path,
):
    home = tmp_path / "home"

    default = Settings.from_env({"FLOWMIXER_HOME": str(home)})
    chosen = Settings.from_env(
        {"FLOWMIXER_HOME": str(home), "FLOWMIXER_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )

    assert default.database.path == default.db_path == home / "flowmixer.db"
    assert chosen.database.path == chosen.db_path == tmp_path / "x.db"


def test_a_bad_database_variable_is_refused_naming_it():
    with pytest.raises(ConfigurationError, match=r"^FLOWMIXER_DATABASE_URL is 'nope'"):
        Settings.from_env({"FLOWMIXER_DATABASE_URL": "nope"})


async def test_open_store_opens_the_backend_the_url_names(tmp_path: Path):
    store = await open_store(f"sqlite:///{tmp_path}/a.db")
    try:
        assert isinstance(store, SQLiteStore)
        assert not isinstance(store, MemoryStore)
        await store.set_state("f", "c", "k", 1)
        assert await store.get_state("f", "c", "k") == 1
    finally:
        await store.close()
    assert (tmp_path / "a.db").exists()


@pytest.mark.parametrize("command", ["serve", "run"])
def test_serve_and_run_on_an_unreachable_postgres_database_fail_in_one_line_without_its_password(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWMIXER_SECRET_KEY", generate_key())
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://flow:pa%3Ass@127.0.0.1:{port}/flows"
    args = [command, "--database", url]
    if command == "run":
        args.append(
            str(Path(__file__).resolve().parents[2] / "examples" / "flows" / "schedule-log.json")
        )
    else:
        args += ["--port", "0", "--broker", "memory"]

    code = main(args)

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert f"cannot open the flowmixer database postgresql://flow:***@127.0.0.1:{port}" in err
    assert "pa%3Ass" not in err


def test_the_database_option_is_accepted_before_the_command_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path / "home"))

    code = main(["--database", f"sqlite:///{tmp_path}/other.db", "db", "status"])

    assert code == 0
    assert f"database: sqlite:///{tmp_path}/other.db" in capsys.readouterr().out
