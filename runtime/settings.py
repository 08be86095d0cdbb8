"""Typed process settings, read once from ``FLOWMIXER_*`` environment variables.

Each setting is a field of :class:`Settings` plus one line in :meth:`Settings.from_env`; a value
that is not accepted is refused with a :class:`~runtime.errors.ConfigurationError` naming the
variable and what it accepts, before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.stores.urls import DatabaseUrl

LOG_FORMATS: Final = ("auto", "console", "json")
LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")

DEFAULT_HOME: Final = ".flowmixer"
HEADER_TIMEOUT: Final = 10.0
BODY_TIMEOUT: Final = 30.0
DEFAULT_MAX_COMPONENTS: Final = 20_000


def _default_home() -> Path:
    return Path(DEFAULT_HOME).resolve()


REDIS_SCHEMES: Final = ("redis", "rediss", "unix")


def check_redis_url(url: str, *, name: str) -> str:
    """``url`` when it names a Redis server (``redis://HOST:PORT/DB``, ``rediss://`` with TLS,
    ``unix:///PATH``); else a :class:`ConfigurationError` naming ``name``, never the URL itself
    (it may hold a password)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES or not rest.strip("/"):
        raise ConfigurationError(
            f"{name} must be a redis://HOST:PORT/DB, rediss://... or unix:///PATH URL"
        )
    return url


def _choice(name: str, value: str, accepted: tuple[str, ...]) -> str:
    """``value`` normalised (trimmed, lower case) when it is one of ``accepted``."""
    normal = value.strip().lower()
    if normal not in accepted:
        raise ConfigurationError(
            f"{name} is {value!r}, which is not accepted; use one of: {', '.join(accepted)}"
        )
    return normal


def _seconds(name: str, value: str) -> float:
    """``value`` as a number of seconds above 0 (and at most a day)."""
    try:
        seconds = float(value.strip())
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 86400:
        raise ConfigurationError(
            f"{name} is {value!r}, which is not accepted; use a number of seconds above 0"
            " and at most 86400"
        )
    return seconds


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    """The whole number above 0 in ``env[name]``; ``default`` when unset or empty."""
    value = env.get(name, "").strip().replace("_", "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(
            f"{name} is {env[name]!r}, which is not accepted; use a whole number above 0"
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Where flowmixer keeps its files and how it logs.

    ``home`` holds the database and (later) the token vault, so it is created private to the
    user (see :meth:`ensure_home`). Constructing ``Settings()`` directly ignores the
    environment; :meth:`from_env` is what the command line uses.
    """

    home: Path = field(default_factory=_default_home)
    log_format: str = "auto"
    log_level: str = "info"
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    log_dir: Path | None = None
    max_components: int = DEFAULT_MAX_COMPONENTS
    """Components a flow may have (``validate``, deploys and starts refuse bigger flows)."""
    database_url: str | None = None
    """Where the data lives (``sqlite:///PATH`` or ``postgresql://...``); None: ``db_path``."""
    redis_url: str | None = None
    """The Redis server of a scale-out (``redis://``, ``rediss://`` or ``unix://``); None: none."""
    redis_visibility: float | None = None
    """Seconds a message delivered by Redis may go without a sign of life from its consumer
    before another takes it; None: the broker's default (30)."""

    def __post_init__(self) -> None:
        # The same checks as from_env, for settings built in code (tests, embedding).
        object.__setattr__(self, "log_format", _choice("log_format", self.log_format, LOG_FORMATS))
        object.__setattr__(self, "log_level", _choice("log_level", self.log_level, LOG_LEVELS))
        if self.redis_url is not None:
            check_redis_url(self.redis_url, name="redis_url")

    @property
    def database(self) -> DatabaseUrl:
        """The database ``database_url`` names, else ``flowmixer.db`` in ``home``."""
        # Imported here: runtime.stores imports this module.
        from runtime.stores.urls import default_url, parse_url

        if self.database_url is None:
            return default_url(self.home)
        return parse_url(self.database_url, name="the database URL (--database)")

    @property
    def db_path(self) -> Path:
        """The SQLite file of :attr:`database` (default ``home/flowmixer.db``);
        :class:`ConfigurationError` when the database is not SQLite, for the commands that
        keep records in SQLite only so far."""
        from runtime.stores.urls import refuse_postgres

        url = self.database
        refuse_postgres(url)
        assert url.path is not None
        return url.path

    @property
    def logs_path(self) -> Path:
        """The folder the ``Log`` component may write in: ``log_dir``, else ``home/logs``."""
        return self.log_dir if self.log_dir is not None else self.home / "logs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: ``os.environ``); unset or empty means default.

        ``FLOWMIXER_HOME``: directory for flowmixer's files, relative paths and ``~`` resolved
        (default ``./.flowmixer``). ``FLOWMIXER_LOG_FORMAT``: one of :data:`LOG_FORMATS`
        (default ``auto``: console on a terminal, JSON lines otherwise).
        ``FLOWMIXER_LOG_LEVEL``: one of :data:`LOG_LEVELS` (default ``info``).
        ``FLOWMIXER_HEADER_TIMEOUT`` and ``FLOWMIXER_BODY_TIMEOUT``: seconds the server gives
        a client to send a request's headers (default 10) and its body (default 30).
        ``FLOWMIXER_LOG_DIR``: the folder ``Log`` components may write in (default
        ``$FLOWMIXER_HOME/logs``).
        ``FLOWMIXER_MAX_COMPONENTS``: how many components a flow may have (default 20,000).
        ``FLOWMIXER_DATABASE_URL``: ``sqlite:///PATH`` or ``postgresql://...`` (default the
        SQLite file ``$FLOWMIXER_HOME/flowmixer.db``).
        ``FLOWMIXER_REDIS_URL``: the Redis server of a scale-out (default none).
        ``FLOWMIXER_REDIS_VISIBILITY``: seconds before a dead consumer's messages are taken
        by another (default 30).
        """
        env = os.environ if environ is None else environ

        def choose(name: str, accepted: tuple[str, ...], default: str) -> str:
            value = env.get(name, "")
            return _choice(name, value, accepted) if value.strip() else default

        def seconds(name: str, default: float) -> float:
            value = env.get(name, "")
            return _seconds(name, value) if value.strip() else default

        home = env.get("FLOWMIXER_HOME", "").strip()
        log_dir = env.get("FLOWMIXER_LOG_DIR", "").strip()
        database_url = env.get("FLOWMIXER_DATABASE_URL", "").strip() or None
        if database_url is not None:
            from runtime.stores.urls import parse_url

            parse_url(database_url, name="FLOWMIXER_DATABASE_URL")
        redis_url = env.get("FLOWMIXER_REDIS_URL", "").strip() or None
        if redis_url is not None:
            check_redis_url(redis_url, name="FLOWMIXER_REDIS_URL")
        return cls(
            home=Path(home).expanduser().resolve() if home else _default_home(),
            log_format=choose("FLOWMIXER_LOG_FORMAT", LOG_FORMATS, "auto"),
            log_level=choose("FLOWMIXER_LOG_LEVEL", LOG_LEVELS, "info"),
            header_timeout=seconds("FLOWMIXER_HEADER_TIMEOUT", HEADER_TIMEOUT),
            body_timeout=seconds("FLOWMIXER_BODY_TIMEOUT", BODY_TIMEOUT),
            log_dir=Path(log_dir).expanduser().resolve() if log_dir else None,
            max_components=_positive(env, "FLOWMIXER_MAX_COMPONENTS", DEFAULT_MAX_COMPONENTS),
            database_url=database_url,
            redis_url=redis_url,
            redis_visibility=seconds("FLOWMIXER_REDIS_VISIBILITY", 0) or None,
        )

    def ensure_home(self) -> Path:
        """Create ``home`` (mode 0700) when missing and return it; an existing one is kept as is."""
        # mkdir applies the mode to the last directory only; missing parents get the umask default.
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"the flowmixer home {str(self.home)!r} (FLOWMIXER_HOME) cannot be created:"
                f" {exc.strerror or exc}"
            ) from exc
        return self.home
