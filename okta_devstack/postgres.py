"""A PostgreSQL server of a test's own: its data directory, its port, stopped and started at will.

Tests that take the database away mid-login must not stop the shared server on port 5432 that
everyone else uses. This one is made with Debian's ``initdb`` / ``pg_ctl`` (found under
``/usr/lib/postgresql/<version>/bin``) in a directory of its own, listening on 127.0.0.1 only,
trust authentication (loopback, throw-away data). PostgreSQL refuses to run as root, so as root
the commands run as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT_SECONDS = 60


def postgres_bin() -> Path:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` that has ``pg_ctl``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise FileNotFoundError("no /usr/lib/postgresql/*/bin/pg_ctl: install Debian's postgresql package")
    return Path(found[-1]).parent


class PostgresInstance:
    """One PostgreSQL server: ``init()`` once, then ``start()`` / ``stop()`` as often as a test likes."""

    def __init__(self, port: int, *, bin_dir: Path | None = None) -> None:
        self.port = port
        self.bin = bin_dir or postgres_bin()
        # Not under pytest's tmp (mode 0700, root's): the postgres user must reach the directory.
        self.root = Path(tempfile.mkdtemp(prefix="okta-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._user = "postgres" if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        """Return the SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        """Create the data directory (``initdb``, trust authentication for loopback)."""
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on port {self.port} did not start:\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected at once, like a maintenance restart)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        """Create ``name``; return its SQLAlchemy URL."""
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the server and delete its directory."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
