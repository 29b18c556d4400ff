"""The subprotocols the server speaks, by ``Sec-WebSocket-Protocol`` token."""

from __future__ import annotations

from .codecs import JSON, MSGPACK, Codec
from .proto.codec import PROTO

CODECS: tuple[Codec, ...] = (JSON, MSGPACK, PROTO)
"""Every codec the server speaks. A client's own order of preference decides (RFC 6455)."""
