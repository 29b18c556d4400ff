"""permessage-deflate (RFC 7692), negotiated and applied by the ``websockets`` package's
sans-I/O extension classes; this module only decides the policy and shares compressors.

With no context takeover on the server side (the default) every message is compressed on
its own, so the bytes depend only on the payload and the window size: connections that
negotiated the same window share one :class:`Compressor`, and a fan-out compresses
a message once for all of them. With no context takeover on the client side an idle
connection holds no zlib state at all (the decompressor lives for one message).
"""

from __future__ import annotations

from dataclasses import dataclass

from websockets.exceptions import InvalidHeader, NegotiationError, PayloadTooBig, ProtocolError
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.headers import build_extension, parse_extension

from ..errors import ProtocolViolation
from .codes import CloseCode
from .frames import compressed_frame

_NAME = "permessage-deflate"
_OPCODES = {0x0: Opcode.CONT, 0x1: Opcode.TEXT, 0x2: Opcode.BINARY}


@dataclass(frozen=True, slots=True)
class DeflateSettings:
    """The server's compression policy (``--compression`` and friends)."""

    #: Let either side keep its compression context between messages (costs zlib state per
    #: connection and rules out compress-once).
    context_takeover: bool = False
    #: The server's LZ77 window (9-15); a client may ask for less.
    window_bits: int = 15
    #: zlib memory level (1-9) of the compressor.
    memory_level: int = 8
    #: zlib compression level (1-9).
    level: int = 6
    #: Payloads shorter than this many bytes go out uncompressed.
    threshold: int = 256


class Compressor:
    """Compresses outgoing messages. Without context takeover each message is compressed on
    its own, so one instance serves every connection that negotiated the same window and
    equal payloads give equal bytes (compress once); with it, each connection has its own."""

    __slots__ = ("_extension", "shared", "threshold")

    def __init__(self, extension: PerMessageDeflate, threshold: int, *, shared: bool) -> None:
        self._extension = extension
        self.threshold = threshold
        #: False for a connection that keeps its compression context (its own compressor).
        self.shared = shared

    def frame(self, opcode: int, payload: bytes) -> bytes:
        data = self._extension.encode(Frame(_OPCODES[opcode], payload)).data
        return compressed_frame(opcode, bytes(data))


class Inflater:
    """One connection's decompression of incoming messages."""

    __slots__ = ("_extension", "_max_size")

    def __init__(self, extension: PerMessageDeflate, max_size: int) -> None:
        self._extension = extension
        self._max_size = max_size

    def wants(self, rsv1: bool) -> bool:
        """Whether a data frame with this RSV1 bit is part of a compressed message."""
        return rsv1 or self._extension.decode_cont_data

    def inflate(self, opcode: int, fin: bool, rsv1: bool, payload: bytes) -> bytes:
        """The frame's payload decompressed; raises :class:`ProtocolViolation` (1009 past
        the size limit, 1002 for data that is not valid deflate)."""
        frame = Frame(_OPCODES[opcode], payload, fin, rsv1)
        try:
            return bytes(self._extension.decode(frame, max_size=self._max_size).data)
        except PayloadTooBig:
            reason = f"message larger than {self._max_size} bytes"
            raise ProtocolViolation(CloseCode.MESSAGE_TOO_BIG, reason) from None
        except ProtocolError as exc:
            raise ProtocolViolation(
                CloseCode.PROTOCOL_ERROR, str(exc) or "bad compression"
            ) from None


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What one handshake agreed: the response header and the connection's two halves."""

    header: str
    inflater: Inflater
    #: Shared between connections when the server side takes over no context.
    compressor: Compressor


class Deflate:
    """The negotiation policy, and the compressors shared between connections."""

    def __init__(self, settings: DeflateSettings, max_message_size: int) -> None:
        self.settings = settings
        self.max_message_size = max_message_size
        no_takeover = not settings.context_takeover
        self._factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=no_takeover,
            client_no_context_takeover=no_takeover,
            # 15 is RFC 7692's default: say nothing, unless the client asks for less.
            server_max_window_bits=None if settings.window_bits == 15 else settings.window_bits,
            compress_settings={"memLevel": settings.memory_level, "level": settings.level},
        )
        self._shared: dict[int, Compressor] = {}

    def negotiate(self, offer: str | None) -> Negotiated | None:
        """Accept the first acceptable ``permessage-deflate`` offer in the client's
        ``Sec-WebSocket-Extensions`` header; None when there is none (or it is malformed)."""
        if not offer or _NAME not in offer:
            return None
        try:
            offers = parse_extension(offer)
        except InvalidHeader:
            return None
        for name, params in offers:
            if name != _NAME:
                continue
            try:
                response, extension = self._factory.process_request_params(params, [])
            except NegotiationError:
                continue
            return Negotiated(
                header=build_extension([(name, response)]),
                inflater=Inflater(extension, self.max_message_size),
                compressor=self._compressor(extension),
            )
        return None

    def _compressor(self, extension: PerMessageDeflate) -> Compressor:
        if not extension.local_no_context_takeover:
            return Compressor(extension, self.settings.threshold, shared=False)
        bits = extension.local_max_window_bits
        shared = self._shared.get(bits)
        if shared is None:
            # Its own extension object, used only to compress: no context kept, so it holds
            # nothing between messages and any number of connections may share it.
            own = PerMessageDeflate(True, True, 15, bits, extension.compress_settings)
            shared = self._shared[bits] = Compressor(own, self.settings.threshold, shared=True)
        return shared
