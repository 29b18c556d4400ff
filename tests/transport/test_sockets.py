"""The kernel's count of bytes a TCP socket received (Linux ``TCP_INFO``)."""

from __future__ import annotations

import socket
import sys

import pytest

from switchboard.transport.sockets import bytes_received


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO is Linux's")
def test_counts_the_bytes_received() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        with client, accepted:
            assert bytes_received(accepted) == 0
            client.sendall(b"x" * 1000)
            assert len(accepted.recv(1000, socket.MSG_WAITALL)) == 1000
            assert bytes_received(accepted) == 1000
            client.sendall(b"y" * 24)
            accepted.recv(24, socket.MSG_WAITALL)
            assert bytes_received(accepted) == 1024


def test_no_count_where_the_system_has_none() -> None:
    assert bytes_received(None) is None
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        left.sendall(b"abc")
        assert bytes_received(right) is None  # not TCP
    closed = socket.socket()
    closed.close()
    assert bytes_received(closed) is None
