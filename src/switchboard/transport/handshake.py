"""The HTTP side of the listening port: health probes, limits and the WebSocket upgrade.

picows calls :meth:`UpgradeHandler.__call__` with each parsed request before it
validates the upgrade headers. We answer plain probes here (``/health``,
``/ready``), refuse what must be refused (wrong path 404, draining or full 503,
oversized headers 431) and otherwise hand picows a listener; picows then checks
the upgrade itself and answers 400 to a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import structlog
from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener

from ..core.node import Node
from ..core.stats import bump
from ..observability.throttle import Throttle
from ..protocol.codecs import JSON, Codec
from ..protocol.codes import CloseCode
from ..protocol.deflate import Deflate, Negotiated
from ..protocol.wire import PLAIN_JSON, Wire
from ..security.auth import PROTOCOL_TOKEN_PREFIX
from ..security.gate import Admission, HandshakeGate, Refusal
from ..security.limits import host_of
from ..security.origin import OriginPolicy
from .listener import Listener, ListenerLimits

log = structlog.get_logger("switchboard.handshake")

_JSON = {"Content-Type": "application/json"}


class HandshakeState:
    """What the upgrade handler needs to know that changes while the server runs."""

    __slots__ = ("draining",)

    def __init__(self) -> None:
        self.draining = False


class UpgradeHandler:
    """The picows listener factory: one call per incoming HTTP request."""

    def __init__(
        self,
        node: Node,
        state: HandshakeState,
        *,
        path: str,
        max_connections: int,
        max_header_size: int,
        limits: ListenerLimits,
        codecs: Sequence[Codec] = (JSON,),
        deflate: Deflate | None = None,
        unsupported_subprotocol: str = "reject",
        gate: HandshakeGate | None = None,
        warn_interval: float = 1.0,
    ) -> None:
        self.node = node
        self.state = state
        self.path = path.encode()
        self.max_connections = max_connections
        self.max_header_size = max_header_size
        self.limits = limits
        self._warn_full = Throttle(warn_interval)
        self.codecs = {codec.name: codec for codec in codecs}
        self.deflate = deflate
        self.refuse_unsupported = unsupported_subprotocol == "reject"
        self._wires: dict[tuple[Codec, object], Wire] = {}
        self.gate = gate or HandshakeGate(OriginPolicy(), None)

    def __call__(
        self, request: WSUpgradeRequest, peer: object = None
    ) -> WSUpgradeResponseWithListener | Listener | None:
        path = request.path.split(b"?", 1)[0]
        if path == b"/health":
            return _respond_ok(b'{"status":"ok"}')
        if path == b"/ready":
            if self.state.draining:
                return _respond_error(503, b'{"status":"draining"}')
            return _respond_ok(b'{"status":"ready"}')
        if path != self.path:
            return _respond_error(404, b'{"error":"not found"}')
        headers = request.headers
        if sum(len(k) + len(v) + 4 for k, v in headers.items()) > self.max_header_size:
            return self._reject(431, "request headers too large", "headers_too_large")
        if self.state.draining:
            return self._reject(503, "server is shutting down", "draining")
        open_now = len(self.node.registry)
        if open_now >= self.max_connections:
            self._warn_full(
                lambda suppressed: log.warning(
                    "Maximum connection limit reached",
                    connections=open_now,
                    max_connections=self.max_connections,
                    rejected_since_last_warning=suppressed,
                )
            )
            return self._reject(503, "maximum connection limit reached", "max_connections")
        checked = self.gate.check(request.path, headers, host_of(peer))
        if isinstance(checked, Refusal) and not checked.in_band:
            return self._reject(checked.status, checked.reason, checked.kind)
        return self._upgrade(headers, checked)

    def _upgrade(
        self, headers: Mapping[str, str], checked: Admission | Refusal
    ) -> WSUpgradeResponseWithListener | Listener:
        """Negotiate the subprotocol and compression; hand picows the connection's listener."""
        extra: dict[str, str] = {}
        codec: Codec | None = JSON  # a client that offers no subprotocol speaks v1.json
        offered = headers.get("Sec-WebSocket-Protocol")
        refusal = checked if isinstance(checked, Refusal) else None
        if offered and not _only_tokens(offered):
            codec = self._select_codec(offered)
            if codec is not None:
                extra["Sec-WebSocket-Protocol"] = codec.name
            elif self.refuse_unsupported:
                supported = ", ".join(self.codecs)
                self._release(checked)
                reason = f"unsupported subprotocol; supported: {supported}"
                return self._reject(400, reason, "subprotocol")
            else:
                reason = "Unsupported subprotocol"
                refusal = Refusal(400, CloseCode.PROTOCOL_ERROR, reason, True, "subprotocol")
        if refusal is not None:  # accepted only to be closed at once: counted once, here
            bump(self.node.stats.handshake_rejected, refusal.kind)
        negotiated = None
        if self.deflate is not None and codec is not None:
            negotiated = self.deflate.negotiate(headers.get("Sec-WebSocket-Extensions"))
        if negotiated is not None:
            extra["Sec-WebSocket-Extensions"] = negotiated.header
        wire = PLAIN_JSON if codec is None else self._wire(codec, negotiated)
        inflater = None if negotiated is None else negotiated.inflater
        listener = Listener(self.node, self.limits, wire, inflater, refusal=refusal)
        if isinstance(checked, Admission):
            listener.admitted(checked, self._release if checked.counted else None)
        if not extra:
            return listener
        response = WSUpgradeResponse.create_101_response(extra_headers=extra)
        return WSUpgradeResponseWithListener(response, listener)

    def _release(self, checked: Admission | Refusal) -> None:
        """A counted connection is gone (or never got upgraded): uncount it."""
        if isinstance(checked, Admission) and checked.counted and self.gate.limits is not None:
            self.gate.limits.closed(checked.address)

    def _select_codec(self, offered: str) -> Codec | None:
        """The first protocol the client offers that we support (RFC 6455 section 4.2.2)."""
        for name in offered.split(","):
            codec = self.codecs.get(name.strip())
            if codec is not None:
                return codec
        return None

    def _wire(self, codec: Codec, negotiated: Negotiated | None) -> Wire:
        """One shared wire per (codec, compressor): equal wires get equal bytes."""
        compressor = None if negotiated is None else negotiated.compressor
        key = (codec, compressor)
        wire = self._wires.get(key)
        if wire is None:
            wire = Wire(codec, compressor)
            if compressor is not None and not compressor.shared:
                return wire  # a connection with its own compression context: not shared
            self._wires[key] = wire
        return wire

    def _reject(self, status: int, reason: str, kind: str) -> WSUpgradeResponseWithListener:
        """Answer the upgrade request with an HTTP error; counted under ``kind``."""
        bump(self.node.stats.handshake_rejected, kind)
        return _respond_error(status, _error_body(reason))


def _error_body(reason: str) -> bytes:
    return msgspec.json.encode({"error": reason})


def _only_tokens(offered: str) -> bool:
    """True when every offered "protocol" is a ``bearer.<jwt>`` entry (no codec asked for)."""
    return all(p.strip().startswith(PROTOCOL_TOKEN_PREFIX) for p in offered.split(","))


def _respond_ok(body: bytes) -> WSUpgradeResponseWithListener:
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_ok_response(body, extra_headers=_JSON), None
    )


def _respond_error(status: int, body: bytes) -> WSUpgradeResponseWithListener:
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_error_response(status, body, extra_headers=_JSON), None
    )
