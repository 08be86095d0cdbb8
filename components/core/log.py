"""Log: writes each message it receives as one JSON line, to a file or to stdout.

A deployed flow must not write where the server can but the operator did not mean it to, so
the file is confined to the log folder (``FLOWMIXER_LOG_DIR``, by default
``$FLOWMIXER_HOME/logs``): ``path`` is taken relative to it, and one that leads outside it
(absolute elsewhere, ``..``, a symbolic link out) stops the flow from starting.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from runtime.component import Component
from runtime.errors import ConfigurationError
from runtime.settings import Settings

if TYPE_CHECKING:
    from runtime.component import Context

# O_NOFOLLOW: a symbolic link put in place after the check is not followed either.
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def confined(path: str, folder: Path) -> Path:
    """``path`` (relative to ``folder``, links resolved) when it stays inside ``folder``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    root = folder.resolve()
    target = (root / path).resolve()
    if target == root or not target.is_relative_to(root):
        raise ConfigurationError(
            f"property 'path': {path!r} leads outside the log folder {str(root)!r}; give a file"
            " inside it (the folder is FLOWMIXER_LOG_DIR, by default $FLOWMIXER_HOME/logs)"
        )
    return target


def _open_append(path: str) -> TextIO:
    target = confined(path, Settings.from_env().logs_path)
    try:
        descriptor = os.open(target, _APPEND, 0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"property 'path': cannot open {path!r} in the log folder for appending: {exc.strerror}"
        ) from exc
    return os.fdopen(descriptor, "a", encoding="utf-8")


class Log(Component):
    """Appends ``{"componentId", "correlationId", "flowId", "label"?, "message"}`` lines.

    Lines are compact JSON with sorted keys (stable, diffable, one ``jq`` away from readable),
    UTF-8 kept as is, and flushed one by one so a reader tailing the file sees each message.
    """

    def __init__(self) -> None:
        self._file: TextIO | None = None
        self._label: str | None = None

    async def start(self, context: Context) -> None:
        self._label = context.properties.get("label")
        path = context.properties.get("path")
        if path is None:
            return
        try:
            self._file = await asyncio.to_thread(_open_append, path)
        except OSError as exc:  # the log folder itself cannot be made
            raise ConfigurationError(
                f"property 'path': the log folder cannot be used: {exc.strerror}"
            ) from exc

    async def receive(self, context: Context) -> None:
        record: dict[str, Any] = {
            "flowId": context.flow_id,
            "componentId": context.component_id,
            "correlationId": context.correlation_id,
            "message": context.message,
        }
        if self._label is not None:
            record["label"] = self._label
        line = json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        # A buffered write and flush to the OS take microseconds: cheaper than a thread hop.
        if self._file is None:
            print(line, flush=True)
        else:
            self._file.write(line + "\n")
            self._file.flush()

    async def stop(self, context: Context) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            await asyncio.to_thread(file.close)
