"""A StatsD server for tests: a UDP socket on 127.0.0.1 that keeps every metric line it receives."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class StatsdSink:
    """Receive StatsD datagrams (``name:value|type``, several per datagram) on a thread of its own."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="statsd-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65535)
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self._lines.extend(line for line in data.decode("utf-8", "replace").splitlines() if line)

    def lines(self) -> list[str]:
        """Return every line received so far."""
        with self._lock:
            return list(self._lines)

    def names(self) -> set[str]:
        """Return the metric names received so far."""
        return {line.split(":", 1)[0] for line in self.lines()}

    def wait_for(self, test: Callable[[set[str]], bool], timeout: float = 15.0) -> set[str]:
        """Wait until ``test(names)`` holds; return the names (the caller asserts on them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = self.names()
            if test(names):
                return names
            time.sleep(0.1)
        return self.names()

    def close(self) -> None:
        """Stop receiving."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
