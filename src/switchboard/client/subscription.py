"""One channel a client follows: its position, its callbacks, and the messages it holds.

A subscription is the client's own (:meth:`Client.subscribe`) or the server's (an unasked
``subscribed`` frame: ``app.subscribe`` or a backend's ``$connect`` answer). Both track their
offset and epoch the same way and resume the same way after a reconnect. A server-made one
starts with no ``on_message``: its messages are kept, up to ``held_max`` (the oldest dropped
past that, counted in :attr:`Subscription.dropped`), and handed to ``on_message`` in order
the moment the application sets it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("switchboard.client")

Callback = Callable[[dict[str, Any]], Any]
Unrecovered = Callable[["Subscription", dict[str, Any]], Any]
Caller = Callable[..., None]


def _call_plainly(callback: Callable[..., Any], *args: Any) -> None:
    callback(*args)


class Subscription:
    """A channel followed: where it is (``offset`` in ``epoch``), and its callbacks."""

    def __init__(
        self,
        channel: str,
        on_message: Callback | None = None,
        on_unrecovered: Unrecovered | None = None,
        *,
        server: bool = False,
        held_max: int = 1000,
        call: Caller = _call_plainly,
    ) -> None:
        self.channel = channel
        #: Called when the server could not recover what a reconnect missed.
        self.on_unrecovered = on_unrecovered
        #: The offset of the last publication received, in ``epoch``.
        self.offset: int | None = None
        self.epoch: str | None = None
        #: Times the server could not recover what was missed.
        self.unrecovered = 0
        #: Made by the server (an unasked ``subscribed``), not by :meth:`Client.subscribe`.
        self.server = server
        #: False once it ended: unsubscribed by either side, or no longer resumable.
        self.active = True
        #: Messages dropped because more than ``held_max`` waited for an ``on_message``.
        self.dropped = 0
        self._on_message = on_message
        self._held: deque[dict[str, Any]] = deque(maxlen=max(held_max, 1))
        self._call = call
        #: Established once: it is resumed after every reconnect.
        self._acked = False
        #: Established on the current connection.
        self._live = False
        #: Messages held while the client fills a gap (see ``Client._server_subscribed``).
        self._repairing: list[dict[str, Any]] | None = None

    @property
    def on_message(self) -> Callback | None:
        """``on_message(frame)`` for every ``message`` of the channel, in order, once each;
        setting it hands it the messages kept until then."""
        return self._on_message

    @on_message.setter
    def on_message(self, callback: Callback | None) -> None:
        self._on_message = callback
        while callback is not None and self._held and self._on_message is callback:
            self._call(callback, self._held.popleft())

    def deliver(self, frame: dict[str, Any]) -> None:
        """One ``message`` frame: passed on (or kept) unless it is one it had already."""
        offset = int(frame.get("offset", 0))
        if self.offset is not None and offset <= self.offset:
            return  # had it already
        self.offset = offset
        if self._on_message is not None:
            self._call(self._on_message, frame)
            return
        if len(self._held) == self._held.maxlen:
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "client_held_messages_dropped", channel=self.channel, held=len(self._held)
                )
        self._held.append(frame)

    def moved(self, offset: int, epoch: str) -> None:
        """The server says where the channel is: in another epoch that is the new position;
        in the same one the client keeps whichever is further."""
        if self.epoch != epoch or self.offset is None or offset > self.offset:
            self.offset = offset
        self.epoch = epoch

    def __repr__(self) -> str:
        made = "server" if self.server else "client"
        return (
            f"Subscription({self.channel!r}, offset={self.offset}, epoch={self.epoch!r}, "
            f"{made}, active={self.active})"
        )
