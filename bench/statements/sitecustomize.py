"""Count the SQL statements a server process runs, for the benches (never installed, never shipped).

A bench puts this folder on ``PYTHONPATH`` and sets ``BENCH_STATEMENTS_FILE``; Python then
imports this module at start-up in every process of the server, and each process writes its running
count to ``<file>.<pid>`` five times a second. :func:`bench._support.statements` sums them.
"""

from __future__ import annotations

import os
import threading
import time

_PATH = os.environ.get("BENCH_STATEMENTS_FILE")

if _PATH:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _count = [0]

    _log = os.environ.get("BENCH_STATEMENTS_LOG")  # also append each statement's first line (what they are)

    @event.listens_for(Engine, "before_cursor_execute")
    def _counted(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        _count[0] += 1
        if _log:
            with open(f"{_log}.{os.getpid()}", "a") as f:
                f.write(" ".join(statement.split())[:160] + "\n")

    def _write(path: str) -> None:
        while True:
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(str(_count[0]))
            os.replace(tmp, f"{path}.{os.getpid()}")
            time.sleep(0.2)

    threading.Thread(target=_write, args=(_PATH,), name="bench-statements", daemon=True).start()
