"""On CI the spec checks cannot be switched off by a missing OpenAPI description."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# One test that needs the description and one that needs the (checked) emulator.
TESTS = [
    "tests/pinterest/test_openapi_checker.py::test_the_description_is_found_where_the_tests_expect_it",
    "tests/pinterest/test_emulator_boards.py",
]


def run_without_spec(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PINTEREST_OPENAPI"] = str(tmp_path / "absent.json")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TESTS[0], TESTS[1]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_missing_description_fails_the_spec_tests_when_ci_is_set(tmp_path: Path) -> None:
    result = run_without_spec(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout
    assert "CI is set, so the spec checks may not be skipped" in result.stdout
    assert f"ERROR {TESTS[0]}" in result.stdout
    assert f"ERROR {TESTS[1]}::" in result.stdout  # the emulator would have run unchecked
    assert "absent.json" in result.stdout


@pytest.mark.slow
def test_a_missing_description_only_skips_the_spec_tests_outside_ci(tmp_path: Path) -> None:
    result = run_without_spec(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "absent.json" in result.stdout
