"""The channels a client follows, its own and the server's, and how each is resumed.

The rules (``docs/clients.md``, "Server-made subscriptions"):

- An unasked ``subscribed`` for a channel the client does not follow makes a server-made
  :class:`Subscription` from the frame's offset and epoch, handed to the
  ``on_server_subscribe`` callbacks before any of its messages.
- An unasked ``unsubscribed`` ends the subscription (``on_server_unsubscribe``), whoever
  made it, and forgets it.
- After a reconnect every subscription is subscribed again with ``recover_from``. When the
  server makes one again first (a ``$connect`` hook) from the position the client has,
  that is the same subscription. When it starts past the client's position, the messages
  are held until the resume's answer: if the client may subscribe itself it unsubscribes
  and subscribes again with ``recover_from`` (the server replays the gap; what was held
  comes again and is dropped); if the server refuses the client (``FORBIDDEN``: only the
  server may put it there) it goes on from the server's position, an unrecovered gap.
- A server-made subscription whose resume is refused for good (not ``UNAVAILABLE``, a rate
  limit or an internal error, which reconnect and try again) ends, with the error frame.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ..errors import ConnectionLost, ErrorReply
from .subscription import Callback, Caller, Subscription, Unrecovered

log = structlog.get_logger("switchboard.client")

Request = Callable[[dict[str, Any], Callback | None], Awaitable[dict[str, Any]]]
Spawn = Callable[[Awaitable[Any]], None]
#: Error codes of a refused resume worth a reconnect (any other ends a server-made one).
RETRY_CODES = frozenset({"UNAVAILABLE", "RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR"})


class Subscriptions:
    """Channel -> :class:`Subscription`, and what the server's frames do to them."""

    def __init__(self, request: Request, call: Caller, spawn: Spawn, held_max: int) -> None:
        self.by_channel: dict[str, Subscription] = {}
        self.on_subscribe: list[Callable[[Subscription], Any]] = []
        self.on_unsubscribe: list[Callable[[Subscription, dict[str, Any]], Any]] = []
        self.held_max = held_max
        self._request = request
        self._call = call
        self._spawn = spawn

    def new(
        self,
        channel: str,
        on_message: Callback | None,
        on_unrecovered: Unrecovered | None = None,
        *,
        server: bool = False,
    ) -> Subscription:
        return Subscription(
            channel,
            on_message,
            on_unrecovered,
            server=server,
            held_max=self.held_max,
            call=self._call,
        )

    # --- the client's requests -----------------------------------------------------------------

    async def subscribe(self, subscription: Subscription, *, repair: bool = False) -> None:
        """Subscribe (again, with ``recover_from`` when it has a position)."""
        message: dict[str, Any] = {"type": "subscribe", "channel": subscription.channel}
        if subscription.epoch is not None and subscription.offset is not None:
            message["recover_from"] = {"offset": subscription.offset, "epoch": subscription.epoch}

        def acked(ack: dict[str, Any]) -> None:
            # In the reader, before the publications that follow the ack are read.
            if subscription._repairing is not None and not repair:
                # The server made it again meanwhile from past this client's position, and
                # this subscribe was allowed: unsubscribe and recover the gap.
                subscription._live = True
                self._spawn(self._repair(subscription))
                return
            subscription._repairing = None  # what it held comes again after this ack
            subscription._acked = subscription._live = True
            recovering = "recover_from" in message
            if recovering and "recovered" not in ack:
                return  # live already on this connection (the server made it, nothing missed)
            recovered = bool(ack.get("recovered"))
            if recovering and recovered:
                subscription.epoch = str(ack.get("epoch", ""))
            else:
                subscription.moved(int(ack.get("offset", 0)), str(ack.get("epoch", "")))
            if recovering and not recovered:
                self._unrecovered(subscription, ack)

        await self._request(message, acked)

    def connected(self) -> list[Subscription]:
        """A new connection: nothing is live on it yet; the subscriptions to resume."""
        for subscription in self.by_channel.values():
            subscription._live = False
            subscription._repairing = None
        return list(self.by_channel.values())

    async def resume(self, subscription: Subscription) -> None:
        """Subscribe again after a reconnect, from where it was (unless it is live already:
        the server made it again, or a first subscribe under way makes its own)."""
        if not subscription.active or not subscription._acked or subscription._live:
            return
        try:
            await self.subscribe(subscription)
        except ErrorReply as exc:
            if subscription._repairing is not None:
                self._keep_servers(subscription)
            elif subscription.server and exc.code not in RETRY_CODES:
                self.ended(subscription, exc.frame)
            else:
                raise

    async def _repair(self, subscription: Subscription) -> None:
        """Fill the gap between where the client was and where the server subscribed it."""
        try:
            await self._request({"type": "unsubscribe", "channel": subscription.channel}, None)
            await self.subscribe(subscription, repair=True)
        except ErrorReply as exc:
            if subscription.active:
                self.ended(subscription, exc.frame)
        except (ConnectionLost, TimeoutError):
            pass  # the next connection resumes it

    def _keep_servers(self, subscription: Subscription) -> None:
        """The client may not subscribe itself, but the server did: go on from the server's
        position; what was missed before it cannot be recovered."""
        held, subscription._repairing = subscription._repairing or [], None
        start = held.pop(0)  # the ``subscribed`` frame
        subscription._live = True
        subscription.offset = int(start.get("offset", 0))
        subscription.epoch = str(start.get("epoch", ""))
        self._unrecovered(subscription, start)
        for frame in held:
            subscription.deliver(frame)

    def _unrecovered(self, subscription: Subscription, frame: dict[str, Any]) -> None:
        subscription.unrecovered += 1
        log.info("client_unrecovered", channel=subscription.channel, server=subscription.server)
        if subscription.on_unrecovered is not None:
            self._call(subscription.on_unrecovered, subscription, frame)

    # --- the server's frames -------------------------------------------------------------------

    def message(self, frame: dict[str, Any]) -> None:
        subscription = self.by_channel.get(frame.get("channel", ""))
        if subscription is None:
            return
        if subscription._repairing is not None:
            subscription._repairing.append(frame)
        else:
            subscription.deliver(frame)

    def subscribed(self, frame: dict[str, Any]) -> None:
        """An unasked ``subscribed``: a new subscription, or one the client has already."""
        channel = str(frame.get("channel", ""))
        offset, epoch = int(frame.get("offset", 0)), str(frame.get("epoch", ""))
        subscription = self.by_channel.get(channel)
        if subscription is None:
            subscription = self.new(channel, None, server=True)
            subscription.offset, subscription.epoch = offset, epoch
            subscription._acked = subscription._live = True
            self.by_channel[channel] = subscription
            for callback in self.on_subscribe:
                self._call(callback, subscription)
            return
        if subscription._live or subscription._repairing is not None:
            return  # the same subscription, made again on top: its messages come once
        if not subscription._acked:  # the client's first subscribe is under way
            subscription.moved(offset, epoch)
            subscription._live = True
            return
        if subscription.epoch == epoch and (subscription.offset or 0) >= offset:
            subscription._live = True  # nothing missed: this is where it goes on
            return
        # Resumed from further back than the server's start: hold its messages until the
        # resume's answer says whether the client may fill the gap (see ``subscribe``).
        subscription._repairing = [frame]

    def unsubscribed(self, frame: dict[str, Any]) -> None:
        subscription = self.by_channel.get(str(frame.get("channel", "")))
        if subscription is not None:
            self.ended(subscription, frame)

    def ended(self, subscription: Subscription, frame: dict[str, Any]) -> None:
        """``subscription`` ended without the client asking (``frame`` says why)."""
        if self.by_channel.get(subscription.channel) is subscription:
            del self.by_channel[subscription.channel]
        subscription.active = False
        subscription._repairing = None
        if frame.get("type") == "error":  # (an ``unsubscribed`` is the server's plan)
            log.warning(
                "client_resume_refused",
                channel=subscription.channel,
                server=subscription.server,
                code=frame.get("code"),
            )
        for callback in self.on_unsubscribe:
            self._call(callback, subscription, frame)
