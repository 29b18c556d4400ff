"""The picows listener of one connection: frames in, core calls out, bytes back.

It also implements the core's ``Transport`` protocol, so the core writes to the
socket through this object without knowing picows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import cast

import structlog
from multidict import CIMultiDict, CIMultiDictProxy
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from ..core.connection import Connection
from ..core.lifecycle import Phase
from ..core.node import Node
from ..errors import ProtocolViolation
from ..protocol.assembler import MessageAssembler, check_message
from ..protocol.codes import CloseCode
from ..protocol.deflate import Inflater
from ..protocol.frames import Opcode
from ..protocol.wire import PLAIN_JSON, Wire
from ..security.auth import ANONYMOUS, Identity
from ..security.gate import Admission, Refusal
from .sockets import bytes_received

log = structlog.get_logger("switchboard.transport")

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_PING = WSMsgType.PING
_PONG = WSMsgType.PONG
_CLOSE = WSMsgType.CLOSE
_OP_TEXT = Opcode.TEXT.value
_OP_BINARY = Opcode.BINARY.value
_OPCODES = {_TEXT: _OP_TEXT, _BINARY: _OP_BINARY, _CONTINUATION: Opcode.CONTINUATION.value}
_MAX_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 of them the code
#: Stands in for the upgrade request's and 101 response's headers once the handshake is done
#: (read-only, so sharing it between connections is safe; typed as picows declares it).
_NO_HEADERS = cast("CIMultiDict[str]", CIMultiDictProxy(CIMultiDict[str]()))


class Listener(WSListener):
    """Bridges one picows connection to the core :class:`Node`."""

    __slots__ = (
        "_abort_handle",
        "_ws",
        "address",
        "conn",
        "identity",
        "inflater",
        "limits",
        "node",
        "refusal",
        "release",
        "sink",
        "wire",
    )

    def __init__(
        self,
        node: Node,
        limits: ListenerLimits,
        wire: Wire = PLAIN_JSON,
        inflater: Inflater | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        """``refusal``: the handshake is accepted only to close at once with its code and
        reason (in-band authentication failures, an unsupported subprotocol)."""
        super().__init__()
        self.node = node
        self.limits = limits
        self.wire = wire
        #: Decompresses incoming messages when permessage-deflate was negotiated.
        self.inflater = inflater
        #: Who the handshake's checks said the client is (see :meth:`admitted`).
        self.identity: Identity = ANONYMOUS
        self.refusal = refusal
        #: The client's address as the security checks saw it (None: the socket's peer).
        self.address: str | None = None
        #: Called once when the connection ends, to uncount it from the address limits.
        self.release: Callable[[], None] | None = None

    def admitted(self, admission: Admission, release: Callable[[Admission], None] | None) -> None:
        """The handshake passed the security checks as ``admission``."""
        self.identity = admission.identity
        self.address = admission.address
        if release is not None:
            self.release = partial(release, admission)
        self.conn: Connection | None = None
        self._abort_handle: asyncio.TimerHandle | None = None

    # --- picows callbacks ----------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        # picows keeps the upgrade request and our 101 response for the connection's life
        # (read-only attributes); their headers (2.5 KB here, 6-7 KB for a browser's) are
        # never read again, so let them go.
        handshake = None
        if self.node.keep_handshake:
            claims = dict(self.identity.claims)
            handshake = {"headers": dict(transport.request.headers), "claims": claims}
        transport.request.headers = _NO_HEADERS
        if transport.response is not None:
            transport.response.headers = _NO_HEADERS
        self._ws = transport
        raw = transport.underlying_transport
        #: The core writes here directly (``core.connection.Transport.sink``).
        self.sink = raw
        raw.set_write_buffer_limits(high=self.limits.write_high_water)
        peer = raw.get_extra_info("peername")
        remote = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if self.address is not None and isinstance(peer, tuple) and self.address != peer[0]:
            remote = f"{self.address} via {remote}"  # forwarded by a trusted proxy
        refusal = self.refusal
        if refusal is not None:
            log.info(
                "connection_refused",
                remote=remote,
                close_code=refusal.close_code,
                reason=refusal.reason,
            )
            transport.send_close(WSCloseCode(refusal.close_code), refusal.reason.encode())
            transport.disconnect()
            return
        identity = self.identity
        self.conn = self.node.open(
            self, remote, self.wire, identity.user, identity.roles, identity.expires_at, handshake
        )
        self.identity = ANONYMOUS  # the connection holds it now

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        conn = self.conn
        if conn is None:
            return  # refused at the upgrade; the close is on its way
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            inflated = self._reserved_bits(conn, frame)
            if inflated is None:
                return
            opcode, payload = inflated
        else:
            msg_type = frame.msg_type
            if msg_type is _TEXT:
                opcode = _OP_TEXT
            elif msg_type is _BINARY:
                opcode = _OP_BINARY
            else:
                self._other_frame(conn, msg_type, frame)
                return
            if conn.assembler is not None or not frame.fin:
                self._assemble(conn, frame)
                return
            if conn.closing:
                return
            # The hot path: a whole message in one frame.
            payload = frame.get_payload_as_bytes()
        try:
            check_message(opcode, payload, self.limits.max_message_size)
        except ProtocolViolation as exc:
            self._violation(conn, exc)
            return
        if conn.backlog is not None:
            self.node.hold(conn, opcode, payload)
            return
        self.node.on_message(conn, opcode, payload)

    def _reserved_bits(self, conn: Connection, frame: WSFrame) -> tuple[int, bytes] | None:
        """RSV1 marks a compressed message once permessage-deflate is negotiated; any other
        reserved bit, or RSV1 without it, is a protocol error (RFC 6455 5.2, RFC 7692 6).
        Returns a whole decompressed message; a first fragment goes to reassembly (None)."""
        inflater = self.inflater
        msg_type = frame.msg_type
        if (
            inflater is None
            or frame.rsv2
            or frame.rsv3
            or (msg_type is not _TEXT and msg_type is not _BINARY)
        ):
            self._violation(conn, ProtocolViolation(CloseCode.PROTOCOL_ERROR, "reserved bit set"))
            return None
        if conn.closing:
            return None
        opcode = _OPCODES[msg_type]
        try:
            payload = inflater.inflate(opcode, frame.fin, True, frame.get_payload_as_bytes())
        except ProtocolViolation as exc:
            self._violation(conn, exc)
            return None
        if conn.assembler is not None or not frame.fin:
            self._feed(conn, opcode, frame.fin, payload)
            return None
        return opcode, payload

    def _other_frame(self, conn: Connection, msg_type: WSMsgType, frame: WSFrame) -> None:
        if msg_type is _CONTINUATION:
            self._assemble(conn, frame)
        elif msg_type is _PING:
            # Through the outbox: a client that pings and never reads meets the send-queue
            # bound like any other slow consumer.
            self.node.ping(conn, frame.get_payload_as_bytes())
        elif msg_type is _PONG:
            self.node.heartbeat.pong(conn, frame.get_payload_as_bytes())
        elif msg_type is _CLOSE:
            self._close_received(conn, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._abort_handle is not None:
            self._abort_handle.cancel()
            self._abort_handle = None
        if self.release is not None:
            self.release()
            self.release = None
        conn = self.conn
        if conn is None:
            return
        code, reason, by = _close_summary(transport)
        self.node.closed(conn, code, reason, by)

    def pause_writing(self) -> None:
        if self.conn is not None:
            self.node.outbox.pause(self.conn)

    def resume_writing(self) -> None:
        if self.conn is not None:
            self.node.outbox.resume(self.conn)

    # --- core Transport protocol ---------------------------------------------------------------

    def close(self, code: int, reason: str, *, fail: bool = False) -> None:
        ws = self._ws
        if not ws.is_close_frame_sent:
            ws.send_close(WSCloseCode(code), _truncate_reason(reason))
        if fail:
            # Write what is buffered, the close frame last, then FIN, without waiting for the
            # peer's close frame; the abort below still bounds a peer that reads nothing.
            ws.disconnect(graceful=True)
        # The peer should answer with its own close frame; do not wait for it forever.
        if self._abort_handle is None:
            self._abort_handle = asyncio.get_running_loop().call_later(
                self.limits.close_timeout, self.abort
            )

    def abort(self) -> None:
        self._abort_handle = None
        self._ws.disconnect(graceful=False)

    def received_bytes(self) -> int | None:
        return bytes_received(self.sink.get_extra_info("socket"))

    # --- helpers -------------------------------------------------------------------------------

    def _assemble(self, conn: Connection, frame: WSFrame) -> None:
        if conn.closing:
            return
        opcode = _OPCODES[frame.msg_type]
        payload = frame.get_payload_as_bytes()
        inflater = self.inflater
        if inflater is not None and inflater.wants(False):  # the rest of a compressed message
            try:
                payload = inflater.inflate(opcode, frame.fin, False, payload)
            except ProtocolViolation as exc:
                self._violation(conn, exc)
                return
        self._feed(conn, opcode, frame.fin, payload)

    def _feed(self, conn: Connection, opcode: int, fin: bool, payload: bytes) -> None:
        """One fragment (already decompressed) into the connection's reassembly."""
        assembler = conn.assembler
        if assembler is None:
            assembler = conn.assembler = MessageAssembler(self.limits.max_message_size)
        try:
            message = assembler.feed(opcode, fin, payload)
        except ProtocolViolation as exc:
            self._violation(conn, exc)
            return
        if message is not None:
            conn.assembler = None
            if conn.backlog is not None:
                self.node.hold(conn, message[0], message[1])
            else:
                self.node.on_message(conn, message[0], message[1])

    def _violation(self, conn: Connection, exc: ProtocolViolation) -> None:
        conn.assembler = None
        log.info(
            "protocol_violation",
            connection_id=conn.id,
            remote=conn.remote,
            close_code=int(exc.close_code),
            reason=exc.reason,
        )
        self.node.close(conn, exc.close_code, exc.reason, fail=True)

    def _close_received(self, conn: Connection, frame: WSFrame) -> None:
        ws = self._ws
        if ws.is_close_frame_sent:  # the answer to our close: the handshake is complete
            ws.disconnect()
            return
        # An empty close frame carries no code: answer 1000. Otherwise echo the code, unless
        # it is one no endpoint may send (picows lets 0, 1006 and 5000+ through).
        reply = CloseCode.NORMAL.value
        if frame.payload_size:
            reply = frame.get_close_code().value
            if not _sendable_close_code(reply):
                reason = f"invalid close code {reply}"
                self._violation(conn, ProtocolViolation(CloseCode.PROTOCOL_ERROR, reason))
                return
        if not conn.paused:
            self.node.outbox.flush(conn)
        if not conn.closing:
            conn.enter(Phase.CLOSING)
        ws.send_close(WSCloseCode(reply))
        ws.disconnect()


class ListenerLimits:
    """Per-connection settings every listener shares (one object, not one per connection)."""

    __slots__ = ("close_timeout", "max_message_size", "write_high_water")

    def __init__(self, max_message_size: int, write_high_water: int, close_timeout: float) -> None:
        self.max_message_size = max_message_size
        self.write_high_water = write_high_water
        self.close_timeout = close_timeout


def _sendable_close_code(code: int) -> bool:
    """Codes a peer may put in a close frame (RFC 6455 7.4.1 and the IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _truncate_reason(reason: str) -> bytes:
    data = reason.encode("utf-8")[:_MAX_REASON_BYTES]
    return data.decode("utf-8", "ignore").encode("utf-8")


def _close_summary(transport: WSTransport) -> tuple[int, str, str]:
    """(code, reason, who closed first) from the close handshake, 1006 when there was none."""
    handshake = transport.close_handshake
    if handshake is None:
        return 1006, "connection dropped without a close frame", "network"
    if handshake.recv_then_sent and handshake.recv is not None:
        return handshake.recv.code.value, handshake.recv.reason or "", "client"
    if handshake.sent is not None:
        return handshake.sent.code.value, handshake.sent.reason or "", "server"
    return 1006, "", "network"
