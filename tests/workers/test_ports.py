"""The WebSocket port the supervisor holds: shared with listening workers, never taking a
connection itself; refused when another program has it."""

from __future__ import annotations

import socket

import pytest

from switchboard.workers.ports import free_loopback_port, reserve_port


def listener(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_workers_bind_the_reserved_port_and_only_they_get_connections() -> None:
    with reserve_port("127.0.0.1", 0) as reserved:
        port = reserved.getsockname()[1]
        assert port != 0
        with listener(port) as worker:
            for _ in range(10):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                worker.settimeout(2)
                worker.accept()[0].close()


def test_a_port_another_program_holds_is_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as other:
        port = other.getsockname()[1]
        with pytest.raises(OSError):
            reserve_port("127.0.0.1", port)


def test_a_free_loopback_port_can_be_bound() -> None:
    with socket.create_server(("127.0.0.1", free_loopback_port())):
        pass
