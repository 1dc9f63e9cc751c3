"""Run ``okta-airflow`` (and ``airflow``) commands in processes forked from one that has already imported them.

A new ``okta-airflow`` or ``airflow`` process spends seconds importing Airflow and FAB before it
does anything, and the doctor and roles-as-code tests run dozens of commands. :class:`WarmCli` starts one Python
process with a server's environment, imports the command line and the modules it pulls in, and
then forks a child for each command. Every command still runs in a process of its own — its own
environment, globals and caches, database connections, stdout, stderr and exit code — starting
from the same freshly imported state, so no command sees what an earlier one left behind, and
commands started together really run at the same time.

What was read while the modules were imported is fixed when the process starts: Airflow's home,
database and logging, many other ``AIRFLOW__*`` settings (FAB's cache TTL, the auth manager whose
commands ``airflow`` offers ...), Python's own variables. So a command's environment must be the
process's own, except ``OKTA_*`` (okta_security reads its settings when a command runs, never at
import) and the variables the caller names in ``read_at_run`` (settings it knows the command
reads when it runs); any other difference is refused rather than run in the wrong state.

Run as ``python -m tests.warm_cli MODULE...``, this file is that process: it imports
the modules, prints ``ready`` and then reads one JSON request per line on stdin (a list of
commands, each with its argv, environment and output files), runs them all at once and answers one
JSON line with their exit codes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

REPO = Path(__file__).resolve().parents[1]
# Variables a command may set differently from the warm process: okta_security's settings, and
# pytest's name of the running test (it changes from test to test; nothing imported reads it).
READ_AT_RUN = ("OKTA_", "PYTEST_CURRENT_TEST")


class WarmCli:
    """One warm process for the commands of one Airflow home (see the module's docstring)."""

    def __init__(
        self, env: Mapping[str, str], root: Path, *, preload: Sequence[str] = (), read_at_run: Sequence[str] = ()
    ) -> None:
        self.env = dict(env)
        self.read_at_run = (*READ_AT_RUN, *read_at_run)
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._talk = threading.Lock()  # one request and its answer at a time on the pipes
        self._log = open(root / "warm-cli.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.warm_cli", "okta_security.cli", *preload],
            env=self.env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,  # close() stops it and any child still running
        )
        if self._answer(timeout=180) != "ready":
            self.close()
            raise RuntimeError(f"the warm okta-airflow process did not start:\n{self.log_tail()}")

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        program: str = "okta-airflow",
        cwd: Path | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``<program> <args>`` (``env`` defaults to the process's own) and return its result.

        ``program`` is ``okta-airflow`` or ``airflow`` (Airflow's own command line, e.g. to create a role).
        """
        return self.run_together([(args, env)], program=program, cwd=cwd, timeout=timeout)[0]

    def run_together(
        self,
        commands: Sequence[tuple[Sequence[str], Mapping[str, str] | None]],
        *,
        program: str = "okta-airflow",
        cwd: Path | None = None,
        timeout: float = 180,
    ) -> list[subprocess.CompletedProcess[str]]:
        """Start every ``(args, env)`` command at once, wait for all of them, return their results in order."""
        if program not in PROGRAMS:
            raise ValueError(f"program must be one of {sorted(PROGRAMS)}, not {program!r}")
        jobs = []
        for args, env in commands:
            env = self.env if env is None else dict(env)
            changed = sorted(
                name
                for name in env.keys() | self.env.keys()
                if env.get(name) != self.env.get(name) and not name.startswith(self.read_at_run)
            )
            if changed:
                raise ValueError(f"the warm process was started with other values of {', '.join(changed)}")
            with self._talk:
                self._count += 1
                out, err = self.root / f"{self._count}.out", self.root / f"{self._count}.err"
            jobs.append(
                {
                    "program": program,
                    "argv": list(args),
                    "env": env,
                    "cwd": str(cwd or REPO),
                    "stdout": str(out),
                    "stderr": str(err),
                }
            )
        assert self.proc.stdin is not None
        with self._talk:
            self.proc.stdin.write(json.dumps(jobs) + "\n")
            self.proc.stdin.flush()
            answer = self._answer(timeout=timeout)
        if answer is None:
            self.close()
            raise RuntimeError(f"the warm okta-airflow process gave no answer in {timeout}s:\n{self.log_tail()}")
        codes = json.loads(answer)
        if not isinstance(codes, list):
            raise RuntimeError(f"the warm okta-airflow process failed: {codes}\n{self.log_tail()}")
        return [
            subprocess.CompletedProcess(
                [program, *job["argv"]],
                code,
                Path(job["stdout"]).read_text(encoding="utf-8", errors="replace"),
                Path(job["stderr"]).read_text(encoding="utf-8", errors="replace"),
            )
            for job, code in zip(jobs, codes, strict=True)
        ]

    def _answer(self, timeout: float) -> str | None:
        """Return the process's next line, or None if it exits or says nothing for ``timeout`` seconds."""
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                if sel.select(timeout=min(left, 1.0)):
                    line = self.proc.stdout.readline()
                    return line.strip() if line else None
                if self.proc.poll() is not None:
                    return None
        return None

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of what the warm process wrote to stderr (Airflow's import-time logging, errors)."""
        if not self._log.closed:
            self._log.flush()
        return (self.root / "warm-cli.log").read_text(errors="replace")[-chars:]

    def close(self) -> None:
        """Stop the warm process and any command it still runs."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._log.close()


# --------------------------------------------------------------------------- the warm process itself


def _okta_airflow() -> int:
    from okta_security.cli import main

    return main(sys.argv[1:])


def _airflow() -> int:
    from airflow.__main__ import main

    main()  # it exits with its own code on failure, as the console script does
    return 0


PROGRAMS = {"okta-airflow": _okta_airflow, "airflow": _airflow}  # what the console scripts call


def _serve(preload: Sequence[str]) -> None:
    answers: IO[str] = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what Airflow prints while imported must not be taken for an answer
    for name in preload:
        importlib.import_module(name)
    answers.write("ready\n")
    answers.flush()
    for line in sys.stdin:
        # A fork copies only the calling thread: one started by an import could hold a lock forever in the child.
        if threading.active_count() != 1:
            answers.write(
                json.dumps(f"cannot fork safely, threads running: {[t.name for t in threading.enumerate()]}") + "\n"
            )
            answers.flush()
            continue
        jobs = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pids = [_start(job) for job in jobs]
        answers.write(json.dumps([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]) + "\n")
        answers.flush()


def _start(job: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.environ.clear()
        os.environ.update(job["env"])
        os.chdir(job["cwd"])
        for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.argv = [job["program"], *job["argv"]]
        code = PROGRAMS[job["program"]]()
    except SystemExit as e:  # argparse's usage errors and --help, as the console script would exit
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - what an uncaught error does to a real process: a traceback, exit 1
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(sys.argv[1:])
