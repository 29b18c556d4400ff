"""The embedded in-memory broker: one process, no other service, same contract as Redis.

History is bounded per channel (``history_size`` publications for ``history_ttl``) and across
all channels (``max_history_bytes``): past the global bound the oldest publications of the
whole node are evicted first, whichever channel holds them, so channels nobody follows
cannot hold memory for their TTL. A channel that lost publications this way recovers like
one whose history expired: the client is told to resync (``recovered`` false).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from typing import Any

from ..protocol.codecs import DataFormat
from .base import (
    Broker,
    BrokerHandler,
    Dispatch,
    HistoryOptions,
    HistoryUsage,
    NodeInfo,
    Publication,
    Recovery,
    StreamPosition,
    recovery,
)


class _Stream:
    """One channel's offsets, epoch and bounded history."""

    __slots__ = ("epoch", "expires_at", "items", "top")

    def __init__(self) -> None:
        self.epoch = secrets.token_urlsafe(6)
        self.top = 0
        self.items: deque[tuple[Publication, float]] = deque()
        self.expires_at = float("inf")


def weight(publication: Publication) -> int:
    """What keeping a publication costs, for the global bound: its data and the objects
    around it (the Publication, its tuple and deque slot: about 200 bytes on CPython)."""
    return len(publication.data) + len(publication.channel) + 200


#: A channel without history keeps counting offsets while it is in use; once it has been
#: quiet this long its counter is dropped (the next publication starts a new epoch).
IDLE_STREAM_TTL = 300.0
#: Expired streams are swept every this many publications, so channels used once do not pile up.
SWEEP_EVERY = 1024
#: Claims kept at most; past it the oldest is forgotten first (each lives for its TTL anyway).
MAX_CLAIMS = 100_000


