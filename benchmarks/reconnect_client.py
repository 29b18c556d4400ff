"""Clients that a drain closes and that reconnect to another node: the drain benchmark's load.

    .venv/bin/python benchmarks/reconnect_client.py --port-a 9001 --port-b 9002 --conns 2000

Opens ``--conns`` WebSocket connections to node A (127.0.0.1 only) and waits for each one's
first frame (the welcome), then prints ``{"ready": N}``. From then on, every connection the
server closes reconnects to node B: after the close reason's ``reconnect_after_ms`` when it
has one (``--ignore-hint``: at once), and at once when it has none. A failed attempt (refused,
no 101, no answer within ``ATTEMPT_TIMEOUT``) is tried again after ``RETRY_DELAY``. When every
connection is back, or at ``--deadline``, it prints one JSON line with the time.monotonic()
of each close and of each arrival at B (the 101), which is the same clock as the harness's,
and exits. A raw asyncio client (uvloop when installed), not the websockets library, so the
client's own cost per handshake stays small beside the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

try:
    import uvloop
except ImportError:  # plain asyncio then
    uvloop = None

HOST = "127.0.0.1"  # the only address this ever connects to
MAX_CONNS = 10_000
#: Connections opened to node A at the same time.
OPEN_CONCURRENCY = 100
#: Seconds an attempt (TCP connect, upgrade and welcome) may take before it is tried again.
ATTEMPT_TIMEOUT = 10.0
RETRY_DELAY = 0.1
MAX_ATTEMPTS = 50
MAX_HEAD = 16 * 1024

OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A final client frame (RFC 6455 5.3: masked), payloads up to 125 bytes."""
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + body


def upgrade_request(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def reconnect_hint(reason: str) -> int | None:
    """``reconnect_after_ms`` of a close reason, if it is that JSON object."""
    try:
        value = json.loads(reason).get("reconnect_after_ms")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None


class Link(asyncio.Protocol):
    """One connection: the upgrade, then frames (pings answered) until the server's close."""

    def __init__(self, request: bytes, on_close: Callable[[int | None, str], None]) -> None:
        self.request = request
        self.on_close = on_close
        self.welcomed: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.upgraded_at = 0.0
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.upgraded_at:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    self._fail("response head too large")
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                status = head.split(b"\r\n", 1)[0] + b" " + bytes(self._buffer[:80])
                self._fail(" ".join(status.decode(errors="replace").split()))
                return
            self.upgraded_at = time.monotonic()
        self._read_frames()

    def _read_frames(self) -> None:
        buf = self._buffer
        while len(buf) >= 2:
            opcode, length, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length >= 126:
                size = 2 if length == 126 else 8
                if len(buf) < 2 + size:
                    return
                length, at = int.from_bytes(buf[2 : 2 + size], "big"), 2 + size
            at += 4 if buf[1] & 0x80 else 0  # a server never masks; skip a key if one did
            if len(buf) < at + length:
                return
            payload = bytes(buf[at : at + length])
            del buf[: at + length]
            if opcode == OP_CLOSE:
                self._server_closed(payload)
                return
            if opcode == OP_PING:
                self._write(masked_frame(OP_PONG, payload[:125]))
            elif not self.welcomed.done():
                self.welcomed.set_result(time.monotonic())

    def _server_closed(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
        self._write(masked_frame(OP_CLOSE, payload[:2]))
        if self.transport is not None:
            self.transport.close()
        self._finish(code, payload[2:].decode(errors="replace"))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, why: str) -> None:
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, code: int | None, reason: str) -> None:
        if not self._closed:
            self._closed = True
            if not self.welcomed.done():
                self.welcomed.set_exception(ConnectionError(f"closed {code} before the welcome"))
            self.on_close(code, reason)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(None, "")  # no close frame: the TCP connection just ended


