"""The coalescing outbox: one ``write()`` per connection per event-loop pass.

Every frame for a connection (echo reply, broadcast, ping, error) is queued in its pending
list; the first frame of a pass schedules :meth:`flush_all` with ``call_soon``, which joins
each dirty connection's frames and writes them at once.

A fan-out (:meth:`send_many`: a broadcast, a channel's publication) queues one list that all
of its connections hold, a :class:`Shared` list, instead of one list per connection. While
the next fan-out of the pass goes to the same connections (the same channel, everyone) it is
appended once to that list, not once per connection, and the flush joins the list once and
writes the same bytes to each holder. A broadcast to N clients therefore costs one encode,
one append and N writes per pass. A connection that is sent something of its own (a reply, a
ping) takes a copy of the list first (copy on write) and is appended to by itself from then
on.

Memory is bounded. While a socket's write buffer is above its high-water mark (``paused``)
frames wait here; once the bytes waiting for one connection pass ``limit`` it is a slow
consumer, and the policy decides: ``disconnect`` closes it with the slow-consumer code,
``drop_oldest`` discards whole frames from the front of its queue (never a partly written
frame) until it fits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from enum import StrEnum

from .connection import Connection


class SlowConsumerPolicy(StrEnum):
    DISCONNECT = "disconnect"
    DROP_OLDEST = "drop_oldest"


class Shared(list[bytes]):
    """Frames queued for several connections, held by each of them as ``conn.pending``:
    never appended to for one of them (copy on write), only for all of them at once."""

    __slots__ = ("joined", "live", "size")

    def __init__(self, frames: list[bytes], size: int) -> None:
        super().__init__(frames)
        #: Bytes of all its frames.
        self.size = size
        #: True while the outbox's open fan-out appends to it (see ``Outbox._audience``).
        self.live = False
        #: The frames joined, made by the first flush that writes them.
        self.joined: bytes | None = None


class Outbox:
    """Write coalescer and send-queue bound for every connection of one event loop."""

    __slots__ = (
        "_audience",
        "_dirty",
        "_holding",
        "_loop",
        "_on_slow_consumer",
        "_own",
        "_paused",
        "_scheduled",
        "_shared",
        "_shared_size",
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
        #: The open fan-out: the connections of the last :meth:`send_many` of this pass, the
        #: shared lists they hold, the largest one's size, and those of them that hold a
        #: list of their own. None when no fan-out is open.
        self._audience: Sequence[Connection] | None = None
        self._shared: list[Shared] = []
        self._shared_size = 0
        self._own: list[Connection] = []
        #: Connections in a :meth:`hold`: no fan-out is kept open meanwhile.
        self._holding = 0
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
        if type(pending) is Shared:
            pending = self._own_copy(conn, pending)
        pending.append(frame)
        conn.pending_bytes += len(frame)
        if conn.pending_bytes > self.limit:
            self._overflow(conn)

    def send_many(self, conns: Sequence[Connection], frame: bytes) -> None:
        """Queue the same frame bytes for many connections (a broadcast: framed once).

        ``conns`` is kept until the end of the pass: the caller must not change it.
        """
        size = len(frame)
        audience = self._audience
        if (
            audience is not None
            and self._shared_size + size <= self.limit
            and (conns is audience or conns == audience)
        ):
            for shared in self._shared:
                shared.append(frame)
                shared.size += size
            self._shared_size += size
            for conn in self._own:
                pending = conn.pending
                if pending is not None and type(pending) is not Shared and not conn.closing:
                    self._append_own(conn, pending, frame, size)
            return
        self._close_fan_out()
        self._fan_out(conns, frame, size)

    def _fan_out(self, conns: Sequence[Connection], frame: bytes, size: int) -> None:
        """:meth:`send_many` one connection at a time, opening a fan-out for the next one."""
        fresh: Shared | None = None
        extended: dict[int, Shared] = {}
        own: list[Connection] = []
        limit = self.limit
        for conn in conns:
            if conn.closing:
                continue
            pending = conn.pending
            if pending is None:
                if fresh is None:
                    fresh = Shared([frame], size)
                conn.pending = fresh
                if not conn.paused:
                    self._mark_dirty(conn)
            elif type(pending) is Shared:
                longer = extended.get(id(pending))
                if longer is None:
                    longer = extended[id(pending)] = Shared(pending, pending.size)
                    longer.append(frame)
                    longer.size += size
                if longer.size > limit:
                    self._own_copy(conn, longer)
                    self._overflow(conn)
                    own.append(conn)
                else:
                    conn.pending = longer
            else:
                self._append_own(conn, pending, frame, size)
                own.append(conn)
        if self._holding:
            return  # a held connection's frames go to its own list: no fan-out stays open
        shared = [] if fresh is None else [fresh]
        shared += extended.values()
        for one in shared:
            one.live = True
        self._audience = conns
        self._shared = shared
        self._shared_size = max((one.size for one in shared), default=0)
        self._own = own

    def _close_fan_out(self) -> None:
        if self._audience is not None:
            self._audience = None
            for shared in self._shared:
                shared.live = False
            self._shared = []
            self._own = []

    def _append_own(self, conn: Connection, pending: list[bytes], frame: bytes, size: int) -> None:
        """Append to the list ``conn`` holds by itself, within its bound (:meth:`send` does
        the same inline: it runs for every reply)."""
        pending.append(frame)
        conn.pending_bytes += size
        if conn.pending_bytes > self.limit:
            self._overflow(conn)

    def _own_copy(self, conn: Connection, shared: Shared) -> list[bytes]:
        """Give ``conn`` a list of its own in place of the shared one it holds."""
        own = list(shared)
        conn.pending = own
        conn.pending_bytes = shared.size
        if shared.live:
            self._own.append(conn)
        return own

    def hold(self, conn: Connection) -> tuple[list[bytes] | None, int]:
        """From now until :meth:`release`, frames for ``conn`` are kept aside instead of
        queued (a request answered ahead of its turn: see ``core/lane.py``)."""
        self._close_fan_out()
        self._holding += 1
        saved = (conn.pending, conn.pending_bytes)
        conn.pending = []
        conn.pending_bytes = 0
        return saved

    def release(self, conn: Connection, saved: tuple[list[bytes] | None, int]) -> list[bytes]:
        """End a :meth:`hold`: the frames kept aside, to :meth:`send` in their turn."""
        self._holding -= 1
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
        """Write ``conn``'s pending frames now: it is about to close (before its close frame)."""
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

    def queued_bytes(self, conn: Connection) -> int:
        """Bytes waiting for ``conn``."""
        pending = conn.pending
        return pending.size if type(pending) is Shared else conn.pending_bytes

    def backlog(self) -> tuple[int, int]:
        """(connections, bytes) waiting for a socket that is above its high-water mark."""
        paused = self._paused
        return len(paused), sum(self.queued_bytes(conn) for conn in paused)

    def flush_all(self) -> None:
        """Write every dirty connection's frames, one write each. Runs once per loop pass."""
        self._scheduled = False
        self._close_fan_out()
        dirty = self._dirty
        self._dirty = []
        frames = size = 0
        for conn in dirty:
            pending = conn.pending
            if pending is None or conn.paused:
                continue
            conn.pending = None
            # _write inlined: this loop runs once per connection per pass.
            if type(pending) is Shared:
                data = pending.joined
                if data is None:
                    data = pending.joined = b"".join(pending)
            else:
                conn.pending_bytes = 0
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
        """``conn`` (holding a list of its own) has more than ``limit`` bytes waiting."""
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
