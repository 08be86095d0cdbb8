from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import ConfigurationError
from runtime.settings import LOG_FORMATS, LOG_LEVELS, Settings


def test_an_empty_environment_gives_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    assert settings.home == (tmp_path / ".flowmixer").resolve()
    assert settings.db_path == settings.home / "flowmixer.db"
    assert settings.log_format == "auto"
    assert settings.log_level == "info"


def test_the_environment_sets_every_field(tmp_path: Path):
    settings = Settings.from_env(
        {
            "FLOWMIXER_HOME": str(tmp_path / "home"),
            "FLOWMIXER_LOG_FORMAT": "json",
            "FLOWMIXER_LOG_LEVEL": "debug",
            "FLOWMIXER_HEADER_TIMEOUT": "2.5",
            "FLOWMIXER_BODY_TIMEOUT": "120",
            "FLOWMIXER_LOG_DIR": str(tmp_path / "logs"),
        }
    )

    assert settings == Settings(
        home=tmp_path / "home",
        log_format="json",
        log_level="debug",
        header_timeout=2.5,
        body_timeout=120.0,
        log_dir=tmp_path / "logs",
    )
    assert settings.logs_path == tmp_path / "logs"


def test_the_log_folder_defaults_to_logs_in_the_home(tmp_path: Path):
    assert Settings.from_env({"FLOWMIXER_HOME": str(tmp_path)}).logs_path == tmp_path / "logs"


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "1e9"])
@pytest.mark.parametrize(
    "name",
    ["FLOWMIXER_HEADER_TIMEOUT", "FLOWMIXER_BODY_TIMEOUT", "FLOWMIXER_REDIS_VISIBILITY"],
)
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused_naming_it(
    name: str, value: str
):
    with pytest.raises(ConfigurationError, match=f"{name} is '{value}'.*seconds above 0"):
        Settings.from_env({name: value})


def test_without_a_mapping_the_process_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FLOWMIXER_HOME", str(tmp_path))
    monkeypatch.setenv("FLOWMIXER_LOG_LEVEL", "error")

    settings = Settings.from_env()

    assert settings.home == tmp_path.resolve()
    assert settings.log_level == "error"


def test_a_relative_home_is_resolved_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({"FLOWMIXER_HOME": "data/../state"})

    assert settings.home == (tmp_path / "state").resolve()
    assert settings.home.is_absolute()


def test_a_home_starting_with_a_tilde_is_in_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HOME", str(tmp_path))

    assert Settings.from_env({"FLOWMIXER_HOME": "~/fm"}).home == (tmp_path / "fm").resolve()


def test_choices_ignore_case_and_surrounding_spaces():
    settings = Settings.from_env(
        {"FLOWMIXER_LOG_FORMAT": " JSON ", "FLOWMIXER_LOG_LEVEL": "Warning"}
    )

    assert (settings.log_format, settings.log_level) == ("json", "warning")


def test_empty_variables_count_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    empty = {"FLOWMIXER_HOME": "", "FLOWMIXER_LOG_FORMAT": "  ", "FLOWMIXER_LOG_LEVEL": ""}

    assert Settings.from_env(empty) == Settings.from_env({})


@pytest.mark.parametrize(
    ("variable", "accepted"),
    [("FLOWMIXER_LOG_FORMAT", LOG_FORMATS), ("FLOWMIXER_LOG_LEVEL", LOG_LEVELS)],
    ids=["log-format", "log-level"],
)
def test_a_value_that_is_not_accepted_is_refused_naming_the_variable_and_the_choices(
    variable: str, accepted: tuple[str, ...]
):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({variable: "loud"})

    message = str(caught.value)
    assert variable in message
    assert "'loud'" in message
    assert all(choice in message for choice in accepted)


@given(value=st.text().filter(lambda v: v.strip() and v.strip().lower() not in LOG_LEVELS))
def test_any_unknown_log_level_is_refused(value: str):
    with pytest.raises(ConfigurationError, match="FLOWMIXER_LOG_LEVEL"):
        Settings.from_env({"FLOWMIXER_LOG_LEVEL": value})


def test_settings_built_in_code_are_checked_too(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="log_format"):
        Settings(home=tmp_path, log_format="xml")


def test_settings_cannot_be_changed_after_creation(tmp_path: Path):
    settings = Settings(home=tmp_path)

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.log_level = "debug"  # type: ignore[misc]


def test_ensure_home_creates_a_directory_only_the_user_can_enter(tmp_path: Path):
    settings = Settings(home=tmp_path / "a" / "b" / ".flowmixer")

    created = settings.ensure_home()

    assert created == settings.home
    assert created.is_dir()
    assert stat.S_IMODE(created.stat().st_mode) == 0o700


def test_ensure_home_leaves_an_existing_directory_and_its_files_alone(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir(mode=0o750)
    os.chmod(home, 0o750)
    (home / "keep.txt").write_text("kept")

    Settings(home=home).ensure_home()
    Settings(home=home).ensure_home()

    assert stat.S_IMODE(home.stat().st_mode) == 0o750
    assert (home / "keep.txt").read_text() == "kept"


def test_a_home_that_is_a_file_is_refused_with_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    with pytest.raises(ConfigurationError, match="FLOWMIXER_HOME"):
        Settings(home=blocker).ensure_home()


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://user:pw@cache.example.test:6380/2",
        "unix:///run/r.sock",
    ],
)
def test_a_redis_url_is_taken_from_the_environment(url: str) -> None:
    assert Settings.from_env({"FLOWMIXER_REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://u:secretpw@127.0.0.1:6379",
        "secretpw@127.0.0.1:6379",
        "redis://",
        "postgresql://secretpw",
    ],
)
def test_a_url_that_is_not_redis_is_refused_naming_the_variable_and_not_the_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="FLOWMIXER_REDIS_URL") as caught:
        Settings.from_env({"FLOWMIXER_REDIS_URL": url})
    assert "secretpw" not in str(caught.value)


def test_no_redis_url_by_default() -> None:
    assert Settings.from_env({}).redis_url is None


def test_the_redis_visibility_timeout_is_30_seconds_unless_the_environment_says_otherwise() -> None:
    assert Settings.from_env({}).redis_visibility == 30.0
    assert Settings.from_env({"FLOWMIXER_REDIS_VISIBILITY": "2.5"}).redis_visibility == 2.5
