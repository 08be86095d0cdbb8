"""Structured logging: JSON lines for machines, a readable console for people, no secrets.

:func:`configure_logging` sets up structlog (and routes the standard library's ``logging``,
used by aiohttp and asyncio, through the same output). Secrets are removed twice: by
:func:`redact_secrets` on the event's data, before anything else sees it, and once more just
before rendering, on the text of tracebacks and object reprs that only exists then.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any, Final, TextIO

import structlog
from structlog.typing import (
    EventDict,
    ExcInfo,
    FilteringBoundLogger,
    Processor,
    WrappedLogger,
)

from runtime.errors import ConfigurationError
from runtime.redaction import (
    redact_mapping,
    redact_text,
    scrub_objects,
)
from runtime.settings import LOG_FORMATS, LOG_LEVELS

_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Processor: a copy of the event with every secret value replaced by ``"***"``.

    Works at any depth of dicts, lists, tuples and sets; keys are judged by
    :func:`is_secret_key` (a ``None`` value is kept: it shows a secret is missing, not what it
    is) and strings by :func:`redact_text`. The caller's objects are never changed. Other
    objects are kept; :func:`configure_logging` scrubs their reprs just before rendering.
    """
    return redact_mapping(event_dict)


def _redact_reprs(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Render objects as reprs and scrub those and the traceback text (the last processor
    before the renderer, as these strings appear only now)."""
    for key, value in event_dict.items():
        if key == "exception" and isinstance(value, str):
            event_dict[key] = redact_text(value)
        elif key not in ("exc_info", "stack_info"):
            event_dict[key] = scrub_objects(value, 0)
    return event_dict


def _redacted_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    # The plain formatter: richer ones print local variables, which may hold secrets.
    text = io.StringIO()
    structlog.dev.plain_traceback(text, exc_info)
    sio.write(redact_text(text.getvalue()))


def _renderers(console: bool, colors: bool) -> list[Processor]:
    if console:
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=_redacted_traceback
        )
        return [_redact_reprs, renderer]
    return [
        structlog.processors.format_exc_info,
        _redact_reprs,
        structlog.processors.JSONRenderer(),
    ]


def _check(param: str, value: str, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        raise ConfigurationError(
            f"configure_logging: {param}={value!r} is not accepted; use one of:"
            f" {', '.join(accepted)}"
        )
    return value


class _NamedLogger(structlog.WriteLogger):
    """A line writer that knows the name it was asked for (``get_logger("x")``)."""

    def __init__(self, file: TextIO, name: str | None) -> None:
        super().__init__(file)
        self.name = name


def _add_logger_name(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    name = record.name if record is not None else getattr(logger, "name", None)
    if name and "logger" not in event_dict:
        event_dict["logger"] = name
    return event_dict


class _Handler(logging.StreamHandler[TextIO]):
    """The standard-library handler :func:`configure_logging` installs (and replaces)."""


def configure_logging(
    *, fmt: str = "auto", level: str = "info", stream: TextIO | None = None
) -> None:
    """Send log lines of ``level`` and above to ``stream`` (default: standard error).

    ``fmt`` is ``"console"`` (aligned, coloured on a terminal), ``"json"`` (one object per
    line with ``timestamp`` in ISO 8601 UTC, ``level``, ``event`` and the bound keys) or
    ``"auto"``: console when ``stream`` is a terminal, JSON otherwise. Records of the standard
    library's ``logging`` (aiohttp, asyncio) go through the same redaction and rendering.
    Calling it again replaces the previous configuration.
    """
    fmt = _check("fmt", fmt, LOG_FORMATS)
    level = _check("level", level, LOG_LEVELS)
    out = sys.stderr if stream is None else stream
    tty = out.isatty()
    console = fmt == "console" or (fmt == "auto" and tty)
    shared: list[Processor] = [
        redact_secrets,
        _add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, *_renderers(console, tty)],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=lambda name=None, *_: _NamedLogger(out, name),
        cache_logger_on_first_use=True,
    )
    handler = _Handler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_renderers(console, tty),
            ],
        )
    )
    root = logging.getLogger()
    _remove_handlers(root)
    root.addHandler(handler)
    root.setLevel(_LEVELS[level])


def _remove_handlers(root: logging.Logger) -> None:
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)


def reset_logging() -> None:
    """Undo :func:`configure_logging`: structlog's defaults, no handler of ours on ``logging``.

    For tests, whose captured streams must not receive lines after the test ends.
    """
    structlog.reset_defaults()
    _remove_handlers(logging.getLogger())


def get_logger(name: str | None = None, **bound: Any) -> FilteringBoundLogger:
    """A logger writing ``bound`` keys (and ``logger=name``) on every line.

    Loggers are lazy: one made before :func:`configure_logging` follows that configuration.
    """
    args = () if name is None else (name,)
    logger: FilteringBoundLogger = structlog.get_logger(*args, **bound)
    return logger
