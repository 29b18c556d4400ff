"""Subscriptions the server makes or ends for a connection (``app.subscribe``/``unsubscribe``).

They arrive as SUBSCRIBE and UNSUBSCRIBE dispatches (or straight from ``app.subscribe`` for a
connection object of this node) and become :meth:`Channels.join` and :meth:`Channels.leave`
with no permission check (the server is trusted); the subscription limit still counts. The
connection learns of each with an unsolicited frame, the subscribe ``ack``'s shape with no
``id``::

    {"type": "subscribed", "channel": "room:1", "offset": 41, "epoch": "..."}
    {"type": "unsubscribed", "channel": "room:1"}

A connection's server-side joins and leaves run one after another, in the order they came.
One that is still OPENING (its ``on_connect`` hook deciding) gets them right after its
``welcome``; one that is refused never does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import structlog

from ..broker.base import StreamPosition
from ..errors import RequestError
from .channels import Channels
from .connection import Connection
from .hub import Hub

log = structlog.get_logger("switchboard.channels")

Step = Callable[[], Coroutine[Any, Any, None]]


class Subscribed(msgspec.Struct, tag="subscribed", tag_field="type"):
    """The server subscribed this connection to ``channel``, from ``offset`` in ``epoch``."""

    channel: str
    offset: int
    epoch: str


class Unsubscribed(msgspec.Struct, tag="unsubscribed", tag_field="type"):
    """The server unsubscribed this connection from ``channel``."""

    channel: str


class ServerJoins:
    """The server's subscribe and unsubscribe of this node's connections."""

    __slots__ = ("_last", "_pending", "_tasks", "_waiting", "channels", "hub")

    def __init__(self, channels: Channels, hub: Hub) -> None:
        self.channels = channels
        self.hub = hub
        #: Connections still OPENING -> the steps to run once they are greeted.
        self._waiting: dict[Connection, list[Step]] = {}
        #: Connection -> its latest step, which the next one waits for (their order).
        self._last: dict[Connection, asyncio.Task[None]] = {}
        #: Connection -> its joins not done yet (they count towards its subscription limit).
        self._pending: dict[Connection, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self, conn: Connection, channel: str) -> bool:
        """Subscribe ``conn`` to ``channel`` (a valid name), now or once it is greeted;
        False when it is closing or at its subscription limit (it gets an error frame)."""
        if conn.closing:
            return False
        if conn in self.channels.subscribers.get(channel, ()):
            return True
        pending = self._pending.get(conn, 0)
        try:
            self.channels.check_limit(conn, pending)
        except RequestError as exc:
            log.warning(
                "server_subscribe_refused",
                connection_id=conn.id,
                user=conn.user,
                channel=channel,
                reason=exc.message,
            )
            message = f"the server's subscription to {channel!r} was refused: {exc.message}"
            self.hub.send_error(conn, exc.code, message)
            return False
        self._pending[conn] = pending + 1
        self._add(conn, lambda: self._join(conn, channel))
        return True

    def unsubscribe(self, conn: Connection, channel: str) -> bool:
        """Unsubscribe ``conn`` from ``channel`` after its earlier server-side steps; False
        when it is closing."""
        if conn.closing:
            return False
        self._add(conn, lambda: self._leave(conn, channel))
        return True

    def greeted(self, conn: Connection) -> None:
        """``conn`` got its ``welcome``: what the server asked meanwhile happens now."""
        for step in self._waiting.pop(conn, ()):
            self._start(conn, step)

    def gone(self, conn: Connection) -> None:
        """``conn`` closed: what still waited for its greeting never happens."""
        self._waiting.pop(conn, None)
        self._pending.pop(conn, None)

    async def settled(self) -> None:
        """Wait for the steps under way now (the subscriptions are in place after this)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    # --- helpers -------------------------------------------------------------------------------

    def _add(self, conn: Connection, step: Step) -> None:
        if not conn.accepted:
            self._waiting.setdefault(conn, []).append(step)
        else:
            self._start(conn, step)

    def _start(self, conn: Connection, step: Step) -> None:
        task = asyncio.ensure_future(self._after(self._last.get(conn), step))
        self._last[conn] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(conn, done))

    def _done(self, conn: Connection, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(conn) is task:
            del self._last[conn]

    @staticmethod
    async def _after(previous: asyncio.Task[None] | None, step: Step) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        await step()

    async def _join(self, conn: Connection, channel: str) -> None:
        channels = self.channels
        try:
            if conn.closing or conn in channels.subscribers.get(channel, ()):
                return
            _, options = channels.options(channel)

            def answer(position: StreamPosition, _: bool | None) -> Subscribed:
                return Subscribed(channel, position.offset, position.epoch)

            await channels.join(conn, channel, options, answer)
        except Exception as exc:
            self._failed("server_subscribe_failed", conn, channel, exc)
        finally:
            left = self._pending.get(conn, 0) - 1
            if left > 0:
                self._pending[conn] = left
            else:
                self._pending.pop(conn, None)

    async def _leave(self, conn: Connection, channel: str) -> None:
        try:
            if await self.channels.leave(conn, channel) and not conn.closing:
                self.hub.send(conn, Unsubscribed(channel))
        except Exception as exc:
            self._failed("server_unsubscribe_failed", conn, channel, exc)

    @staticmethod
    def _failed(event: str, conn: Connection, channel: str, exc: Exception) -> None:
        """The broker failed the step (logged; the connection is not told)."""
        log.warning(
            event,
            connection_id=conn.id,
            user=conn.user,
            channel=channel,
            error=str(exc) or type(exc).__name__,
        )
