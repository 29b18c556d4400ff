"""The supervisor's ports: the WebSocket port it holds for its workers, and their admin ports."""

from __future__ import annotations

import socket


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound with SO_REUSEPORT on ``host`` and ``port`` (0: a free one), never listening.

    Bound for the supervisor's life, it keeps the port ours while every worker is down (a
    restart finds it free), and it takes no connections: the kernel spreads connections over
    listening sockets only. Its port is ``getsockname()[1]``. Raises ``OSError`` when
    another program holds the port (a worker would only fail to bind it, again and again).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:  # as asyncio binds each address: IPv6 only
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 now (the kernel's pick): a worker's admin port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
