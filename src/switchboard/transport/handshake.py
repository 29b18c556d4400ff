"""The HTTP side of the listening port: health probes, limits and the WebSocket upgrade.

picows calls :meth:`UpgradeHandler.__call__` with each parsed request before it
validates the upgrade headers. We answer plain probes here (``/health``,
``/ready``), refuse what must be refused (wrong path 404, draining or full 503,
oversized headers 431, a missing ``Upgrade``/``Connection`` token 400, a WebSocket
version other than 13: 426) and otherwise hand picows a listener; picows then checks
the key itself and answers 400 to a bad one. An unexpected error here is logged and
answered 500 with a fixed body: exception text never reaches the client.
With ``route_endpoint`` on, ``/route`` answers the cluster's least-loaded ready node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import msgspec
import structlog
from multidict import CIMultiDict
from picows import WSUpgradeRequest, WSUpgradeResponse, WSUpgradeResponseWithListener

from ..core.lifecycle import NodeLifecycle
from ..core.node import Node
from ..core.stats import bump
from ..observability.throttle import Throttle
from ..protocol.codecs import JSON, Codec
from ..protocol.codes import CloseCode
from ..protocol.deflate import Deflate, Negotiated
from ..protocol.wire import PLAIN_JSON, Wire
from ..security.auth import PROTOCOL_TOKEN_PREFIX, redact_query
from ..security.gate import Admission, HandshakeGate, Refusal
from ..security.limits import host_of
from ..security.origin import OriginPolicy
from .listener import Listener, ListenerLimits

log = structlog.get_logger("switchboard.handshake")

_JSON = {"Content-Type": "application/json"}
#: The only WebSocket version we speak (RFC 6455); picows would also let 7 and 8 in.
WEBSOCKET_VERSION = "13"
_VERSION_HINT = {**_JSON, "Sec-WebSocket-Version": WEBSOCKET_VERSION}
_INTERNAL_ERROR = b'{"error":"internal error"}'


class UpgradeHandler:
    """The picows listener factory: one call per incoming HTTP request."""

    def __init__(
        self,
        node: Node,
        lifecycle: NodeLifecycle,
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
        route: Callable[[], bytes | None] | None = None,
    ) -> None:
        self.node = node
        #: The node's state: from DRAINING on, upgrades are refused (503).
        self.lifecycle = lifecycle
        self.path = path.encode()
        self.max_connections = max_connections
        self.max_header_size = max_header_size
        self.limits = limits
        self._warn_full = Throttle(warn_interval)
        self._warn_handshakes = Throttle(warn_interval)
        self.codecs = {codec.name: codec for codec in codecs}
        self.deflate = deflate
        self.refuse_unsupported = unsupported_subprotocol == "reject"
        self._wires: dict[tuple[Codec, object], Wire] = {}
        self.gate = gate or HandshakeGate(OriginPolicy(), None)
        #: ``GET /route``'s body (the cluster's pick, cached: no broker call here), None when
        #: no node is ready; unset: ``/route`` is a path like any other (404).
        self.route = route

    def __call__(
        self, request: WSUpgradeRequest, peer: object = None
    ) -> WSUpgradeResponseWithListener | Listener | None:
        try:
            return self._answer(request, peer)
        except Exception:
            # picows would answer 500 with str(exception) as the body: never let it.
            log.exception("handshake_failed", path=redact_query(request.path.decode("latin-1")))
            bump(self.node.stats.handshake_rejected, "internal")
            return _respond_error(500, _INTERNAL_ERROR)

    def _answer(
        self, request: WSUpgradeRequest, peer: object
    ) -> WSUpgradeResponseWithListener | Listener | None:
        path = request.path.split(b"?", 1)[0]
        if path == b"/health":
            return _respond_ok(b'{"status":"ok"}')
        if path == b"/ready":
            if self.lifecycle.draining:
                return _respond_error(503, b'{"status":"draining"}')
            if not self.node.broker.healthy():
                return _respond_ok(b'{"status":"degraded","broker":"unavailable"}')
            return _respond_ok(b'{"status":"ready"}')
        if path == b"/route" and self.route is not None:
            body = self.route()
            if body is None:
                return _respond_error(503, b'{"error":"no node is ready"}')
            return _respond_ok(body)
        if path != self.path:
            return _respond_error(404, b'{"error":"not found"}')
        headers = request.headers
        if sum(len(k) + len(v) + 4 for k, v in headers.items()) > self.max_header_size:
            return self._reject(431, "request headers too large", "headers_too_large")
        malformed = self._check_upgrade_headers(headers)
        if malformed is not None:
            return malformed
        if not self.lifecycle.accepting:
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

    def _check_upgrade_headers(
        self, headers: CIMultiDict[str]
    ) -> WSUpgradeResponseWithListener | None:
        """Refuse a request that does not ask for WebSocket 13 (RFC 6455 section 4.2.1).

        ``Connection`` and ``Upgrade`` are token lists (``keep-alive, Upgrade``); picows
        compares them whole, so once they hold the right token they are rewritten to the
        one value picows accepts."""
        if "upgrade" not in _tokens(headers, "Connection"):
            return self._reject(400, "Connection header must include Upgrade", "bad_upgrade")
        if "websocket" not in _tokens(headers, "Upgrade"):
            return self._reject(400, "Upgrade header must include websocket", "bad_upgrade")
        versions = headers.getall("Sec-WebSocket-Version", [])
        if not versions:
            reason = "Sec-WebSocket-Version header required"
            return self._reject(400, reason, "version", _VERSION_HINT)
        if len(versions) != 1 or versions[0].strip() != WEBSOCKET_VERSION:
            reason = f"unsupported WebSocket version; supported: {WEBSOCKET_VERSION}"
            return self._reject(426, reason, "version", _VERSION_HINT)
        headers["Connection"] = "Upgrade"
        headers["Upgrade"] = "websocket"
        headers["Sec-WebSocket-Version"] = WEBSOCKET_VERSION
        return None

    def oversized_request(self) -> bytes:
        """The whole 431 answer to a request whose header block is too large to parse.

        For the transport, which refuses it before there is a request to hand us."""
        return self._closing_answer(431, "request headers too large", "headers_too_large")

    def busy_request(self, in_flight: int) -> bytes:
        """The whole 503 answer to a connection past the handshakes-in-flight bound (the
        transport refuses it at accept, before reading anything)."""
        self._warn_handshakes(
            lambda suppressed: log.warning(
                "handshakes_in_flight_limit_reached",
                in_flight=in_flight,
                rejected_since_last_warning=suppressed,
            )
        )
        return self._closing_answer(503, "too many handshakes in progress", "handshakes")

    def _closing_answer(self, status: int, reason: str, kind: str) -> bytes:
        bump(self.node.stats.handshake_rejected, kind)
        response = WSUpgradeResponse.create_error_response(
            status, _error_body(reason), extra_headers=_JSON
        )
        response.headers["Connection"] = "close"
        return bytes(response.to_bytes())

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

    def _reject(
        self, status: int, reason: str, kind: str, headers: Mapping[str, str] = _JSON
    ) -> WSUpgradeResponseWithListener:
        """Answer the upgrade request with an HTTP error; counted under ``kind``."""
        bump(self.node.stats.handshake_rejected, kind)
        return _respond_error(status, _error_body(reason), headers)


def _error_body(reason: str) -> bytes:
    return msgspec.json.encode({"error": reason})


def _tokens(headers: CIMultiDict[str], name: str) -> set[str]:
    """The lower-cased comma-separated tokens of every ``name`` header (RFC 9110 lists)."""
    return {
        token.strip().lower() for value in headers.getall(name, []) for token in value.split(",")
    }


def _only_tokens(offered: str) -> bool:
    """True when every offered "protocol" is a ``bearer.<jwt>`` entry (no codec asked for)."""
    return all(p.strip().startswith(PROTOCOL_TOKEN_PREFIX) for p in offered.split(","))


def _respond_ok(body: bytes) -> WSUpgradeResponseWithListener:
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_ok_response(body, extra_headers=_JSON), None
    )


def _respond_error(
    status: int, body: bytes, headers: Mapping[str, str] = _JSON
) -> WSUpgradeResponseWithListener:
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_error_response(status, body, extra_headers=headers), None
    )
