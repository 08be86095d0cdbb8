"""A throwaway PostgreSQL cluster for the tests: ``initdb`` and ``pg_ctl`` in a temporary folder.

The cluster listens on a free loopback port only, with its unix socket in the same folder,
trust authentication and ``fsync`` off (its data is thrown away). As root it runs as the
``postgres`` user (``initdb`` refuses root). Without the binaries or the driver the tests that
need it skip with the reason, or fail under ``CI`` (where ``.ci/run`` installs them).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVICE_USER = "postgres"
_names = itertools.count(1)


def _binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``pg_ctl``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    """A port free on 127.0.0.1 now (for a server the tests start)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def unavailable(reason: str) -> None:
    """Skip the test needing the cluster, or fail it under ``CI``."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@dataclass
class PostgresCluster:
    """A running cluster; :meth:`url` names one of its databases."""

    folder: Path
    bin: Path
    port: int
    as_user: list[str] = field(default_factory=list)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, check=False, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVICE_USER}@127.0.0.1:{self.port}/{database}"

    def new_database_name(self) -> str:
        return f"test_{os.getpid()}_{next(_names)}"

    def start(self) -> None:
        data = self.folder / "data"
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            SERVICE_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"
            )
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> PostgresCluster:
    """A new running cluster, or skip/fail (see :func:`unavailable`) when none can start."""
    binaries = _binaries()
    if binaries is None:
        unavailable("no initdb under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    assert binaries is not None
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        unavailable("the asyncpg driver is not installed (pip install 'flowmixer[postgres]')")
    folder = Path(tempfile.mkdtemp(prefix="flowmixer-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, user=SERVICE_USER, group=None)
        as_user = ["runuser", "-u", SERVICE_USER, "--"]
    cluster = PostgresCluster(folder, binaries, free_port(), as_user)
    try:
        cluster.start()
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        log = folder / "server.log"
        tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        unavailable(f"the cluster did not start: {exc} {tail}".strip())
    return cluster


async def create_database(cluster: PostgresCluster) -> str:
    """A new empty database on ``cluster``; its URL."""
    import asyncpg

    name = cluster.new_database_name()
    conn = await asyncpg.connect(cluster.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return cluster.url(name)
