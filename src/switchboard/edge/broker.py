"""The edge node's broker: the central cluster, reached over the upstream connections.

What goes where (``docs/edge.md``):

- **Channels** are the central's. :meth:`UpstreamBroker.subscribe` makes one upstream
  subscription per channel, however many local clients follow it (the node's channels
  layer asks once per channel and fans out locally); publications arrive with their offsets
  and the epoch of the subscription's ack. ``publish`` is forwarded and answers the
  central's offset and epoch. Across an upstream reconnect the client resumes each channel
  from its last offset, so the local stream goes on with no gap.
- **Resume of a local client** is answered from what the edge kept of each followed channel
  (the last ``edge_history`` publications), else from the central itself with a one-off
  replay (``edge/replay.py``).
- **Broadcasts** go to the central, which sends them to every connection, the edge's
  included: the edge fans out the copy its primary upstream connection gets.
- **Direct messages** reach the target on this edge; when none is here they are forwarded as
  a ``send``. Disconnects, join/leave and server subscriptions stay on this edge (the
  central does not know the edge's clients). **Presence** is this edge's clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import structlog
from websockets.exceptions import WebSocketException

from ..broker.base import (
    Broker,
    BrokerHandler,
    Dispatch,
    DispatchKind,
    HistoryOptions,
    Publication,
    Recovery,
    StreamPosition,
    recovery,
)
from ..broker.memory import MemoryBroker
from ..client import Subscription
from ..errors import BrokerUnavailable, ErrorReply, RequestError
from ..protocol.codecs import DataFormat
from ..protocol.codes import ErrorCode
from .replay import replay
from .upstream import Upstream

log = structlog.get_logger("switchboard.edge")
_encode = msgspec.json.encode


def wire_data(data: bytes, data_format: DataFormat) -> Any:
    """Encoded ``data`` as the upstream's JSON client sends it: raw JSON untouched."""
    if data_format is DataFormat.JSON:
        return msgspec.Raw(data)
    return msgspec.msgpack.decode(data)


def request_error(exc: ErrorReply) -> RequestError:
    """The central's error frame, as the same error for the local client."""
    try:
        code = ErrorCode(exc.code)
    except ValueError:
        code = ErrorCode.INTERNAL_ERROR
    return RequestError(code, str(exc.frame.get("message", "")))


class _Followed:
    """A channel the edge follows upstream, and its latest publications."""

    __slots__ = ("early", "kept", "subscription")

    def __init__(self, size: int) -> None:
        #: The client's subscription, once its ``subscribe`` returned.
        self.subscription: Subscription | None = None
        #: Messages read right behind the ack, before ``subscribe`` returned.
        self.early: list[dict[str, Any]] = []
        self.kept: deque[Publication] = deque(maxlen=size)

    @property
    def position(self) -> StreamPosition:
        sub = self.subscription
        if sub is None:
            return StreamPosition(0, "")
        return StreamPosition(sub.offset or 0, sub.epoch or "")


