"""Opening the listening socket: picows' WebSocket protocol on uvloop's TCP server.

Each accepted connection starts with a :class:`HandshakeReader`, a plain asyncio protocol
that buffers the HTTP request until its blank line. picows would silently drop a request
whose header block reaches its hard-coded 16 KiB; the reader answers it 431 instead, and
owns the handshake timeout. Once the headers are in, it builds the connection's picows
``WSProtocol`` (what ``ws_create_server`` does internally, minus its options we do not use),
swaps it in with ``transport.set_protocol`` and feeds it the buffered bytes, pipelined
frames included. From then on the reader is garbage: an upgraded connection costs exactly
what a bare picows one does. The upgrade handler learns the peer's address at the
handshake, so per-address limits and bans answer before the upgrade, with an HTTP status.
The ``WSProtocol`` constructor is picows' documented internal; picows is pinned to 2.3.x.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from ssl import SSLContext
from typing import Any, cast

from picows import WSAutoPingStrategy, WSUpgradeRequest
from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in its stub

from .handshake import UpgradeHandler

# picows wraps a plain ``logging.Logger`` in a new child Logger per connection (name
# "picows.server.<fd>", ~0.6 KB each, kept for the connection's life); any other
# logger-like object is used as is. Same records, same "picows.server" logger name.
_PICOWS_LOG = logging.LoggerAdapter(logging.getLogger("picows.server"), None)

#: picows disconnects, without a word, a request whose header block reaches this size
#: (its ``_http_max_size``, not configurable). Requests must stay below it.
PICOWS_MAX_REQUEST_HEAD = 16 * 1024
_END_OF_HEAD = b"\r\n\r\n"
#: After a 431 the client may still be sending its headers: closing with unread bytes
#: makes the kernel send a reset, which can destroy the answer before the client reads
#: it. So keep reading (and dropping) for a moment, like nginx's lingering close.
LINGER_SECONDS = 1.0
LINGER_MAX_BYTES = 1024 * 1024


class _Detached(asyncio.Protocol):
    """Stands in for a moment between the reader and picows (see ``_hand_over``)."""

    __slots__ = ()

    @staticmethod
    def data_received(data: bytes) -> None:  # never called: replaced at once
        raise AssertionError("no protocol installed")


_DETACHED = _Detached()


class InFlight:
    """Handshakes under way (accepted, request not yet handed to picows), and their bound:
    each holds a file descriptor that no connection count sees yet."""

    __slots__ = ("count", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0: no bound
        self.count = 0


class HandshakeReader(asyncio.Protocol):
    """A connection until its request head has arrived; then hands it to picows."""

    __slots__ = (
        "_buffer", "_busy", "_counted", "_discarded", "_in_flight", "_make", "_oversized",
        "_timeout", "_timer", "_transport",
    )  # fmt: skip

    def __init__(
        self,
        make: Callable[[object], WSProtocol],
        oversized: Callable[[], bytes],
        timeout: float | None,
        in_flight: InFlight | None = None,
        busy: Callable[[int], bytes] | None = None,
    ) -> None:
        self._make = make
        self._oversized = oversized
        self._timeout = timeout
        self._in_flight = in_flight
        self._busy = busy
        self._counted = False
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._discarded = -1  # >= 0 once answered 431 or 503: bytes dropped since

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it.
        self._transport = cast(asyncio.Transport, transport)
        in_flight = self._in_flight
        if in_flight is not None and in_flight.limit:
            if in_flight.count >= in_flight.limit and self._busy is not None:
                self._refuse(self._busy(in_flight.count))
                return
            in_flight.count += 1
            self._counted = True
        if self._timeout is not None:
            # From the accept, not from the last byte: a slowloris gains nothing.
            self._timer = asyncio.get_running_loop().call_later(
                self._timeout, self._transport.close
            )

    def data_received(self, data: bytes) -> None:
        if self._discarded >= 0:
            self._discarded += len(data)
            if self._discarded > LINGER_MAX_BYTES and self._transport is not None:
                self._transport.abort()
            return
        # Search only the new bytes (and the three before them) for the blank line.
        start = max(0, len(self._buffer) - 3)
        self._buffer += data
        end = self._buffer.find(_END_OF_HEAD, start)
        if end < 0:
            if len(self._buffer) >= PICOWS_MAX_REQUEST_HEAD:
                self._refuse(self._oversized())
            return
        if end >= PICOWS_MAX_REQUEST_HEAD:
            self._refuse(self._oversized())
            return
        self._hand_over()

    def eof_received(self) -> bool | None:
        return None  # the client gave up: close

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._uncount()
        self._transport = None

    def _uncount(self) -> None:
        if self._counted and self._in_flight is not None:
            self._counted = False
            self._in_flight.count -= 1

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _refuse(self, answer: bytes) -> None:
        """Write a complete HTTP answer, then close after a lingering read."""
        transport = self._transport
        assert transport is not None
        self._buffer = bytearray()
        self._discarded = 0
        transport.write(answer)
        self._cancel_timer()
        if transport.can_write_eof():
            transport.write_eof()  # the answer is complete; reading goes on (see above)
        self._timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)

    def _hand_over(self) -> None:
        """Make the picows protocol the transport's and replay what we read into it."""
        transport = self._transport
        assert transport is not None
        self._cancel_timer()
        self._uncount()
        data = _as_http11(self._buffer)
        self._buffer = bytearray()
        self._transport = None
        ws = self._make(transport.get_extra_info("peername"))
        # uvloop caches the protocol's bound ``data_received`` and keeps it when the next
        # protocol has none (picows' is buffered): that would keep this reader alive for the
        # connection's life. A stand-in whose method is a plain shared function replaces it.
        transport.set_protocol(_DETACHED)
        transport.set_protocol(ws)  # uvloop switches to its buffered read path here
        ws.connection_made(transport)
        view = memoryview(data)
        fed = 0
        # picows' read buffer starts small and grows as it fills: feed it in its pieces.
        while fed < len(data) and not transport.is_closing():
            space = ws.get_buffer(len(data) - fed)
            size = min(len(space), len(data) - fed)
            if size <= 0:  # picows always grows its buffer first; never spin if it did not
                transport.abort()
                return
            space[:size] = view[fed : fed + size]
            fed += size
            ws.buffer_updated(size)


