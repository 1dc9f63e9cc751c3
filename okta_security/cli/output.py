"""stdout carries a command's report and nothing else.

Scripts parse ``--json`` reports, and Airflow logs to stdout: its logging is configured on import
and keeps the stdout object (and so file descriptor 1) it saw then. Swapping ``sys.stdout`` is
not enough, so while a command runs, descriptor 1 itself points at stderr and only
:func:`emit` writes to the real stdout, through a private duplicate of it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator

_stream: TextIO | None = None


def report_stream() -> TextIO:
    """Return the stream a command's report goes to (stdout when no command is running)."""
    return _stream if _stream is not None else sys.stdout


def emit(*values: Any, sep: str = " ", end: str = "\n") -> None:
    """``print`` to the report stream."""
    print(*values, sep=sep, end=end, file=report_stream(), flush=True)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None  # a captured stream (pytest's capsys): swapping the objects is enough


@contextlib.contextmanager
def report_only_on_stdout() -> Iterator[TextIO]:
    """Send everything written to stdout to stderr, except :func:`emit`; yield the report stream."""
    global _stream
    out, err = sys.stdout, sys.stderr
    out_fd, err_fd = _fileno(out), _fileno(err)
    saved: int | None = None
    stream: TextIO = out
    if out_fd is not None and err_fd is not None:
        out.flush()
        saved = os.dup(out_fd)
        stream = open(  # noqa: SIM115 - closed below, after descriptor 1 is restored
            saved,
            "w",
            encoding=getattr(out, "encoding", None) or "utf-8",
            errors=getattr(out, "errors", None) or "strict",
            closefd=False,
        )
        os.dup2(err_fd, out_fd)
    previous, _stream = _stream, stream
    sys.stdout = err
    try:
        yield stream
    finally:
        sys.stdout = out
        _stream = previous
        stream.flush()
        if saved is not None and out_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                out.flush()  # what the old object buffered belongs on stderr, before stdout comes back
            os.dup2(saved, out_fd)
            stream.close()
            os.close(saved)