class UpstreamBroker(Broker):
    """A :class:`Broker` over :class:`~switchboard.edge.upstream.Upstream` (module docstring)."""

    def __init__(self, upstream: Upstream, *, history: int = 1000) -> None:
        self.upstream = upstream
        self.history_size = history
        self._handler: BrokerHandler | None = None
        self._followed: dict[str, _Followed] = {}
        #: channel -> lock held while subscribing, unsubscribing or probing it upstream.
        self._locks: dict[str, list[Any]] = {}
        #: What this edge keeps to itself, in memory: presence of its own clients and the
        #: idempotency keys of its own management API (the embedded broker's).
        self._kept = MemoryBroker()
        #: Upstream resumes that could not recover (the central's history was too short).
        self.unrecovered = 0
        #: Called with a channel the central could not resume: its local subscribers missed
        #: publications (``switchboard edge`` makes them resubscribe; see ``docs/edge.md``).
        self.on_gap: Callable[[str], None] | None = None

    # --- life ----------------------------------------------------------------------------------

    async def start(self, handler: BrokerHandler) -> None:
        self._handler = handler
        self.upstream.on("broadcast", self._on_broadcast, primary=True)
        await self.upstream.start()

    async def close(self) -> None:
        await self.upstream.close()
        self._followed.clear()

    def healthy(self) -> bool:
        return self.upstream.up()

    # --- channels ------------------------------------------------------------------------------

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        # ``history`` is the central's to decide (its namespaces); the edge keeps none.
        ack = await self._ask(
            channel, "publish", channel=channel, data=wire_data(data, data_format)
        )
        return StreamPosition(int(ack.get("offset", 0)), str(ack.get("epoch", "")))

    async def subscribe(self, channel: str) -> None:
        async with self._lock(channel):
            if channel in self._followed:
                return
            client = self.upstream.client_for(channel)
            await self.upstream.ready(client)
            # In place before the request: what the reader passes on behind the ack waits.
            followed = self._followed[channel] = _Followed(self.history_size)
            try:
                subscription = await client.subscribe(
                    channel,
                    on_message=lambda frame: self._on_message(channel, frame),
                    on_unrecovered=self._on_unrecovered,
                )
            except BaseException as exc:
                self._followed.pop(channel, None)
                if isinstance(exc, ErrorReply):
                    raise request_error(exc) from None
                if isinstance(exc, Exception):  # ConnectionLost, a timeout
                    raise BrokerUnavailable(f"cannot subscribe upstream: {exc}") from None
                raise
            followed.subscription = subscription
            early, followed.early = followed.early, []
            for frame in early:
                self._on_message(channel, frame)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock(channel):
            if self._followed.pop(channel, None) is None:
                return
            try:
                await self.upstream.client_for(channel).unsubscribe(channel)
            except Exception as exc:  # gone with the connection anyway: not resubscribed
                log.info("edge_unsubscribe_failed", channel=channel, error=str(exc))

    async def position(self, channel: str) -> StreamPosition:
        followed = self._followed.get(channel)
        if followed is not None:
            return followed.position
        return await self._probe(channel)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        followed = self._followed.get(channel)
        if followed is not None:
            found = recovery(since, followed.position, list(followed.kept))
            if found.recovered:
                return found
        if followed is None or since.epoch == followed.position.epoch:
            return await self._replay(channel, since)
        return Recovery(False, followed.position)  # another epoch: nothing to recover

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        followed = self._followed.get(channel)
        if followed is None:
            return await self._probe(channel), []
        kept = list(followed.kept)
        return followed.position, kept[-limit:] if limit > 0 else []

    # --- dispatches ----------------------------------------------------------------------------

    async def dispatch(self, dispatch: Dispatch) -> int:
        kind = dispatch.kind
        if kind is DispatchKind.BROADCAST:
            data = wire_data(dispatch.data, dispatch.data_format)
            await self._ask("", "broadcast", data=data, primary=True)
            return 1
        reached = self._local(dispatch)
        if kind is not DispatchKind.DIRECT or reached:
            return reached
        # Nobody here: the central may have the target (as the edge's sender, see the docs).
        if dispatch.connection is None:
            to: dict[str, Any] = {"user": dispatch.user}
        else:
            to = {"connection": dispatch.connection}
        data = wire_data(dispatch.data, dispatch.data_format)
        try:  # on the sender's upstream connection: after what it forwarded before
            await self._ask(dispatch.sender, "send", to=to, data=data)
        except RequestError as exc:
            if exc.code is ErrorCode.NOT_FOUND:
                return 0
            raise
        return 1

    def _local(self, dispatch: Dispatch) -> int:
        return 0 if self._handler is None else self._handler.on_dispatch(dispatch)

    # --- presence: this edge's clients ---------------------------------------------------------

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        return await self._kept.claim(key, value, ttl)

    async def settle(self, key: str, value: bytes | None, ttl: float) -> None:
        await self._kept.settle(key, value, ttl)

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        await self._kept.add_presence(channel, client_id, info)

    async def remove_presence(self, channel: str, client_id: str) -> None:
        await self._kept.remove_presence(channel, client_id)

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        return await self._kept.presence(channel)

    # --- upstream frames -----------------------------------------------------------------------

    def _on_message(self, channel: str, frame: dict[str, Any]) -> None:
        followed = self._followed.get(channel)
        if followed is None or self._handler is None:
            return
        if followed.subscription is None:
            followed.early.append(frame)
            return
        publication = Publication(
            channel,
            int(frame.get("offset", 0)),
            followed.subscription.epoch or "",
            _encode(frame.get("data")),
        )
        followed.kept.append(publication)
        self._handler.on_publication(publication)

    def _on_unrecovered(self, subscription: Subscription, ack: dict[str, Any]) -> None:
        """The central could not resume a channel: local subscribers missed publications."""
        self.unrecovered += 1
        followed = self._followed.get(subscription.channel)
        if followed is not None:
            followed.kept.clear()  # no longer an unbroken run: resumes from it would lie
        log.warning(
            "edge_channel_unrecovered",
            channel=subscription.channel,
            offset=ack.get("offset"),
            epoch=ack.get("epoch"),
        )
        if self.on_gap is not None:
            self.on_gap(subscription.channel)

    def _on_broadcast(self, frame: dict[str, Any]) -> None:
        dispatch = Dispatch(DispatchKind.BROADCAST, data=_encode(frame.get("data")))
        self._local(dispatch)

    # --- helpers -------------------------------------------------------------------------------

    async def _ask(
        self, key: str, message_type: str, *, primary: bool = False, **fields: Any
    ) -> dict[str, Any]:
        """A request upstream; the central's error becomes the same error here."""
        try:
            if primary:
                await self.upstream.ready(self.upstream.primary)
                return await self.upstream.primary.request(message_type, **fields)
            return await self.upstream.request(key, message_type, **fields)
        except ErrorReply as exc:
            raise request_error(exc) from None
        except (TimeoutError, ConnectionError) as exc:
            raise BrokerUnavailable(f"the upstream did not answer: {exc}") from None

    async def _probe(self, channel: str) -> StreamPosition:
        """The position of a channel the edge does not follow: subscribe, read, leave."""
        async with self._lock(channel):
            # On the channel's own connection, under its lock: a subscription made
            # meanwhile on that connection would be undone by this unsubscribe.
            ack = await self._ask(channel, "subscribe", channel=channel)
            await self._ask(channel, "unsubscribe", channel=channel)
        return StreamPosition(int(ack.get("offset", 0)), str(ack.get("epoch", "")))

    async def _replay(self, channel: str, since: StreamPosition) -> Recovery:
        options = self.upstream.options
        try:
            return await replay(options.url, options.token, channel, since, options.timeout)
        except (OSError, TimeoutError, ErrorReply, WebSocketException) as exc:
            log.info("edge_replay_failed", channel=channel, error=str(exc))
            raise BrokerUnavailable("cannot read the channel's history upstream") from None

    @contextlib.asynccontextmanager
    async def _lock(self, channel: str) -> AsyncIterator[None]:
        """Hold ``channel``'s lock; it is forgotten once nobody holds or waits for it."""
        entry = self._locks.get(channel)
        if entry is None:
            entry = self._locks[channel] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._locks[channel]
