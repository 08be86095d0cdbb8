"""SecretBox: secrets sealed with Fernet, keys from FLOWMIXER_SECRET_KEY or a private key file."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.auth.secretbox import SecretBox, generate_key
from runtime.errors import ConfigurationError
from runtime.settings import Settings

KEY = generate_key()


@given(st.binary(min_size=8))
def test_what_is_sealed_opens_to_the_same_bytes_and_is_not_readable(plaintext):
    box = SecretBox([KEY])
    sealed = box.seal(plaintext)
    assert plaintext not in sealed
    assert box.open(sealed) == plaintext


def test_a_key_file_is_generated_private_and_used_again(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    first = SecretBox.from_settings(settings, environ={})
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o700
    again = SecretBox.from_settings(settings, environ={})
    assert again.open(first.seal(b"client secret")) == b"client secret"


def test_flowmixer_secret_key_is_used_instead_of_a_key_file(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    box = SecretBox.from_settings(settings, environ={"FLOWMIXER_SECRET_KEY": f" {KEY} "})
    assert SecretBox([KEY]).open(box.seal(b"x")) == b"x"
    assert not (tmp_path / "home" / "secret.key").exists()


def test_a_key_file_other_users_can_read_is_refused(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    SecretBox.from_settings(settings, environ={})
    key_file = tmp_path / "home" / "secret.key"
    key_file.chmod(0o644)
    with pytest.raises(ConfigurationError, match=r"can be read by other users \(mode 0644\)"):
        SecretBox.from_settings(settings, environ={})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not-a-key", "key 1 of FLOWMIXER_SECRET_KEY is not a Fernet key"),
        (f"{KEY},short", "key 2 of FLOWMIXER_SECRET_KEY is not a Fernet key"),
        (" , ", "FLOWMIXER_SECRET_KEY holds no key"),
    ],
    ids=["garbage", "second-key-broken", "only-commas"],
)
def test_a_bad_secret_key_is_refused_without_quoting_it(tmp_path: Path, value, message):
    with pytest.raises(ConfigurationError, match=message) as caught:
        SecretBox.from_settings(Settings(home=tmp_path), environ={"FLOWMIXER_SECRET_KEY": value})
    assert "not-a-key" not in str(caught.value)
    assert "short" not in str(caught.value)


def test_a_secret_sealed_with_another_key_cannot_be_opened_and_is_not_quoted():
    sealed = SecretBox([generate_key()]).seal(b"the-client-secret")
    with pytest.raises(ConfigurationError, match="sealed with another key") as caught:
        SecretBox([KEY], source="FLOWMIXER_SECRET_KEY").open(sealed)
    assert "the-client-secret" not in str(caught.value)
    assert sealed.decode() not in str(caught.value)


def test_during_rotation_old_secrets_open_and_reseal_moves_them_to_the_new_key():
    old, new = generate_key(), generate_key()
    sealed_with_old = SecretBox([old]).seal(b"token")
    rotating = SecretBox(f"{new},{old}".split(","))
    assert rotating.key_count == 2
    assert rotating.open(sealed_with_old) == b"token"
    assert SecretBox([new]).open(rotating.seal(b"fresh")) == b"fresh"
    resealed = rotating.reseal(sealed_with_old)
    assert SecretBox([new]).open(resealed) == b"token"
    with pytest.raises(ConfigurationError):
        SecretBox([generate_key()]).reseal(sealed_with_old)


def test_the_key_file_may_hold_several_keys_one_a_line(tmp_path: Path):
    old, new = generate_key(), generate_key()
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    key_file = home / "secret.key"
    key_file.write_text(f"{new}\n{old}\n")
    key_file.chmod(0o600)
    box = SecretBox.from_settings(Settings(home=home), environ={})
    assert box.open(SecretBox([old]).seal(b"t")) == b"t"
    assert SecretBox([new]).open(box.seal(b"t")) == b"t"


def test_the_repr_of_a_box_shows_no_key():
    box = SecretBox([KEY], source="FLOWMIXER_SECRET_KEY")
    assert KEY not in repr(box)
    assert repr(box) == "SecretBox(source='FLOWMIXER_SECRET_KEY', keys=1)"


def test_processes_starting_at_once_agree_on_one_generated_key(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    with ThreadPoolExecutor(max_workers=8) as pool:
        boxes = list(pool.map(lambda _: SecretBox.from_settings(settings, environ={}), range(8)))
    sealed = boxes[0].seal(b"shared")
    assert all(box.open(sealed) == b"shared" for box in boxes)
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["secret.key"]
