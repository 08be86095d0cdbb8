"""Log: writes each message it receives as one JSON line, to a file or to stdout."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, TextIO

from runtime.component import Component
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.component import Context


def _open_append(path: str) -> TextIO:
    return open(path, "a", encoding="utf-8")


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
        except OSError as exc:
            raise ConfigurationError(
                f"property 'path': cannot open {path!r} for appending: {exc.strerror}"
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
