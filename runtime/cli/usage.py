"""What every command shares: the usage error (exit 2) and stopping on Ctrl-C (exit 130)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Final

from runtime.errors import ConfigurationError

EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130


class UsageError(ConfigurationError):
    """The command line is wrong in a way argparse cannot see (a malformed option value);
    ``flowmixer`` prints it with the command's name and exits 2."""


class StopSignals:
    """SIGINT and SIGTERM set :attr:`event`; a long-running command waits on it and returns
    :meth:`exit_code`: 130 after Ctrl-C (the work was interrupted), 0 after SIGTERM (the
    ordinary way a supervisor stops a service)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.interrupted = False

    def install(self) -> None:
        """Handle both signals on the running loop."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Some platforms (Windows) have no loop signal handlers; Ctrl-C then raises
            # KeyboardInterrupt, which `flowmixer` also turns into 130.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self._received, signum)

    def _received(self, signum: int) -> None:
        self.interrupted = self.interrupted or signum == signal.SIGINT
        self.event.set()

    def exit_code(self) -> int:
        return EXIT_INTERRUPTED if self.interrupted else 0
