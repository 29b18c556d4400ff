"""What the kernel knows about a TCP socket that asyncio does not say (Linux ``TCP_INFO``)."""

from __future__ import annotations

import socket
import struct
from typing import Any

#: ``struct tcp_info`` (linux/tcp.h): ``tcpi_bytes_received`` is the u64 at byte 128
#: (Linux 4.1 and later; the struct only ever grows at its end).
_BYTES_RECEIVED = struct.Struct("=Q")
_BYTES_RECEIVED_AT = 128
_TCP_INFO = getattr(socket, "TCP_INFO", None)


def bytes_received(sock: Any) -> int | None:
    """Bytes ``sock`` has received (headers and all), or None where the system does not say."""
    if sock is None or _TCP_INFO is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 256)
    except OSError:  # closed, or not TCP (a Unix socket)
        return None
    if len(info) < _BYTES_RECEIVED_AT + _BYTES_RECEIVED.size:
        return None
    return int(_BYTES_RECEIVED.unpack_from(info, _BYTES_RECEIVED_AT)[0])