def _as_http11(head: bytearray) -> bytearray:
    """An HTTP/1.0 request (a balancer's health check: HAProxy's ``option httpchk GET
    /ready`` sends one) read as HTTP/1.1, which picows insists on; a WebSocket upgrade is
    never HTTP/1.0, so this only lets ``/health``, ``/ready`` and ``/route`` answer it."""
    line_end = head.find(b"\r\n")
    if line_end > 9 and head[line_end - 9 : line_end] == b" HTTP/1.0":
        head[line_end - 1 : line_end] = b"1"
    return head


async def listen(
    handler: UpgradeHandler,
    host: str,
    port: int,
    *,
    handshake_timeout: float,
    max_frame_size: int,
    read_buffer_size: int,
    reuse_port: bool = False,
    backlog: int = 2048,
    ssl: SSLContext | None = None,
    max_handshakes: int = 0,
) -> asyncio.Server:
    """Start accepting connections; returns the asyncio server (``sockets`` tell the port).

    ``max_handshakes``: connections whose handshake is under way at most (0: no bound);
    past it a new one is answered 503 at once."""

    def websocket(peer: object) -> WSProtocol:
        def upgrade(request: WSUpgradeRequest) -> Any:
            return handler(request, peer)

        return WSProtocol(
            None,  # host and port: client side only
            None,  # path: client side only
            False,  # server side
            upgrade,
            _PICOWS_LOG,
            True,  # disconnect_on_exception
            None,  # handshake timeout: the HandshakeReader's; the request is complete here
            False,  # auto ping: one heartbeat sweep for all connections instead (core)
            10.0,  # (auto ping idle timeout, reply timeout, strategy: unused, picows' defaults)
            10.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            # Pings are answered by the listener, after its reserved-bit check: picows' own
            # auto-pong would answer a ping with RSV bits set instead of failing the connection.
            False,
            max_frame_size,
            None,  # extra headers
            read_buffer_size,
        )

    in_flight = InFlight(max_handshakes)

    def protocol() -> HandshakeReader:
        return HandshakeReader(
            websocket, handler.oversized_request, handshake_timeout, in_flight,
            handler.busy_request,
        )  # fmt: skip

    loop = asyncio.get_running_loop()
    # uvloop's own TCP transport: ~1.3 KB per connection against ~6.7 KB for aiofastnet's
    # (a 4 KiB inline iovec array, a write deque, a poll handle).
    return await loop.create_server(
        protocol, host=host, port=port, reuse_port=reuse_port, backlog=backlog, ssl=ssl
    )
