"""Noticing when the event loop stalls, and which component stalled it.

A handler that blocks (``time.sleep``, a CPU-bound loop, a synchronous HTTP call) stops every
flow of the process, and the server with them. :class:`LoopWatch` cannot prevent that, but it
says who did it: the loop moves a heartbeat forward a few times per ``threshold``; a thread
checks it, and when the loop has not run for longer than ``threshold`` it reads the loop
thread's stack (``sys._current_frames``) while the stall lasts, finds the component whose code
is running (the innermost frame with a node, tick unit or context in ``self``, ``node``,
``unit`` or ``context``) and, once the loop runs again, logs one warning with the stall's
duration and the flow and component. A stall still going on after ``STILL_STALLED`` seconds is
reported then too, as it may never end. Nothing of this runs on the per-message path.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from runtime.telemetry import NO_TELEMETRY

if TYPE_CHECKING:
    from types import FrameType

    from structlog.typing import FilteringBoundLogger

    from runtime.telemetry import Telemetry

DEFAULT_THRESHOLD = 0.25
"""Seconds without the loop running that count as a stall."""
STILL_STALLED = 10.0
_HOLDERS = ("self", "node", "unit", "context")
_UNKNOWN = (None, None)


class LoopWatch:
    """Watches the running event loop from a thread; :meth:`start` and :meth:`stop` it."""

    def __init__(
        self,
        logger: FilteringBoundLogger,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        telemetry: Telemetry = NO_TELEMETRY,
    ) -> None:
        if threshold <= 0:
            raise ValueError("threshold must be more than 0 seconds")
        self.threshold = threshold
        self._logger = logger
        self._telemetry = telemetry
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start watching the running loop (called on it)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping.clear()
        self._heartbeat()
        self._thread = threading.Thread(
            target=self._watch, name="flowmixer:loop-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns once the thread has ended."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        assert self._loop is not None
        self._timer = self._loop.call_later(self.threshold / 4, self._heartbeat)

    # -- the watching thread -------------------------------------------------------------

    def _watch(self) -> None:
        period = self.threshold / 4
        loop = self._loop
        assert loop is not None
        while not self._stopping.wait(period):
            if loop.is_closed() or not loop.is_running():
                return  # its owner never stopped it: nothing left to watch
            began = self._beat
            if time.monotonic() - began <= self.threshold:
                continue
            culprit = self._culprit()
            told = False
            while self._beat == began and not self._stopping.wait(period / 2):
                if culprit == _UNKNOWN:
                    culprit = self._culprit()
                if not told and time.monotonic() - began > STILL_STALLED:
                    told = True
                    self._report(culprit, time.monotonic() - began, ended=False)
            if not told:
                self._report(culprit, self._beat - began, ended=True)

    def _culprit(self) -> tuple[str | None, str | None]:
        """The flow and component whose code the loop's thread is running, if any."""
        frame = sys._current_frames().get(self._loop_thread)
        while frame is not None:
            found = _component_of(frame)
            if found is not None:
                return found
            frame = frame.f_back
        return _UNKNOWN

    def _report(
        self, culprit: tuple[str | None, str | None], stalled: float, *, ended: bool
    ) -> None:
        flow_id, component_id = culprit
        self._logger.warning(
            "event loop stalled" if ended else "event loop stalled, and still is",
            seconds=round(stalled, 3),
            flow_id=flow_id,
            component_id=component_id,
            threshold=self.threshold,
        )
        self._telemetry.loop_stall(flow_id or "", component_id or "")


def _component_of(frame: FrameType) -> tuple[str, str] | None:
    names = frame.f_code.co_varnames
    if not any(name in names for name in _HOLDERS):
        return None
    local = frame.f_locals  # a snapshot: the loop's thread is stalled or waits for the GIL
    for name in _HOLDERS:
        holder: Any = local.get(name)
        flow_id = getattr(holder, "flow_id", None)
        component_id = getattr(holder, "component_id", None)
        if isinstance(flow_id, str) and isinstance(component_id, str):
            return flow_id, component_id
    return None
