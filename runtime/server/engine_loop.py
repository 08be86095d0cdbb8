"""An event loop on a thread of its own, for the engine of ``flowmixer serve``.

::

    engine_loop = EngineLoop()
    loop = engine_loop.start()
    ...  # asyncio.run_coroutine_threadsafe(coroutine, loop), or Bridge(loop).call(coroutine)
    engine_loop.stop()  # what is left on the loop is cancelled, then the thread ends
"""

from __future__ import annotations

import asyncio
import threading

from runtime.event_loop import loop_factory


class EngineLoop:
    """Owns a thread running an event loop until :meth:`stop`."""

    def __init__(self, name: str = "flowmixer-engine") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> asyncio.AbstractEventLoop:
        """Start the thread; its loop, running once this returns."""
        loop = loop_factory()()
        running = threading.Event()
        loop.call_soon(running.set)
        # A daemon: should the main thread end without stop(), the process still exits.
        thread = threading.Thread(target=self._run, args=(loop,), name=self._name, daemon=True)
        thread.start()
        running.wait()
        self._loop, self._thread = loop, thread
        return loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # What asyncio.run does on the way out: cancel what is left, let it finish.
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def stop(self) -> None:
        """Stop the loop and wait for the thread to end (blocks: call it once the engine is
        closed, e.g. through ``asyncio.to_thread``)."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop = self._thread = None
