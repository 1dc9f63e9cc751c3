"""Child processes that never outlive the demo: each in its own process group, stopped group by group.

Each child leads a new session (so a terminal's Ctrl-C reaches only the demo, which then stops
the children in order) and asks the kernel for SIGTERM if the demo dies without cleaning up
(``PR_SET_PDEATHSIG``, Linux), so even ``kill -9`` of the demo leaves no server listening.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None


_LIBC = _libc()


def _child_setup(parent: int) -> None:
    """Run in the child before exec: die with the demo, and take the signals the demo held back."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the demo died between fork and prctl: nobody would stop us
        os._exit(1)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold back the stop signals while a child is started and recorded, so none is ever started unrecorded."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@dataclass
class Child:
    """One started process: its name for messages, its log, its process (and process group)."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None
    # Seconds after the first SIGTERM to send a second one, for a server whose graceful stop waits
    # for nothing useful here and which treats a second signal as "stop now".
    hurry_after: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def group_alive(self) -> bool:
        """Return whether any process of this child's group is still running (the leader may be gone)."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a reused pgid of someone else's: not ours any more
            return False
        return True


@dataclass
class Children:
    """The processes the demo started, in start order."""

    started: list[Child] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        hurry_after: float | None = None,
    ) -> Child:
        """Start ``argv`` as a new process group (output to ``log_path`` if given) and record it."""
        log: IO[bytes] | None = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - the child keeps it
        parent = os.getpid()
        try:
            with signals_held():
                proc = subprocess.Popen(
                    list(argv),
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT if log is not None else None,
                    start_new_session=True,
                    preexec_fn=lambda: _child_setup(parent),  # safe: the demo starts no threads
                )
                child = Child(name, proc, log_path, hurry_after)
                self.started.append(child)
        finally:
            if log is not None:
                log.close()
        return child

    def exited(self) -> Child | None:
        """Return the first child whose main process has exited, if any."""
        return next((c for c in self.started if c.proc.poll() is not None), None)

    def stop_all(self, grace: float = 15.0, linger: float = 3.0) -> list[str]:
        """Stop every child and whatever it started; return the names of those that had to be killed.

        SIGTERM goes to each child itself first, so a server shuts its own workers down in its own
        order (a child spawned with ``hurry_after`` gets a second SIGTERM that many seconds later).
        What is left of a group after ``grace`` seconds gets SIGTERM, then after ``linger`` more
        seconds SIGKILL.
        """
        for child in reversed(self.started):
            _signal(child.pid, signal.SIGTERM, group=False)
        started = time.monotonic()
        hurry = [c for c in self.started if c.hurry_after is not None]
        while time.monotonic() - started < grace and any(c.proc.poll() is None for c in self.started):
            for child in list(hurry):
                if child.proc.poll() is None and time.monotonic() - started >= (child.hurry_after or 0.0):
                    _signal(child.pid, signal.SIGTERM, group=False)
                    hurry.remove(child)
            time.sleep(0.05)
        leftovers = [c for c in self.started if c.group_alive()]
        for child in leftovers:
            _signal(child.pid, signal.SIGTERM, group=True)
        _wait_until_gone(leftovers, linger)
        killed = [c.name for c in self.started if c.group_alive()]
        for child in self.started:
            if child.group_alive():
                _signal(child.pid, signal.SIGKILL, group=True)
        for child in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=5)
        _wait_until_gone(self.started, 5.0)
        return killed


def _wait_until_gone(children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(c.group_alive() for c in children):
        for child in children:
            child.proc.poll()  # reap a leader that exited, so only live processes keep its group alive
        time.sleep(0.05)


def _signal(pid: int, signum: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