@dataclass
class Client:
    """One client: its connection to A, the close, the reconnect to B."""

    closed_at: float = 0.0
    code: int | None = None
    hint_ms: int | None = None
    due: float = 0.0  # when it decided to reconnect: the close plus the hint it follows
    arrived_at: float = 0.0  # the 101 from B
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.clients = [Client() for _ in range(args.conns)]
        self.links: list[Link] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.all_back = asyncio.Event()
        self.back = 0

    async def connect(self, port: int, on_close: Callable[[int | None, str], None]) -> Link:
        loop = asyncio.get_running_loop()
        request = upgrade_request(port, self.args.path)
        async with asyncio.timeout(ATTEMPT_TIMEOUT):
            _, link = await loop.create_connection(lambda: Link(request, on_close), HOST, port)
            try:
                await link.welcomed
            except BaseException:
                if link.transport is not None:
                    link.transport.abort()
                raise
        self.links.append(link)
        return link

    async def open_to_a(self, index: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            await self.connect(
                self.args.port_a, lambda code, reason: self.closed(index, code, reason)
            )

    def closed(self, index: int, code: int | None, reason: str) -> None:
        client = self.clients[index]
        if client.closed_at:
            return
        client.closed_at, client.code = time.monotonic(), code
        client.hint_ms = reconnect_hint(reason)
        delay = 0.0 if self.args.ignore_hint or client.hint_ms is None else client.hint_ms / 1000
        client.due = client.closed_at + delay
        task = asyncio.get_running_loop().create_task(self.reconnect(client, delay))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def reconnect(self, client: Client, delay: float) -> None:
        await asyncio.sleep(delay)
        while client.attempts < MAX_ATTEMPTS:
            client.attempts += 1
            try:
                link = await self.connect(self.args.port_b, lambda code, reason: None)
            except (OSError, TimeoutError) as exc:
                client.errors.append(f"{type(exc).__name__}: {exc}"[:120])
                await asyncio.sleep(RETRY_DELAY)
                continue
            client.arrived_at = link.upgraded_at
            self.back += 1
            if self.back == len(self.clients):
                self.all_back.set()
            return

    async def main(self) -> dict[str, object]:
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        started = time.monotonic()
        opens = [self.open_to_a(i, gate) for i in range(len(self.clients))]
        failed = [r for r in await asyncio.gather(*opens, return_exceptions=True) if r is not None]
        print(json.dumps({"ready": len(self.clients) - len(failed), "failed": len(failed)}))
        sys.stdout.flush()
        if failed:
            return {"error": f"{len(failed)} connections to A failed: {failed[0]!r}"}
        left = self.args.deadline - (time.monotonic() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_back.wait(), max(0.0, left))
        for task in list(self.tasks):
            task.cancel()
        return self.report()

    def report(self) -> dict[str, object]:
        closed = [c for c in self.clients if c.closed_at]
        errors = [e for c in self.clients for e in c.errors]
        return {
            "conns": len(self.clients),
            "closed": len(closed),
            "back": self.back,
            "close_codes": dict(Counter(str(c.code) for c in closed)),
            "with_hint": sum(c.hint_ms is not None for c in closed),
            "close_t": [round(c.closed_at, 5) for c in closed],
            "hint_ms": [c.hint_ms for c in closed],
            "due_t": [round(c.due, 5) for c in self.clients if c.arrived_at],
            "arrive_t": [round(c.arrived_at, 5) for c in self.clients if c.arrived_at],
            "attempts": sum(c.attempts for c in self.clients),
            "failed_attempts": len(errors),
            "error_kinds": dict(Counter(errors).most_common(5)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-a", type=int, required=True)
    parser.add_argument("--port-b", type=int, required=True)
    parser.add_argument("--path", default="/ws")
    parser.add_argument("--conns", type=int, default=2000)
    parser.add_argument("--ignore-hint", action="store_true", help="reconnect at once")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds in all, at most")
    args = parser.parse_args()
    if not 1 <= args.conns <= MAX_CONNS:
        parser.error(f"--conns must be 1 to {MAX_CONNS}")
    runner = asyncio.run if uvloop is None else uvloop.run
    result = runner(Run(args).main())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
