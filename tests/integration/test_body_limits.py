"""Bodies nobody needs to sign in to send are bounded on a real api-server (OktaFabAuthManager, SQLite).

Raw sockets, so the test decides how much it sends: a huge declared length with no body must be
answered at once, and a chunked stream must be answered while the client is still sending, with
the server's memory about where it was.
"""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import EVENT_HOOK_SECRET
from tests.stacks import StackSpec, running_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from okta_devstack.airflow import AirflowServer

AUTH_MANAGER = "okta_security.auth_manager.OktaFabAuthManager"
MiB = 1024 * 1024
STREAM_BYTES = 64 * MiB  # what a chunked client offers; the server must answer long before
MEMORY_GROWTH_LIMIT = 32 * MiB  # the old code held the whole 64 MiB stream (twice, while joining it)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    spec = StackSpec(auth_manager=AUTH_MANAGER, settings={"OKTA_EVENT_HOOK_SECRET": EVENT_HOOK_SECRET})
    with running_stack(spec, tmp_path_factory.mktemp("body-limits")) as stack:
        yield stack.airflow


def group_rss(pgid: int) -> int:
    """Return the resident memory of every process in the api-server's process group, in bytes."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            status = (entry / "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


def request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def declared_but_unsent(airflow: AirflowServer, path: str, headers: dict[str, str]) -> bytes:
    """Declare a 300 MiB body, send none of it, and return what the server answers within 10 s."""
    with socket.create_connection(("127.0.0.1", airflow.port), timeout=10) as sock:
        sock.sendall(request_head(path, {**headers, "Content-Length": str(300 * MiB)}))
        try:
            return sock.recv(65_536)
        except TimeoutError:
            return b"(no answer in 10 s: the server waits for the whole body)"


def stream_until_answered(airflow: AirflowServer, path: str, headers: dict[str, str]) -> tuple[bytes, int]:
    """Send a chunked body of up to STREAM_BYTES until the server answers; return the answer and bytes sent."""
    frame = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    with socket.create_connection(("127.0.0.1", airflow.port), timeout=10) as sock:
        sock.sendall(request_head(path, {**headers, "Transfer-Encoding": "chunked"}))
        sock.setblocking(False)
        sent, pending, answer = 0, b"", b""
        deadline = time.monotonic() + 60
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            writing = [sock] if sent < STREAM_BYTES else []
            readable, writable, _ = select.select([sock], writing, [], 1.0)
            if readable:
                part = sock.recv(65_536)
                if not part:
                    break
                answer += part
            elif writable:
                pending = pending or frame
                try:
                    written = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    sent = STREAM_BYTES  # the server closed its side: read its answer
                    continue
                sent, pending = sent + written, pending[written:]
        return answer, sent


TOKEN = ("/auth/token", {"Content-Type": "application/x-www-form-urlencoded"})
EVENTS = ("/auth/okta/events", {"Content-Type": "application/json", "Authorization": EVENT_HOOK_SECRET})


@pytest.mark.parametrize(("path", "headers"), [TOKEN, EVENTS], ids=["token", "event-hook"])
def test_a_huge_declared_body_is_refused_without_reading_it(server: AirflowServer, path, headers):
    assert status_of(declared_but_unsent(server, path, headers)) == 413


@pytest.mark.parametrize(("path", "headers"), [TOKEN, EVENTS], ids=["token", "event-hook"])
def test_a_chunked_body_over_the_limit_is_refused_while_still_arriving(server: AirflowServer, path, headers):
    assert server.proc is not None
    before = group_rss(os.getpgid(server.proc.pid))
    answer, sent = stream_until_answered(server, path, headers)
    assert status_of(answer) == 413
    assert sent < STREAM_BYTES / 4, f"the server answered only after {sent} bytes"
    assert group_rss(os.getpgid(server.proc.pid)) - before < MEMORY_GROWTH_LIMIT
