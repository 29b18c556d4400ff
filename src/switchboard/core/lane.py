"""A connection's requests that wait for the broker, answered in the order they came.

A serial route (one that awaits the broker) runs at once; only if it has to wait does its
connection get a :class:`Lane`, and what the connection sends next queues there, to run and be
answered in turn.

A *pipelined* route (``publish``, ``broadcast``, ``send``: one broker call, queued before its
first wait) does not wait for its turn to start while only pipelined requests are ahead of it:
it starts at once, so its broker call joins theirs in the broker's next batch, in the order
they came. Against Redis a publisher keeping ten publications in flight then pays one round
trip for the ten, not ten one after the other. Its answer still waits its turn: the coroutine
is carried on only when the requests before it were answered, and whatever it sent before its
first wait (an error found at once, say) is held until then. Any other request (a subscribe,
an application route) closes the lane to that until everything before it is done, and at most
:data:`MAX_AHEAD` requests are started ahead of their turn.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .eager import Started

#: Requests of one connection started ahead of their turn at most.
MAX_AHEAD = 64


class Ahead:
    """A request started ahead of its turn: its suspended coroutine (None once finished), the
    frames it sent meanwhile, or the error it raised before its first wait."""

    __slots__ = ("envelope", "error", "held", "started")

    def __init__(self, envelope: Any) -> None:
        self.envelope = envelope
        self.started: Started | None = None
        self.held: list[bytes] = []
        self.error: Exception | None = None


class Lane:
    """The requests of one connection behind the one in flight: :class:`Ahead` entries, and
    ``(route, envelope)`` pairs that wait for their turn to start."""

    __slots__ = ("ahead", "entries", "open")

    def __init__(self, open_: bool) -> None:
        self.entries: deque[Ahead | tuple[Any, Any]] = deque()
        #: Entries started ahead of their turn.
        self.ahead = 0
        #: Whether a pipelined request may start now: only pipelined ones are in flight.
        self.open = open_

    def close(self) -> None:
        """The connection is gone: coroutines started ahead are dropped (their broker calls
        were made; nobody is left to answer)."""
        for entry in self.entries:
            if isinstance(entry, Ahead) and entry.started is not None:
                entry.started[0].close()
        self.entries.clear()
