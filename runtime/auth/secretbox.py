"""Sealing secrets at rest with Fernet (AES-128-CBC + HMAC-SHA256), with key rotation.

The keys come from ``FLOWMIXER_SECRET_KEY`` (one or more Fernet keys, comma-separated) or,
when it is unset, from the key file ``$FLOWMIXER_HOME/secret.key``, which is generated with
mode 0600 the first time it is needed, while the database holds nothing sealed. A missing key
file when sealed secrets exist is an error, never a new key (which could open none of them).
On a PostgreSQL database, which processes on other machines may share, a missing key file is
never made: every process must be given the same key.
The first key seals; every key opens, so a new key is put first and the old one kept until
everything is sealed again (see ``docs/security.md``).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from runtime.errors import ConfigurationError
from runtime.stores.sqlite_sealed import sealed_count

if TYPE_CHECKING:
    from runtime.settings import Settings
    from runtime.stores.urls import DatabaseUrl

SECRET_KEY_VARIABLE: Final = "FLOWMIXER_SECRET_KEY"
KEY_FILE_NAME: Final = "secret.key"

_NEW_KEY_HINT: Final = (
    'make one with: python -c "from cryptography.fernet import Fernet;'
    ' print(Fernet.generate_key().decode())"'
)


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


def _parse_keys(text: str, source: str) -> list[Fernet]:
    """The Fernet keys in ``text`` (separated by commas or new lines), first one first."""
    entries = [entry.strip() for entry in text.replace("\n", ",").split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise ConfigurationError(f"{source} holds no key; {_NEW_KEY_HINT}")
    fernets: list[Fernet] = []
    for position, entry in enumerate(entries, start=1):
        try:
            fernets.append(Fernet(entry.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            # The entry itself is never quoted: it may be a real key with a typo.
            raise ConfigurationError(
                f"key {position} of {source} is not a Fernet key (32 random bytes in"
                f" url-safe base64, 44 characters); {_NEW_KEY_HINT}"
            ) from None
    return fernets


def _read_key_file(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"the key file {str(path)!r} can be read by other users (mode {mode:04o});"
            f" make it private with: chmod 600 {path}"
        )
    return path.read_text(encoding="ascii")


def _missing_key_file(path: Path, database: Path) -> str | None:
    """Why the missing key file ``path`` must not be made anew (``None``: it may be)."""
    try:
        count = sealed_count(database)
    except sqlite3.Error as exc:
        return (
            f"the key file {str(path)!r} is missing and the database {str(database)!r} cannot"
            f" be read to tell whether it holds sealed secrets ({exc}); no new key is made"
        )
    if count == 0:
        return None
    return (
        f"the key file {str(path)!r} is missing, but the database {str(database)!r} holds"
        f" {count} secret(s) sealed with a key; restore the key file (mode 0600) or put that key"
        f" in {SECRET_KEY_VARIABLE}. A new key would open none of them, so none is made"
    )


def _shared_database(path: Path, where: str) -> str:
    return (
        f"the key file {str(path)!r} is missing and the database {where} may be shared by"
        f" processes on other machines, which a key made here would not match: set"
        f" {SECRET_KEY_VARIABLE} (the same key in every process) or put the key in that file"
        f" (mode 0600); {_NEW_KEY_HINT}"
    )


def _key_file_text(path: Path, database: DatabaseUrl) -> str:
    """The key file's text, generating the file (mode 0600) when it does not exist and the
    (SQLite) database holds nothing sealed."""
    if path.exists():
        return _read_key_file(path)
    if database.path is None:
        raise ConfigurationError(_shared_database(path, database.redacted()))
    refusal = _missing_key_file(path, database.path)
    if refusal is not None:
        raise ConfigurationError(refusal)
    # Written whole under a private name, then linked into place: a process starting at the
    # same moment sees either no file or the complete key, and a file already there is kept.
    key = generate_key()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(key + "\n")
        os.link(draft, path)
    except FileExistsError:
        return _read_key_file(path)
    finally:
        draft.unlink(missing_ok=True)
    return key


class SecretBox:
    """Seals and opens secrets with the configured keys; the first key seals, all open."""

    def __init__(self, keys: Sequence[str | bytes], *, source: str = "the secret keys") -> None:
        """``keys``: Fernet keys, the sealing key first; ``source`` names them in errors."""
        text = ",".join(k.decode("ascii") if isinstance(k, bytes) else k for k in keys)
        self._fernets = _parse_keys(text, source)
        self._fernet = MultiFernet(self._fernets)
        self.source = source

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None
    ) -> SecretBox:
        """The box of ``FLOWMIXER_SECRET_KEY`` when set, else of ``$FLOWMIXER_HOME/secret.key``.

        The key file is created (with a new key, mode 0600, in a home made with mode 0700) when
        it does not exist and the SQLite database holds nothing sealed (else, and always on
        PostgreSQL, that is an error); one readable by other users is refused.
        """
        env = os.environ if environ is None else environ
        configured = env.get(SECRET_KEY_VARIABLE, "")
        if configured.strip():
            return cls([configured], source=SECRET_KEY_VARIABLE)
        path = settings.ensure_home() / KEY_FILE_NAME
        try:
            text = _key_file_text(path, settings.database)
        except OSError as exc:
            raise ConfigurationError(
                f"the key file {str(path)!r} cannot be used: {exc.strerror or exc};"
                f" fix it or set {SECRET_KEY_VARIABLE}"
            ) from exc
        return cls([text], source=f"the key file {str(path)!r}")

    @property
    def key_count(self) -> int:
        """How many keys can open sealed secrets (1 unless a rotation is under way)."""
        return len(self._fernets)

    def seal(self, plaintext: bytes) -> bytes:
        """``plaintext`` encrypted and authenticated with the first key (url-safe ASCII)."""
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        """The plaintext of ``sealed``; :class:`ConfigurationError` when no key opens it."""
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise ConfigurationError(
                f"a stored secret cannot be opened with {self.source}: it was sealed with another"
                f" key, or changed; put the key it was sealed with in {SECRET_KEY_VARIABLE}"
                " (comma-separated, after the current one)"
            ) from None

    def reseal(self, sealed: bytes) -> bytes:
        """``sealed`` sealed again with the first key (for key rotation)."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken:
            self.open(sealed)  # raises the explanation
            raise

    def __repr__(self) -> str:
        return f"SecretBox(source={self.source!r}, keys={self.key_count})"
