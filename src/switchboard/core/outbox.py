"""The coalescing outbox: one ``write()`` per connection per event-loop pass.

Every frame for a connection (echo reply, broadcast, ping, error) is appended
to its pending list; the first append of a pass schedules :meth:`flush_all`
with ``call_soon``, which joins each dirty connection's frames and writes them
at once. A broadcast to N clients therefore costs one encode and N appends,
then N writes, instead of N frame-and-send system calls.

Memory is bounded. While a socket's write buffer is above its high-water mark
(``paused``) frames wait here; once the bytes waiting for one connection pass
``limit`` it is a slow consumer, and the policy decides: ``disconnect`` closes
it with the slow-consumer code, ``drop_oldest`` discards whole frames from the
front of its queue (never a partly written frame) until it fits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from enum import StrEnum

from .connection import Connection


class SlowConsumerPolicy(StrEnum):
    DISCONNECT = "disconnect"
    DROP_OLDEST = "drop_oldest"


class Outbox:
    """Write coalescer and send-queue bound for every connection of one event loop."""

    __slots__ = (
        "_dirty",
        "_loop",
        "_on_slow_consumer",
        "_paused",
        "_scheduled",
        "bytes_written",
        "dropped_frames",
        "frames_written",
        "limit",
        "policy",
        "slow_consumers",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        policy: SlowConsumerPolicy,
        on_slow_consumer: Callable[[Connection], None],
    ) -> None:
        self._loop = loop
        self.limit = limit
        self.policy = policy
        self._on_slow_consumer = on_slow_consumer
        self._dirty: list[Connection] = []
        #: Connections whose socket is above its high-water mark (frames wait here).
        self._paused: set[Connection] = set()
        self._scheduled = False
        self.slow_consumers = 0
        self.dropped_frames = 0
        #: Frames and bytes handed to sockets (messages out, after coalescing into writes).
        self.frames_written = 0
        self.bytes_written = 0

    def send(self, conn: Connection, frame: bytes) -> None:
        """Queue one framed message for ``conn``; it is written at the end of this loop pass."""
        if conn.closing:
            return
        pending = conn.pending
        if pending is None:
            conn.pending = [frame]
            conn.pending_bytes = len(frame)
            if not conn.paused:
                self._mark_dirty(conn)
            return
        pending.append(frame)
        conn.pending_bytes += len(frame)
        if conn.pending_bytes > self.limit:
            self._overflow(conn)

    def send_many(self, conns: Iterable[Connection], frame: bytes) -> None:
        """Queue the same frame bytes for many connections (a broadcast: framed once)."""
        send = self.send
        for conn in conns:
            send(conn, frame)

    def hold(self, conn: Connection) -> tuple[list[bytes] | None, int]:
        """From now until :meth:`release`, frames for ``conn`` are kept aside instead of
        queued (a request answered ahead of its turn: see ``core/lane.py``)."""
        saved = (conn.pending, conn.pending_bytes)
        conn.pending = []
        conn.pending_bytes = 0
        return saved

    def release(self, conn: Connection, saved: tuple[list[bytes] | None, int]) -> list[bytes]:
        """End a :meth:`hold`: the frames kept aside, to :meth:`send` in their turn."""
        held = conn.pending
        if held is None:  # dropped meanwhile (a slow consumer): nothing waits any more
            return []
        conn.pending, conn.pending_bytes = saved
        return held

    def pause(self, conn: Connection) -> None:
        """The socket's write buffer passed its high-water mark: hold frames here."""
        conn.paused = True
        self._paused.add(conn)

    def resume(self, conn: Connection) -> None:
        """The socket drained below its low-water mark: write what waited."""
        conn.paused = False
        self._paused.discard(conn)
        if conn.pending is not None:
            self._mark_dirty(conn)

    def flush(self, conn: Connection) -> None:
        """Write ``conn``'s pending frames now (before a close frame, for instance)."""
        pending = conn.pending
        if pending is None:
            return
        conn.pending = None
        conn.pending_bytes = 0
        self._write(conn, pending)

    def discard(self, conn: Connection) -> None:
        """Forget ``conn``'s pending frames (it is gone or being dropped)."""
        conn.pending = None
        conn.pending_bytes = 0
        self._paused.discard(conn)

    def backlog(self) -> tuple[int, int]:
        """(connections, bytes) waiting for a socket that is above its high-water mark."""
        paused = self._paused
        return len(paused), sum(conn.pending_bytes for conn in paused)

    def flush_all(self) -> None:
        """Write every dirty connection's frames, one write each. Runs once per loop pass."""
        self._scheduled = False
        dirty = self._dirty
        self._dirty = []
        frames = size = 0
        for conn in dirty:
            pending = conn.pending
            if pending is None or conn.paused:
                continue
            conn.pending = None
            conn.pending_bytes = 0
            # _write inlined: this loop runs once per connection per pass.
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            conn.transport.sink.write(data)
            conn.messages_out += len(pending)
            conn.bytes_out += len(data)
            frames += len(pending)
            size += len(data)
        self.frames_written += frames
        self.bytes_written += size

    def _write(self, conn: Connection, pending: list[bytes]) -> None:
        """One write of everything pending, counted for the connection and the node."""
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        conn.transport.sink.write(data)
        conn.messages_out += len(pending)
        conn.bytes_out += len(data)
        self.frames_written += len(pending)
        self.bytes_written += len(data)

    def _mark_dirty(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush_all)

    def _overflow(self, conn: Connection) -> None:
        self.slow_consumers += 1
        if self.policy is SlowConsumerPolicy.DROP_OLDEST:
            pending = conn.pending
            assert pending is not None
            while conn.pending_bytes > self.limit and len(pending) > 1:
                conn.pending_bytes -= len(pending.pop(0))
                self.dropped_frames += 1
            return
        self.discard(conn)
        self._on_slow_consumer(conn)