class MemoryBroker(Broker):
    """Publications and dispatches are delivered in the caller's call, in order, to this node."""

    def __init__(self, clock: Any = time.monotonic, max_history_bytes: int = 0) -> None:
        self._clock = clock
        #: Bytes of history kept across all channels at most (0: no global bound).
        self.max_history_bytes = max_history_bytes
        self.history_bytes = 0
        #: Publications evicted to keep the global bound.
        self.history_evicted = 0
        #: Every kept publication, oldest first, with its stream: eviction order. Entries whose
        #: publication already left its stream (size bound, TTL) are skipped when reached.
        self._kept: deque[tuple[_Stream, Publication]] = deque()
        #: Publications kept in streams (``_kept`` minus its skipped entries).
        self._kept_live = 0
        self._until_sweep = SWEEP_EVERY
        self._handler: BrokerHandler | None = None
        self._subscribed: set[str] = set()
        self._streams: dict[str, _Stream] = {}
        self._presence: dict[str, dict[str, dict[str, Any]]] = {}
        #: The node registry of one process: this node, once it announced itself.
        self._announced: NodeInfo | None = None
        #: Claimed keys -> (value, expiry), oldest claim first.
        self._claims: dict[str, tuple[bytes, float]] = {}

    async def start(self, handler: BrokerHandler) -> None:
        self._handler = handler

    async def close(self) -> None:
        self._handler = None
        self._subscribed.clear()

    async def publish(
        self,
        channel: str,
        data: bytes,
        history: HistoryOptions,
        data_format: DataFormat = DataFormat.JSON,
    ) -> StreamPosition:
        stream = self._stream(channel, create=True)
        assert stream is not None
        now = self._clock()
        stream.top += 1
        publication = Publication(channel, stream.top, stream.epoch, data, data_format)
        if history.enabled:
            stream.items.append((publication, now + history.ttl))
            self._kept_add(stream, publication)
            while len(stream.items) > history.size:
                self._drop_oldest(stream)
            # The stream itself is forgotten once its newest message would have expired.
            stream.expires_at = now + max(history.ttl, IDLE_STREAM_TTL)
        else:
            stream.expires_at = now + IDLE_STREAM_TTL
        self._until_sweep -= 1
        if not self._until_sweep:
            self._sweep(now)
        if self._handler is not None and channel in self._subscribed:
            self._handler.on_publication(publication)
        return StreamPosition(stream.top, stream.epoch)

    async def dispatch(self, dispatch: Dispatch) -> int:
        handler = self._handler
        return 0 if handler is None else handler.on_dispatch(dispatch)

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def position(self, channel: str) -> StreamPosition:
        stream = self._stream(channel, create=True)
        assert stream is not None
        return StreamPosition(stream.top, stream.epoch)

    async def recover(self, channel: str, since: StreamPosition) -> Recovery:
        stream = self._stream(channel, create=True)
        assert stream is not None
        now = self._clock()
        kept = [pub for pub, expires in stream.items if expires > now]
        return recovery(since, StreamPosition(stream.top, stream.epoch), kept)

    async def history(self, channel: str, limit: int) -> tuple[StreamPosition, list[Publication]]:
        stream = self._stream(channel, create=False)
        if stream is None:
            return StreamPosition(0, ""), []
        now = self._clock()
        kept = [pub for pub, expires in stream.items if expires > now]
        return StreamPosition(stream.top, stream.epoch), kept[-limit:] if limit > 0 else []

    async def add_presence(self, channel: str, client_id: str, info: dict[str, Any]) -> None:
        self._presence.setdefault(channel, {})[client_id] = dict(info)

    async def remove_presence(self, channel: str, client_id: str) -> None:
        members = self._presence.get(channel)
        if members is not None:
            members.pop(client_id, None)
            if not members:
                del self._presence[channel]

    async def presence(self, channel: str) -> dict[str, dict[str, Any]]:
        return {cid: dict(info) for cid, info in self._presence.get(channel, {}).items()}

    async def claim(self, key: str, value: bytes, ttl: float) -> bytes | None:
        now = self._clock()
        claims = self._claims
        held = claims.get(key)
        if held is not None and held[1] > now:
            return held[0]
        claims.pop(key, None)  # re-inserted last: the order stays oldest claim first
        claims[key] = (value, now + ttl)
        # Expired claims are dropped from the oldest on; past the bound, the oldest goes.
        while claims:
            oldest = next(iter(claims))
            if claims[oldest][1] > now and len(claims) <= MAX_CLAIMS:
                break
            del claims[oldest]
        return None

    async def settle(self, key: str, value: bytes | None, ttl: float) -> None:
        if value is None:
            self._claims.pop(key, None)
        else:
            self._claims[key] = (value, self._clock() + ttl)

    def announce(self, info: NodeInfo) -> None:
        self._announced = info

    async def nodes(self) -> list[NodeInfo]:
        return [] if self._announced is None else [self._announced]

    def history_usage(self) -> HistoryUsage:
        return HistoryUsage(self.history_bytes, self.max_history_bytes, self.history_evicted)

    # --- the global history bound -------------------------------------------------------------

    def _kept_add(self, stream: _Stream, publication: Publication) -> None:
        self.history_bytes += weight(publication)
        self._kept.append((stream, publication))
        self._kept_live += 1
        limit = self.max_history_bytes
        if limit and self.history_bytes > limit:
            self._evict(limit)
        if len(self._kept) > 2 * self._kept_live + 1024:
            self._compact()

    def _drop_oldest(self, stream: _Stream) -> None:
        """Remove ``stream``'s oldest kept publication (its own size bound or eviction)."""
        publication, _ = stream.items.popleft()
        self.history_bytes -= weight(publication)
        self._kept_live -= 1

    def _evict(self, limit: int) -> None:
        """Drop the node's oldest publications until the history fits in ``limit`` bytes."""
        kept = self._kept
        while self.history_bytes > limit and kept:
            stream, publication = kept.popleft()
            if stream.items and stream.items[0][0] is publication:
                self._drop_oldest(stream)
                self.history_evicted += 1

    def _compact(self) -> None:
        """Forget eviction entries whose publication is gone (so the queue stays bounded):
        linear, and run once the queue is twice what is kept, so amortised constant."""
        live = {id(pub) for s in self._streams.values() for pub, _ in s.items}
        self._kept = deque(entry for entry in self._kept if id(entry[1]) in live)

    def _forget(self, channel: str) -> None:
        """Drop a channel's stream; its history is emptied, so the eviction queue's entries
        for it are skipped when reached."""
        items = self._streams.pop(channel).items
        self.history_bytes -= sum(weight(publication) for publication, _ in items)
        self._kept_live -= len(items)
        items.clear()

    def _sweep(self, now: float) -> None:
        self._until_sweep = SWEEP_EVERY
        for channel in [c for c, s in self._streams.items() if s.expires_at <= now]:
            self._forget(channel)

    def _stream(self, channel: str, *, create: bool) -> _Stream | None:
        stream = self._streams.get(channel)
        if stream is not None and stream.expires_at <= self._clock():
            # History fully expired: the offsets it vouched for are gone, start a new epoch.
            self._forget(channel)
            stream = None
        if stream is None and create:
            stream = self._streams[channel] = _Stream()
        return stream
