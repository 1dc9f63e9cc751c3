"""Port checks name who holds a port: this very test process, read from /proc."""

from __future__ import annotations

import os
import socket

from okta_devstack.airflow import free_port
from okta_devstack.ports import command_of, describe, holders, port_in_use, suggest_free_port


def test_a_free_port_is_free():
    assert not port_in_use(free_port())


def test_a_listening_port_is_in_use_and_its_holder_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_in_use(port)
        assert holders(port) == [os.getpid()]
        assert describe(holders(port)).startswith(f"pid {os.getpid()} (")
        assert "pytest" in command_of(os.getpid()) or "python" in command_of(os.getpid())
        suggestion = suggest_free_port(port)
        assert suggestion is not None
        assert suggestion > port
        assert not port_in_use(suggestion)
    assert not port_in_use(port)


def test_a_bound_but_not_listening_socket_holds_the_port_without_a_listener():
    # bind() alone reserves the port (the server's own bind would fail), but nobody listens: no holder to name.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert port_in_use(port)
        assert holders(port) == []
