"""The one path a received message takes: its stages, in order, built once at start-up.

::

    transport ─► 1 limits ─► 2 decode ─► 3 tracing ─► 4 route ─► handler
                 message      the codec;   a span per   the route table,
                 rate, flood  bad input:   message      the connection's
                              error frame               lane (serial routes)

    metrics: a sample of messages (the first 100 of every 100 ms, see ``sampler.py``)
    is timed and sized around stages 2-4.

Which stages are present follows from the settings when the node is built and never
changes while it serves: nothing is swapped in or out. The stages are inline in
:meth:`Pipeline.on_message` rather than wrappers calling each other, because at 400,000
echoes a second one more Python call per message costs about 3% of the node, and a None
check a tenth of that. A message is decoded once (stage 2); tracing reads the envelope
stage 2 made. In raw-echo mode (conformance) stages 2-4 are one echo of the payload.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any, Protocol

import msgspec

from ..errors import EnvelopeError
from ..protocol.codes import ErrorCode
from ..protocol.envelope import Envelope
from ..protocol.frames import Opcode
from .connection import Connection
from .router import INVALID, Router
from .sampler import Sampler

Deliver = Callable[[Connection, int, bytes], None]
Route = Callable[[Connection, Envelope], None]


class MessageTracer(Protocol):
    """Stage 3: handles one message inside a span (observability/tracing.py)."""

    def message(self, conn: Connection, size: int, envelope: Envelope | None, route: Route) -> None:
        """``route(conn, envelope)`` within the message's span; ``envelope`` None: it could
        not be decoded (its error frame is already queued)."""


class Pipeline:
    """A node's message entry point: :meth:`on_message` runs the stages above."""

    __slots__ = ("admit", "echo", "hub", "received", "route", "router", "sampler", "tracer")

    def __init__(
        self,
        router: Router,
        *,
        admit: Callable[[Connection], bool] | None = None,
        sampler: Sampler | None = None,
        tracer: MessageTracer | None = None,
        echo: Deliver | None = None,
    ) -> None:
        self.router = router
        self.hub = router.hub
        self.received = router.received
        self.route: Route = router.route
        #: Stage 1: False refuses the message (the limit answered and counted it).
        self.admit = admit
        self.sampler = sampler
        self.tracer = tracer
        #: Raw-echo mode: stages 2-4 are this.
        self.echo = echo

    @property
    def stages(self) -> list[str]:
        """The stages present, in order (logged at start-up)."""
        present: list[tuple[str, object]] = [("limits", self.admit), ("metrics", self.sampler)]
        if self.echo is not None:
            present.append(("raw_echo", self.echo))
        else:
            present += [("decode", True), ("tracing", self.tracer), ("route", True)]
        return [name for name, stage in present if stage is not None]

    def on_message(self, conn: Connection, opcode: int, payload: bytes) -> None:
        """One complete message from a transport, through every stage."""
        admit = self.admit
        if admit is not None and not admit(conn):
            return
        sampler = self.sampler
        started = perf_counter() if sampler is not None and sampler.left else 0.0
        try:
            if self.echo is not None:
                self.echo(conn, opcode, payload)
                return
            wire = conn.wire
            if opcode != wire.opcode:
                self._undecoded(conn, payload)
                self._wrong_opcode(conn)
                self._traced_failure(conn, payload)
                return
            try:
                envelope = wire.decode(payload)
            except msgspec.DecodeError:
                self._undecoded(conn, payload)
                self.hub.send_error(conn, *_explained(wire.codec.explain(payload)))
                self._traced_failure(conn, payload)
                return
            except EnvelopeError as exc:
                self._undecoded(conn, payload)
                self.hub.send_error(conn, *_explained(exc))
                self._traced_failure(conn, payload)
                return
            except RecursionError:
                self._undecoded(conn, payload)
                self.router.too_deep(conn)
                self._traced_failure(conn, payload)
                return
            tracer = self.tracer
            if tracer is None:
                self.route(conn, envelope)
            else:
                tracer.message(conn, len(payload), envelope, self.route)
        finally:
            if started:
                assert sampler is not None
                sampler.measured(started, len(payload))

    # --- stage 2's answers to what cannot be decoded --------------------------------------------

    def _undecoded(self, conn: Connection, payload: bytes) -> None:
        received = self.received
        if received is not None:
            received[INVALID] = received.get(INVALID, 0) + 1
            conn.messages_in += 1

    def _traced_failure(self, conn: Connection, payload: bytes) -> None:
        if self.tracer is not None:
            self.tracer.message(conn, len(payload), None, self.route)

    def _wrong_opcode(self, conn: Connection) -> None:
        """Each codec carries one frame type: the other is answered with an error."""
        codec = conn.wire.codec
        if codec.opcode == Opcode.TEXT.value:
            message = (
                f"binary messages are not accepted on the {codec.name} protocol; send JSON text"
            )
        else:
            message = (
                f"text messages are not accepted on the {codec.name} protocol; send binary frames"
            )
        self.hub.send_error(conn, ErrorCode.INVALID_MESSAGE_FORMAT, message)


def _explained(exc: EnvelopeError) -> tuple[ErrorCode, str, Any]:
    return exc.code, exc.message, exc.request_id
