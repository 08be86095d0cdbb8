"""``flowmixer dead-letters``: filters, pages, counts, bulk retry and drop, JSON output."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.envelope import Envelope
from runtime.logging import reset_logging
from runtime.stores import DeadLetter, SQLiteStore


@pytest.fixture(autouse=True)
def _fresh_logging():
    yield
    reset_logging()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOWMIXER_HOME", str(home))
    monkeypatch.setenv("FLOWMIXER_LOG_FORMAT", "json")
    letters = [
        ("a", "copy", "NotFoundError", "HTTP 404, Pinterest code 40: Board not found.", 100.0),
        ("b", "watch", "ServerError", "HTTP 503, Pinterest code 503: Unavailable.", 200.0),
        ("c", "copy", "NotFoundError", "HTTP 404, Pinterest code 50: Pin not found.", 300.0),
        ("d", "copy", "CancelError", "rejected 'spam'", 400.0),
    ]

    async def seed() -> None:
        async with await SQLiteStore.open(home / "flowmixer.db") as store:
            for letter_id, component, error_type, error, failed_at in letters:
                envelope = Envelope("repin", component, "in", {"n": letter_id}, "e-" + letter_id)
                await store.add_dead_letter(
                    DeadLetter(letter_id, envelope, error, error_type, 3, failed_at)
                )
            other = Envelope("other", "copy", "in", {}, "e-z")
            await store.add_dead_letter(DeadLetter("z", other, "HTTP 404", "NotFoundError", 1, 50))

    asyncio.run(seed())
    return home


def ids_listed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(["dead-letters", "list", "--json", *argv]) == 0
    return [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]


FILTERS = {
    "flow": (["--flow", "repin"], ["d", "c", "b", "a"]),
    "component": (["--component", "watch"], ["b"]),
    "error type": (["--error-type", "NotFoundError"], ["c", "a", "z"]),
    "since and until": (["--since", "200", "--until", "1970-01-01T00:05:00Z"], ["b"]),
    "search in any case": (["--search", "NOT FOUND"], ["c", "a"]),
    "combined": (["--flow", "repin", "--error-type", "NotFoundError", "--since", "150"], ["c"]),
}


@pytest.mark.parametrize(("argv", "expected"), FILTERS.values(), ids=FILTERS.keys())
def test_list_shows_the_letters_every_filter_matches_newest_first(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
):
    assert ids_listed(capsys, *argv) == expected


def test_list_pages_with_the_cursor_it_prints_on_standard_error(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["dead-letters", "list", "--limit", "2"]) == 0
    first = capsys.readouterr()
    cursor = first.err.split("--cursor ")[1].split()[0]
    second = ids_listed(capsys, "--limit", "2", "--cursor", cursor)

    assert [line.split()[0] for line in first.out.splitlines()] == ["d", "c"]
    assert second == ["b", "a"]


def test_count_tells_how_many_per_flow_component_and_error_type(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["dead-letters", "count", "--flow", "repin"]) == 0
    text = capsys.readouterr().out
    assert main(["dead-letters", "count", "--json", "--error-type", "NotFoundError"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert "       2  repin/copy  NotFoundError" in text
    assert text.splitlines()[-1] == "       4  in all"
    assert rows == [
        {"flow_id": "other", "component_id": "copy", "error_type": "NotFoundError", "count": 1},
        {"flow_id": "repin", "component_id": "copy", "error_type": "NotFoundError", "count": 2},
    ]


def test_retry_all_marks_only_the_matching_letters_of_the_flow(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    argv = ["dead-letters", "retry", "--flow", "repin", "--all", "--error-type", "NotFoundError"]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert main(["dead-letters", "list", "--json"]) == 0
    marked = {
        letter["id"]: letter["retry_requested"]
        for letter in map(json.loads, capsys.readouterr().out.splitlines())
    }

    assert result == {"count": 2, "missing": []}
    assert marked == {"a": True, "b": False, "c": True, "d": False, "z": False}


def test_a_bulk_drop_needs_yes_and_then_drops_only_what_matches(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    argv = ["dead-letters", "drop", "--flow", "repin", "--all", "--until", "250"]

    assert main(argv) == 1
    refused = capsys.readouterr().err
    assert ids_listed(capsys) == ["d", "c", "b", "a", "z"]
    assert main([*argv, "--yes"]) == 0
    dropped = capsys.readouterr().out

    assert "this would drop 2 dead letter(s) of flow 'repin'; add --yes to drop them" in refused
    assert dropped.strip() == "2 dead letter(s) dropped"
    assert ids_listed(capsys) == ["d", "c", "z"]


def test_named_letters_are_retried_and_dropped_and_unknown_ones_named(
    home: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["dead-letters", "drop", "a", "nope", "--json"]) == 1
    out, err = capsys.readouterr()

    assert json.loads(out) == {"count": 1, "missing": ["nope"]}
    assert "there is no dead letter 'nope'" in err
    assert "a" not in ids_listed(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["retry", "a", "--flow", "repin"],
            "filters (--flow, --component...) only apply with --all",
        ),
        (["retry", "a", "--all", "--flow", "repin"], "name dead letters (ID ...) or use --all"),
        (["drop", "--all", "--yes"], "--all needs --flow FLOW_ID"),
        (["list", "--since", "last week"], "--since: 'last week' is not a time"),
        (["list", "--cursor", "bogus"], "the cursor 'bogus' is not one this store gave"),
        (["list", "--limit", "0"], "limit must be at least 1"),
        (["show", "nope"], "there is no dead letter 'nope'"),
    ],
    ids=[
        "ids with filters",
        "ids with all",
        "all without flow",
        "bad time",
        "bad cursor",
        "no room",
        "unknown id",
    ],
)
def test_bad_requests_are_refused_with_exit_1_saying_what_is_wrong(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
):
    assert main(["dead-letters", *argv]) == 1
    assert message in capsys.readouterr().err
    assert len(ids_listed(capsys)) == 5


def test_the_commands_work_in_a_real_process(home: Path):
    env = {**os.environ, "FLOWMIXER_HOME": str(home)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli", "dead-letters", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )

    refused = run("drop", "--flow", "repin", "--all")
    dropped = run("drop", "--flow", "repin", "--all", "--search", "pin not found", "--yes")
    counted = run("count", "--json")

    assert refused.returncode == 1
    assert "add --yes" in refused.stderr
    assert (dropped.returncode, dropped.stdout.strip()) == (0, "1 dead letter(s) dropped")
    assert sum(json.loads(line)["count"] for line in counted.stdout.splitlines()) == 4
