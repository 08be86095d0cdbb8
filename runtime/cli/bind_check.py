"""Whether ``serve`` can listen where it was asked to, said in one line instead of a traceback.

The check binds (and closes) a socket before anything starts, so a busy port stops ``serve``
before its flows start polling; :func:`bind_error` words the same failure when it comes from
the server itself (the port was taken between the check and the listen).
"""

from __future__ import annotations

import errno
import socket

from runtime.errors import ConfigurationError

BIND_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})
"""The errors of binding a listening socket that :func:`bind_error` words for a person."""


def check_port(host: str, port: int) -> None:
    """Raise :class:`ConfigurationError` naming the port and ``--port`` (or ``--host``) when
    ``host:port`` cannot be listened on; port 0 (any free port) is not checked."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            # As the server binds: SO_REUSEADDR lets it bind over connections still closing,
            # but never over a socket that listens.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise bind_error(exc, host, port) from None


def bind_error(exc: OSError, host: str, port: int) -> ConfigurationError:
    """``exc``, raised by binding ``host:port``, as one line saying what to change."""
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"port {port} on {host} is already in use (another flowmixer serve or emulate?);"
            " stop what listens there or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return ConfigurationError(
            f"port {port} on {host}: permission denied; choose a port above 1023 with --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return ConfigurationError(
            f"--host {host}: not an address of this machine; choose another with --host"
        )
    return ConfigurationError(f"cannot listen on {host} port {port}: {exc.strerror or exc}")
