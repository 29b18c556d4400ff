"""One client connection as the core sees it, and the transport interface it writes through."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol.assembler import MessageAssembler
from ..protocol.wire import PLAIN_JSON, Wire
from .lifecycle import PHASES, Phase, check

if TYPE_CHECKING:
    from .lane import Lane

_NO_ROLES: frozenset[str] = frozenset()
#: ``conn.state`` key of the handshake's headers and token claims, left there for the
#: ``on_connect`` hook when the node keeps them (``Node.keep_handshake``; the HTTP backend's
#: ``$connect`` takes them out at once: nothing keeps them for a connection's life).
HANDSHAKE_KEY = "switchboard.handshake"


class Sink(Protocol):
    def write(self, data: bytes) -> None:
        """Write already framed bytes."""


class Transport(Protocol):
    """What the core needs from a socket; implemented by ``transport/listener.py``."""

    @property
    def sink(self) -> Sink:
        """Where framed bytes go: ``sink.write(data)``. The socket's own transport (uvloop's),
        not a method of the adapter: a fan-out writes to every subscriber each pass, and a
        Python call in between costs a frame per write (about 10% of a broadcast)."""

    def close(self, code: int, reason: str, *, fail: bool = False) -> None:
        """Send a close frame; then wait for the peer's (``fail=False``) or drop the socket.

        ``fail=True`` is RFC 6455's "fail the WebSocket connection": after a protocol
        error, a heartbeat timeout or a slow consumer the peer is not waited for.
        """

    def abort(self) -> None:
        """Drop the socket now, without a close handshake."""

    def received_bytes(self) -> int | None:
        """Bytes the socket has received so far, as the kernel counts them (handshake and
        frame headers included); None where the system does not say."""


class Connection:
    """State of one open WebSocket. Slotted: thousands of these sit idle."""

    __slots__ = (
        "_state",
        "accepted",
        "assembler",
        "backlog",
        "bytes_out",
        "closing",
        "id",
        "lane",
        "messages_in",
        "messages_out",
        "opened_at",
        "paused",
        "pending",
        "pending_bytes",
        "phase",
        "ping_sent_at",
        "rate_stamp",
        "rate_strikes",
        "rate_tokens",
        "remote",
        "roles",
        "transport",
        "user",
        "wire",
    )

    def __init__(
        self,
        conn_id: str,
        transport: Transport,
        remote: str,
        opened_at: float,
        wire: Wire = PLAIN_JSON,
    ) -> None:
        self.id = conn_id
        #: Codec and compression: how everything sent to this connection is encoded.
        self.wire = wire
        self.transport = transport
        self.remote = remote
        #: Monotonic time of the upgrade; ``connected_at`` is the same moment as Unix time.
        self.opened_at = opened_at
        #: Who this is, once something (an ``on_connect`` hook, authentication) says so.
        self.user: Any = None
        #: Roles that routes declared with ``roles=`` require one of.
        self.roles: frozenset[str] = _NO_ROLES
        self._state: dict[str, Any] | None = None
        #: Requests behind a broker call in flight, so replies keep their order (``lane.py``).
        self.lane: Lane | None = None
        #: Where it is in its life (``core/lifecycle.py``); changed by :meth:`enter` only.
        self.phase = Phase.OPENING
        #: True once greeted (it reached OPEN): read on hot paths, so a slot, kept by ``enter``.
        self.accepted = False
        #: Messages that arrived while an async ``on_connect`` hook was still deciding.
        self.backlog: list[tuple[int, bytes]] | None = None
        #: Frames waiting for the next outbox flush (``None`` when empty, to keep idle ones small).
        self.pending: list[bytes] | None = None
        self.pending_bytes = 0
        #: True while the socket's write buffer is above its high-water mark.
        self.paused = False
        #: True from CLOSING on: nothing more is queued (kept by :meth:`enter`, like ``accepted``).
        self.closing = False
        #: Loop time of the unanswered heartbeat ping, 0.0 when none is outstanding.
        self.ping_sent_at = 0.0
        #: Message rate limit state (``core/ratelimit.py``): a full bucket at the first message.
        self.rate_tokens = 0.0
        self.rate_stamp = 0.0
        #: Refusals not yet drained (the flood window's leaky bucket, drained at each
        #: message from ``rate_stamp``, the time of the previous one).
        self.rate_strikes = 0.0
        #: Messages received (counted when metrics are on), and messages (frames) and bytes
        #: written. Bytes received are the kernel's count: ``transport.received_bytes()``.
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_out = 0
        #: Created only while a fragmented message is being received.
        self.assembler: MessageAssembler | None = None

    def enter(self, phase: Phase) -> None:
        """Move to ``phase``; a transition the table in ``core/lifecycle.py`` lacks raises."""
        check(PHASES, self.phase, phase)
        self.phase = phase
        if phase is Phase.OPEN:
            self.accepted = True
        elif phase >= Phase.CLOSING:
            self.closing = True

    @property
    def connected_at(self) -> float:
        """Unix time of the upgrade (derived from ``opened_at``: one slot fewer per idle
        connection; off only by clock adjustments made since)."""
        return time.time() - (time.monotonic() - self.opened_at)

    @property
    def state(self) -> dict[str, Any]:
        """Free-form per-connection data for the application (created on first use)."""
        if self._state is None:
            self._state = {}
        return self._state

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.remote}>"
