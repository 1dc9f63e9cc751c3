"""Is a TCP port free, and if not, who holds it: read from ``/proc`` (or ``ss``) so the message can name them."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

PROC = Path("/proc")
TCP_LISTEN = "0A"  # st column of /proc/net/tcp for LISTEN (include/net/tcp_states.h)
MAX_COMMAND = 100  # characters of a holder's command line shown (it may be long, and it is someone else's)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether binding ``host:port`` fails because someone listens there (as the servers would bind it)."""
    with socket.socket() as s:
        # SO_REUSEADDR like the servers themselves: connections in TIME_WAIT do not count, a listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _pids_with_sockets(inodes: set[str]) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    found: list[int] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = os.listdir(entry / "fd")
        except OSError:  # another user's process, or gone
            continue
        for fd in fds:
            try:
                if os.readlink(entry / "fd" / fd) in wanted:
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return sorted(found)


def _pids_from_ss(port: int) -> list[int]:
    ss = shutil.which("ss")
    if ss is None:
        return []
    try:
        out = subprocess.run(
            [ss, "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", out)})


def command_of(pid: int) -> str:
    """Return a process's command line, shortened, or '' if it can't be read."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    command = "".join(c if c.isprintable() else "?" for c in command)
    return command if len(command) <= MAX_COMMAND else command[: MAX_COMMAND - 1] + "…"


def holders(port: int) -> list[int]:
    """Return the pids listening on ``port`` that this user can see (``/proc``, else ``ss``); maybe empty."""
    inodes = _listening_inodes(port)
    pids = _pids_with_sockets(inodes) if inodes else []
    return pids or _pids_from_ss(port)


def describe(pids: list[int]) -> str:
    """Return e.g. ``pid 4242 (python -m okta_local_idp …)`` for the first few of ``pids``."""
    parts = []
    for pid in pids[:3]:
        command = command_of(pid)
        parts.append(f"pid {pid} ({command})" if command else f"pid {pid}")
    return ", ".join(parts)


def suggest_free_port(port: int, avoid: set[int] | None = None, host: str = "127.0.0.1") -> int | None:
    """Return a free port just above ``port`` (for the message), or None."""
    for candidate in range(port + 1, min(port + 50, 65536)):
        if candidate in (avoid or set()):
            continue
        with contextlib.suppress(OSError):
            if not port_in_use(candidate, host):
                return candidate
    return None
