"""A deliberately minimal WebSocket client over a raw socket, for misbehaving on purpose.

Real clients refuse to send invalid UTF-8, to ignore pings or to stall a
handshake; the tests need a peer that does exactly that. Frames are built and
parsed with the ``websockets`` package's frame codec.
"""

from __future__ import annotations

import asyncio
import base64
import os

from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader


def parse_server_frame(data: bytes) -> Frame:
    """Parse one complete unmasked frame with the ``websockets`` frame codec."""
    stream = StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    parser = Frame.parse(stream.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.response_headers = b""

    @classmethod
    async def connect(
        cls, port: int, path: str = "/ws", extra_headers: dict[str, str] | None = None
    ) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in (extra_headers or {}).items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        client.status = int(head.split(b" ", 2)[1])
        client.response_headers = head
        return client

    def send_frame(self, opcode: Opcode, data: bytes, fin: bool = True, rsv1: bool = False) -> None:
        """One masked frame; ``rsv1`` marks ``data`` as already deflated."""
        wire = bytearray(Frame(opcode, data, fin=fin).serialize(mask=True, extensions=[]))
        if rsv1:  # websockets refuses to build it; set the bit on the finished frame
            wire[0] |= 0x40
        self.writer.write(wire)

    async def recv_frame(self) -> Frame:
        return parse_server_frame(await self.recv_raw_frame())

    async def recv_raw_frame(self) -> bytes:
        """The next frame's bytes exactly as the server sent them (RSV bits and all)."""
        header = await self.reader.readexactly(2)
        length = header[1] & 0x7F
        extra = b""
        if length == 126:
            extra = await self.reader.readexactly(2)
        elif length == 127:
            extra = await self.reader.readexactly(8)
        size = int.from_bytes(extra, "big") if extra else length
        body = await self.reader.readexactly(size)
        return header + extra + body

    async def recv_until_close(self, ignore_pings: bool = True) -> Close:
        """Read frames, never answering pings, until the server's close frame."""
        while True:
            frame = await self.recv_frame()
            if frame.opcode is Opcode.CLOSE:
                return Close.parse(frame.data)
            if frame.opcode is Opcode.PING and not ignore_pings:
                self.send_frame(Opcode.PONG, frame.data)

    async def at_eof(self, within: float) -> bool:
        """True when the server closed the TCP connection within ``within`` seconds."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), within):
                pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    def close(self) -> None:
        self.writer.close()
