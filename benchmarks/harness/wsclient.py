"""A frugal raw WebSocket client protocol for asyncio (uvloop), for the connection benchmarks.

``connrate.py`` opens and closes connections as fast as it can and ``scale.py`` holds tens of
thousands of them per process, so the client must cost little beside the server: one small
``asyncio.Protocol`` per connection, no library framing, no task per connection. It sends the
upgrade, waits for the ``101``, answers pings, hands each text message to a callback and does
the closing handshake. Server frames are never masked and never fragmented by the servers
under test; a fragmented or masked server frame is an error here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import cast

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HEAD = 16 * 1024
#: The masking key of every client frame (RFC 6455 5.3 asks for a random one; the servers under
#: test cannot tell, and a constant one saves a urandom call per message).
MASK = b"\x37\xfa\x21\x3d"


def upgrade_request(
    host: str, port: int, path: str, headers: dict[str, str] | None = None
) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    ).encode()


def _masked(payload: bytes) -> bytes:
    repeat = (MASK * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeat, "big")).to_bytes(
        len(payload), "big"
    )


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + MASK + _masked(payload)


CLOSE_NORMAL = client_frame(OP_CLOSE, (1000).to_bytes(2, "big"))


class Client(asyncio.Protocol):
    """One connection. ``upgraded`` resolves at the 101 (its monotonic time), ``first`` at the
    first message, ``closed`` at the server's close frame (its code) or when the socket is gone
    without one (None), ``gone`` when the socket is gone. ``on_text`` gets every text message
    after the first one."""

    __slots__ = (
        "_buf",
        "_close_sent",
        "closed",
        "first",
        "gone",
        "on_text",
        "request",
        "transport",
        "upgraded",
    )

    def __init__(self, request: bytes, on_text: Callable[[bytes], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.on_text = on_text
        self.upgraded: asyncio.Future[float] = loop.create_future()
        self.first: asyncio.Future[bytes] = loop.create_future()
        self.closed: asyncio.Future[int | None] = loop.create_future()
        self.gone: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._close_sent = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self.upgraded.done():
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self.fail("response head too large")
                return
            head = bytes(self._buf[:end])
            del self._buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.fail(head.split(b"\r\n", 1)[0].decode(errors="replace"))
                return
            self.upgraded.set_result(time.monotonic())
        self._frames()

    def _frames(self) -> None:
        buf = self._buf
        while len(buf) >= 2:
            first, length, at = buf[0], buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + length:
                return
            if buf[1] & 0x80 or not first & 0x80:
                self.fail("masked or fragmented server frame")
                return
            payload = bytes(buf[at : at + length])
            del buf[: at + length]
            self._frame(first & 0x0F, payload)

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode in (OP_TEXT, OP_BINARY):
            if not self.first.done():
                self.first.set_result(payload)
            elif self.on_text is not None:
                self.on_text(payload)
        elif opcode == OP_PING:
            self.send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.closed.done():
                self.closed.set_result(code)
            if self.transport is not None and not self._close_sent:
                # The server started the close: answer it and drop the socket.
                self._close_sent = True
                self.transport.write(client_frame(OP_CLOSE, payload[:2]))
                self.transport.close()
            # Otherwise this answers our close: the server closes the socket first (RFC 6455
            # 7.1.1), so its side, not ours, waits in TIME_WAIT and our source ports stay free.

    def send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send_text(self, payload: bytes) -> None:
        self.send(OP_TEXT, payload)

    def close(self) -> None:
        """Start the closing handshake; the server answers and closes the socket first."""
        if self.transport is not None and not self.transport.is_closing():
            self._close_sent = True
            self.transport.write(CLOSE_NORMAL)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def reset(self) -> None:
        """Drop the connection with a TCP reset: no TIME_WAIT holds this source port after it."""
        if self.transport is not None and not self.gone.done():
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()

    def fail(self, why: str) -> None:
        self._break(why)
        self.abort()

    def _break(self, why: str) -> None:
        for future in (self.upgraded, self.first):
            if not future.done():
                future.set_exception(ConnectionError(why))
                future.exception()  # retrieved: a caller that never awaits it is not warned

    def connection_lost(self, exc: Exception | None) -> None:
        self._break(str(exc) if exc else "closed by the server")
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.gone.done():
            self.gone.set_result(None)


async def open_client(
    host: str,
    port: int,
    request: bytes,
    local_addr: str | None = None,
    on_text: Callable[[bytes], None] | None = None,
) -> Client:
    """Connect (from ``local_addr`` when given, bound before connect) and send the upgrade."""
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: Client(request, on_text),
        host,
        port,
        local_addr=None if local_addr is None else (local_addr, 0),
    )
    return client
